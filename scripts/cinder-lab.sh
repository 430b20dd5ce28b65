#!/usr/bin/env bash
# A real OpenStack Cinder (Debian's Zed packages) for tests: cinder-api, cinder-scheduler and
# cinder-volume with two RBD backends on two Ceph clusters from scripts/ceph-lab.sh, a private
# PostgreSQL and a private RabbitMQ, and a real Keystone (scripts/keystone-lab.sh: fernet tokens, its own
# database, uwsgi) that Cinder checks tokens with; CINDER_LAB_AUTH=noauth starts Cinder with
# auth_strategy = noauth and no Keystone instead. Everything lives in DIR; nothing is installed as a service.
#
#   scripts/cinder-lab.sh install                    apt packages (idempotent)
#   scripts/cinder-lab.sh start DIR CEPH_A CEPH_B    CEPH_A/CEPH_B: dirs of two running ceph-lab clusters;
#                                                    backends ceph-a and ceph-b, volume types of those
#                                                    names; writes DIR/cinder.env
#   scripts/cinder-lab.sh stop DIR                   stops everything by PID and removes DIR
#   scripts/cinder-lab.sh stop-api DIR               takes cinder-api down (scheduler, volume stay up)
#   scripts/cinder-lab.sh start-api DIR              brings it back; waits until it answers
#   scripts/cinder-lab.sh start-keystone-expiring DIR SECONDS
#                                                    a second Keystone (same database and keys) on
#                                                    KEYSTONE_PORT+1 whose tokens live SECONDS
#   scripts/cinder-lab.sh stop-keystone-expiring DIR ends it
#
# Ports: BASE (CINDER_LAB_BASE, default 31000; moved up by 100 while any of them is taken) +0 PostgreSQL,
# +1 AMQP, +2 Erlang distribution, +3 epmd, +4..+13 rabbitmqctl, +14 Keystone, +15 the expiring Keystone, +20 the Cinder API,
# +21..+25 the catalog's other volumev3 endpoints (nothing listens there); all on 127.0.0.1, but
# cinder-api listens on CINDER_LAB_API_LISTEN when set (e.g. 0.0.0.0: the test's netns and a guest
# on its bridge; scripts/guest/scenarios/tether-reboot-cinder.host).
# Run inside a private network namespace (`unshare -n`, `ip link set lo up`) that also holds the Ceph
# clusters. Recipe and pitfalls: docs/LAB.md, "OpenStack Cinder". Up in ~8-16 s (Keystone adds ~20 s:
# its schema, keys and catalog are made while Cinder's services start), down in ~2-6 s.
# A failed start prints the relevant log tails, ends what it started and leaves DIR (logs) for `stop`.
#
# DIR/cinder.env: CINDER_ENDPOINT (http://127.0.0.1:PORT), CINDER_URL (.../v3/PROJECT_ID), PROJECT_ID
# (noauth: CINDER_LAB_PROJECT, default a fixed hex id; keystone: the admin project's id), AUTH (keystone
# or noauth), ADMIN_HEADER (a 0600 file with the admin's "X-Auth-Token: ..." line for curl -H @FILE),
# TOKEN (noauth only: "admin:PROJECT_ID"), API_PORT,
# VOLUME_TYPE_A/_B, BACKEND_A/_B (host@backend#pool), CLUSTER_A/_B (rbd_cluster_name: ceph-a, ceph-b),
# SECRET_UUID_A/_B (rbd_secret_uuid), CEPH_CONF_A/_B (the client confs), CINDER_CONF, CINDER_LOG_DIR,
# DB_URL, TRANSPORT_URL, PG_PORT, AMQP_PORT, EPMD_PORT, and the PIDs EPMD_PID, RABBIT_PID, PG_PID,
# SCHEDULER_PID, VOLUME_PID, API_PID. With Keystone also KEYSTONE_URL, KEYSTONE_PORT, KEYSTONE_PID,
# TETHER_USER, TETHER_PASSWORD_FILE, APPCRED_ID, APPCRED_SECRET_FILE (0600 files),
# KEYSTONE_ENDPOINT_PORTS (REGION/INTERFACE=PORT,...).
set -euo pipefail
# shellcheck source=scripts/keystone-lab.sh
. "$(dirname "$0")/keystone-lab.sh"

PGBIN=/usr/lib/postgresql/15/bin
RABBIT_BIN=/usr/lib/rabbitmq/bin
PY=/usr/bin/python3
# Fixed ids: tests may hard-code them, and a libvirt secret per cluster may use these UUIDs.
PROJECT_ID=${CINDER_LAB_PROJECT:-7e7e0000c1de4000a000000000000001}
AUTH=${CINDER_LAB_AUTH:-keystone}
SECRET_UUID_A=aaaaaaaa-7e7e-4c1d-8000-0000000000a1
SECRET_UUID_B=bbbbbbbb-7e7e-4c1d-8000-0000000000b2
HOSTNAME_CINDER=cinder-lab

install() {
    "$(dirname "$0")/packages.sh" install cinder
}

# --- helpers --------------------------------------------------------------------------------

log() { echo "cinder-lab: $*" >&2; }

# alive PID: the process exists and is not a zombie (orphans wait ~2 s for PID 1 to reap them).
alive() {
    local line st
    [ -n "${1:-}" ] || return 1
    read -r line 2>/dev/null <"/proc/$1/stat" || return 1
    st=${line##*) }
    st=${st%% *}
    [ -n "$st" ] && [ "$st" != Z ]
}

# descendants PID...: every process below the given ones (one ps snapshot, no name matching).
descendants() {
    ps -eo pid=,ppid= | awk -v roots="$*" '
        BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) want[r[i]] = 1 }
        { parent[$1] = $2 }
        END {
            do {
                added = 0
                for (p in parent) if (!(p in want) && (parent[p] in want)) { want[p] = 1; added = 1; print p }
            } while (added)
        }'
}

envget() { sed -n "s/^$2=//p" "$1" | tail -n1; }

port_free() { ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

tails() {
    local f
    for f in "$@"; do
        [ -f "$f" ] || continue
        echo "----- tail $f" >&2
        tail -n 40 "$f" >&2
    done
}

# api METHOD PATH [JSON]: a request to the lab Cinder as admin; prints the body, fails on >= 400.
api() {
    local method=$1 path=$2 data=${3:-}
    # The token from a file: never on a command line.
    local args=(-sS -f --noproxy '*' --max-time 30 -X "$method" -H "@$DIR/admin.header"
                -H 'Accept: application/json' -H 'OpenStack-API-Version: volume 3.0')
    [ -n "$data" ] && args+=(-H 'Content-Type: application/json' -d "$data")
    curl "${args[@]}" "http://127.0.0.1:$API_PORT/v3/$PROJECT_ID$path"
}

# wait_for SECONDS WHAT CMD...: runs CMD every 0.2 s until it succeeds or SECONDS pass. CMD's output
# is dropped; fd 9 is the real stderr meanwhile (for `log ... 2>&9`), and only meanwhile: a daemon
# must not inherit it, or a caller that reads our stderr through a pipe never sees it close.
wait_for() {
    local secs=$1 what=$2
    shift 2
    local end=$((SECONDS + secs))
    while ! "$@" 9>&2 >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$end" ]; then
            log "timed out after ${secs}s waiting for $what"
            return 1
        fi
        sleep 0.2
    done
}

# daemon CMD...: exec CMD (a function or program) with no file descriptor of ours beyond 0-2: a daemon
# holding a pipe of the caller's (its stdout, a test runner's log pipe) would keep that open forever.
daemon() {
    local fd
    for fd in /proc/"$BASHPID"/fd/*; do
        fd=${fd##*/}
        [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null
    done
    "$@"
}

# record NAME PID: a daemon for stop (and a failed start) to end. Disowned: bash reaps it without
# printing "Killed" notices when a failed start kills it.
record() {
    echo "$1=$2" >>"$DIR/pids"
    disown "$2" 2>/dev/null || true
}

# phase WHAT: notes in DIR/log/start.log how long start took to get here.
phase() { echo "$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%6.2f", b - a }') s  $*" >>"$DIR/log/start.log"; }

# as_postgres CMD...: PostgreSQL refuses to run as root. Run it as user postgres, keeping only
# CAP_DAC_READ_SEARCH so that it can reach DIR/pg below private (0700, root-owned) parents such as
# a `mktemp -d` directory.
as_postgres() {
    exec setpriv --reuid=postgres --regid=postgres --init-groups \
        --inh-caps +dac_read_search --ambient-caps +dac_read_search "$@"
}

# run_cinder CMD...: a Cinder program with our config; PYTHONWARNINGS silences hundreds of lines of
# oslo.policy deprecation warnings per process.
run_cinder() {
    local prog=$1
    shift
    PYTHONWARNINGS=ignore exec "$prog" --config-file "$DIR/cinder.conf" "$@"
}

rabbit_env() {
    export HOME=$DIR/rabbit/home
    export RABBITMQ_NODENAME=rabbit@localhost
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    export RABBITMQ_NODE_PORT=$AMQP_PORT
    export RABBITMQ_DIST_PORT=$DIST_PORT
    export ERL_EPMD_ADDRESS=127.0.0.1
    export ERL_EPMD_PORT=$EPMD_PORT
    export RABBITMQ_CTL_DIST_PORT_MIN=$CTL_PORT_MIN
    export RABBITMQ_CTL_DIST_PORT_MAX=$CTL_PORT_MAX
    export RABBITMQ_MNESIA_BASE=$DIR/rabbit/mnesia
    export RABBITMQ_LOG_BASE=$DIR/rabbit/log
    export RABBITMQ_CONFIG_FILE=$DIR/rabbit/rabbitmq.conf
    export RABBITMQ_ADVANCED_CONFIG_FILE=$DIR/rabbit/advanced.config
    export RABBITMQ_ENABLED_PLUGINS_FILE=$DIR/rabbit/enabled_plugins
    export RABBITMQ_CONF_ENV_FILE=$DIR/rabbit/rabbitmq-env.conf
    export RABBITMQ_PID_FILE=$DIR/rabbit/rabbit.pid
    # A crashing Erlang VM writes its dump to the working directory: the caller's, else.
    export ERL_CRASH_DUMP=$DIR/rabbit/log/erl_crash.dump
    # The distribution port listens on 0.0.0.0 unless told otherwise.
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

# rabbitmqctl SECONDS ARGS...: the lab node's rabbitmqctl, bounded.
rabbitmqctl() {
    local secs=$1
    shift
    (rabbit_env; exec timeout "$secs" "$RABBIT_BIN/rabbitmqctl" -q "$@")
}

# --- start ----------------------------------------------------------------------------------

# cluster_conf NAME CEPH_DIR: a client conf for Cinder's RBD driver and its `ceph mon dump`.
cluster_conf() {
    local name=$1 cdir=$2 env=$2/cluster.env
    [ -f "$env" ] || { log "$env missing: start the cluster with scripts/ceph-lab.sh first"; exit 1; }
    local fsid v2 v1 keyring
    fsid=$(envget "$env" FSID)
    v2=$(envget "$env" MON_V2)
    v1=$(envget "$env" MON_V1)
    keyring=$(envget "$env" CINDER_KEYRING)
    # ceph-lab writes the paths it was given; a relative one is that cluster dir's cinder.keyring.
    case $keyring in /*) ;; *) keyring=$cdir/$(basename "$keyring") ;; esac
    if [ -z "$fsid" ] || [ -z "$v2" ] || [ -z "$v1" ] || [ ! -f "$keyring" ]; then
        log "$env lacks FSID/MON_V2/MON_V1/CINDER_KEYRING"
        exit 1
    fi
    cat >"$DIR/ceph/$name.conf" <<CONF
[global]
fsid = $fsid
mon host = [v2:$v2,v1:$v1]
run dir = $DIR/run
client mount timeout = 20
log file = $DIR/log/ceph-\$cluster-\$name.log
[client.cinder]
keyring = $keyring
CONF
}

choose_ports() {
    local base=${CINDER_LAB_BASE:-31000} p ok
    for _ in $(seq 0 20); do
        ok=1
        for p in $(seq "$base" $((base + 25))); do
            port_free "$p" || { ok=0; break; }
        done
        [ "$ok" = 1 ] && break
        base=$((base + 100))
    done
    [ "$ok" = 1 ] || { log "no free port range found"; exit 1; }
    PG_PORT=$base
    AMQP_PORT=$((base + 1))
    DIST_PORT=$((base + 2))
    EPMD_PORT=$((base + 3))
    CTL_PORT_MIN=$((base + 4))
    CTL_PORT_MAX=$((base + 13))
    KEYSTONE_PORT=$((base + 14))
    API_PORT=$((base + 20))
    ENDPOINT_BASE=$((base + 21))
}

start_failed() {
    local rc=$?
    trap - ERR EXIT
    [ "$rc" = 0 ] && return 0
    log "start failed (exit $rc); logs in $DIR/log, stopping what was started"
    tails "$DIR/log/postgres.log" "$DIR/log/rabbitmq.out" "$DIR/log/db-sync.log" \
          "$DIR/log/cinder-scheduler.out" "$DIR/log/cinder-scheduler.log" \
          "$DIR/log/cinder-volume.out" "$DIR/log/cinder-volume.log" \
          "$DIR/log/cinder-api.out" "$DIR/log/cinder-api.log" \
          "$DIR/keystone/log/db-sync.log" "$DIR/keystone/log/uwsgi.out" "$DIR/keystone/log/keystone.log"
    local p
    # shellcheck disable=SC2046 # PIDs
    for p in ${CHECK_PIDS[@]+"${CHECK_PIDS[@]}"}; do
        kill -KILL "$p" $(descendants "$p") 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    if [ -n "${KS_SETUP_PID:-}" ]; then
        # shellcheck disable=SC2046 # PIDs
        kill -KILL "$KS_SETUP_PID" $(descendants "$KS_SETUP_PID") 2>/dev/null || true
        wait "$KS_SETUP_PID" 2>/dev/null || true
    fi
    if [ -n "${AWAIT_PID:-}" ]; then
        # shellcheck disable=SC2046 # PIDs
        kill -KILL "$AWAIT_PID" $(descendants "$AWAIT_PID") 2>/dev/null || true
        wait "$AWAIT_PID" 2>/dev/null || true
    fi
    unset CINDER_LAB_DIR
    kill_all "$DIR"
    exit "$rc"
}

start() {
    DIR=$1
    T0=$EPOCHREALTIME
    local ceph_a=$2 ceph_b=$3
    [ -x "$PGBIN/postgres" ] || { log "$PGBIN/postgres missing: run scripts/cinder-lab.sh install"; exit 1; }
    command -v cinder-volume >/dev/null || { log "cinder missing: run scripts/cinder-lab.sh install"; exit 1; }
    ip link set lo up 2>/dev/null || true
    if [ -s "$DIR/pids" ]; then
        log "$DIR holds a lab already: scripts/cinder-lab.sh stop $DIR first"
        exit 1
    fi
    mkdir -p "$DIR"/{log,run,ceph,state,lock,coord,pg,rabbit/home,rabbit/mnesia,rabbit/log}
    DIR=$(cd "$DIR" && pwd)
    : >"$DIR/pids"
    # Every process of this lab inherits this marker: stop kills only processes that carry it, never a
    # process that merely got a recorded PID again.
    export CINDER_LAB_DIR=$DIR
    AWAIT_PID=
    KS_SETUP_PID=
    CHECK_PIDS=()
    case $AUTH in keystone | noauth) ;; *) log "CINDER_LAB_AUTH=$AUTH is not keystone or noauth"; exit 64 ;; esac
    trap start_failed ERR EXIT
    chmod 700 "$DIR"
    chown postgres: "$DIR/pg"
    chmod 700 "$DIR/pg"
    ceph_a=$(cd "$ceph_a" && pwd)
    ceph_b=$(cd "$ceph_b" && pwd)
    choose_ports
    cluster_conf ceph-a "$ceph_a"
    cluster_conf ceph-b "$ceph_b"
    # Both clusters must answer client.cinder: checked meanwhile, as a dead cluster would otherwise
    # surface only after the RBD driver's connection retries (3 x 20 s).
    local name
    CHECK_PIDS=()
    for name in ceph-a ceph-b; do
        timeout 20 rbd --cluster "$name" -c "$DIR/ceph/$name.conf" --id cinder --client_mount_timeout 15 \
            ls rbd </dev/null >"$DIR/log/check-$name.out" 2>&1 &
        CHECK_PIDS+=($!)
    done

    # RabbitMQ boots in 5-9 s: start it first, do PostgreSQL and the schema meanwhile. epmd runs in
    # the foreground as our child (else erl daemonizes one that nobody stops).
    printf '%s' "cinder-lab-$(uuidgen | tr -d -)" >"$DIR/rabbit/home/.erlang.cookie"
    chmod 400 "$DIR/rabbit/home/.erlang.cookie"
    echo '[].' >"$DIR/rabbit/enabled_plugins"
    : >"$DIR/rabbit/rabbitmq-env.conf"
    cat >"$DIR/rabbit/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$AMQP_PORT
loopback_users.guest = true
log.console = false
log.file.level = info
CONF
    (daemon exec epmd -address 127.0.0.1 -port "$EPMD_PORT") </dev/null >"$DIR/log/epmd.out" 2>&1 &
    record EPMD_PID $!
    wait_for 10 epmd bash -c "exec 3<>/dev/tcp/127.0.0.1/$EPMD_PORT" || exit 1
    (rabbit_env; daemon exec "$RABBIT_BIN/rabbitmq-server") </dev/null >"$DIR/log/rabbitmq.out" 2>&1 &
    record RABBIT_PID $!
    # await_startup fails at once while the node is not yet registered with epmd: wait for that first.
    (wait_for 60 "rabbit in epmd" rabbit_registered && rabbitmqctl 90 await_startup) \
        </dev/null >"$DIR/log/rabbitmq-await.out" 2>&1 &
    AWAIT_PID=$!

    (as_postgres "$PGBIN/initdb" -D "$DIR/pg/data" -A trust -U postgres --no-locale -E UTF8 --no-sync) \
        >"$DIR/log/initdb.log" 2>&1 || { tails "$DIR/log/initdb.log"; exit 1; }
    mkdir -p "$DIR/pg/sock"
    chown postgres: "$DIR/pg/sock"
    (daemon as_postgres "$PGBIN/postgres" -D "$DIR/pg/data" -p "$PG_PORT" -c listen_addresses=127.0.0.1 \
        -c unix_socket_directories="$DIR/pg/sock" -c fsync=off -c synchronous_commit=off \
        -c full_page_writes=off -c max_connections=200 -c shared_buffers=32MB) \
        </dev/null >"$DIR/log/postgres.log" 2>&1 &
    record PG_PID $!
    wait_for 30 postgres "$PGBIN/pg_isready" -q -U postgres -h 127.0.0.1 -p "$PG_PORT" || exit 1
    phase "postgres ready"
    local i=0
    for name in ceph-a ceph-b; do
        if ! wait "${CHECK_PIDS[$i]}"; then
            log "cluster $name does not answer client.cinder (from $([ $i = 0 ] && echo "$ceph_a" || echo "$ceph_b"))"
            tails "$DIR/log/check-$name.out"
            exit 1
        fi
        i=$((i + 1))
    done
    CHECK_PIDS=()
    timeout 30 "$PGBIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres cinder
    if [ "$AUTH" = keystone ]; then
        timeout 30 "$PGBIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres keystone
        keystone_conf
        # Keystone's schema and keys meanwhile: Cinder's schema does not need them.
        (keystone_up) </dev/null >"$DIR/log/keystone-setup.out" 2>&1 &
        KS_SETUP_PID=$!
    else
        (umask 077; echo "X-Auth-Token: admin:$PROJECT_ID" >"$DIR/admin.header")
    fi
    local db_url="postgresql+psycopg2://postgres@127.0.0.1:$PG_PORT/cinder"
    local transport="rabbit://guest:guest@127.0.0.1:$AMQP_PORT/"

    cp /etc/cinder/api-paste.ini "$DIR/api-paste.ini"
    cp /etc/cinder/resource_filters.json "$DIR/resource_filters.json"
    local conf=$DIR/cinder.conf
    cat >"$conf" <<CONF
[DEFAULT]
host = $HOSTNAME_CINDER
my_ip = 127.0.0.1
auth_strategy = $AUTH
transport_url = $transport
osapi_volume_listen = ${CINDER_LAB_API_LISTEN:-127.0.0.1}
osapi_volume_listen_port = $API_PORT
osapi_volume_workers = 1
state_path = $DIR/state
log_dir = $DIR/log
api_paste_config = $DIR/api-paste.ini
resource_query_filters_file = $DIR/resource_filters.json
enabled_backends = ceph-a,ceph-b
default_volume_type = ceph-a
use_stderr = false
graceful_shutdown_timeout = 5

[database]
connection = $db_url

[oslo_concurrency]
lock_path = $DIR/lock

[coordination]
backend_url = file://$DIR/coord

[ceph-a]
volume_driver = cinder.volume.drivers.rbd.RBDDriver
volume_backend_name = ceph-a
backend_host = $HOSTNAME_CINDER
rbd_cluster_name = ceph-a
rbd_ceph_conf = $DIR/ceph/ceph-a.conf
rbd_user = cinder
rbd_pool = rbd
rbd_secret_uuid = $SECRET_UUID_A
rbd_exclusive_cinder_pool = true
rados_connect_timeout = 20

[ceph-b]
volume_driver = cinder.volume.drivers.rbd.RBDDriver
volume_backend_name = ceph-b
backend_host = $HOSTNAME_CINDER
rbd_cluster_name = ceph-b
rbd_ceph_conf = $DIR/ceph/ceph-b.conf
rbd_user = cinder
rbd_pool = rbd
rbd_secret_uuid = $SECRET_UUID_B
rbd_exclusive_cinder_pool = true
rados_connect_timeout = 20
CONF
    [ "$AUTH" = keystone ] && keystone_cinder_conf >>"$conf"
    chmod 600 "$conf"
    (timeout 120 env PYTHONWARNINGS=ignore cinder-manage --config-file "$conf" db sync) >"$DIR/log/db-sync.log" 2>&1 ||
        { log "cinder-manage db sync failed"; exit 1; }
    phase "db sync done"

    if ! wait "$AWAIT_PID"; then
        log "RabbitMQ did not start"
        tails "$DIR/log/rabbitmq-await.out" "$DIR/rabbit/log/rabbit@localhost.log"
        exit 1
    fi
    phase "rabbitmq ready"

    # The scheduler first, and consuming, before cinder-volume: else the backends' capabilities can
    # miss it and it answers "No valid backend" for 60 s.
    (daemon run_cinder cinder-scheduler) </dev/null >"$DIR/log/cinder-scheduler.out" 2>&1 &
    record SCHEDULER_PID $!
    wait_for 60 "cinder-scheduler to consume" scheduler_consuming || exit 1
    phase "cinder-scheduler consuming"
    (daemon run_cinder cinder-volume) </dev/null >"$DIR/log/cinder-volume.out" 2>&1 &
    record VOLUME_PID $!
    (daemon run_cinder cinder-api) </dev/null >"$DIR/log/cinder-api.out" 2>&1 &
    record API_PID $!

    wait_for 60 "cinder-api on 127.0.0.1:$API_PORT" api_answers || exit 1
    phase "cinder-api answers"
    if [ "$AUTH" = keystone ]; then
        wait "$KS_SETUP_PID" || { log "keystone did not come up"; tails "$DIR/log/keystone-setup.out"; exit 1; }
        KS_SETUP_PID=
        PROJECT_ID=$(envget "$DIR/keystone/keystone.env" PROJECT_ID)
        cp "$DIR/keystone/admin.header" "$DIR/admin.header"
    fi
    wait_for 90 "cinder services up" services_up || { api GET /os-services >&2 || true; exit 1; }
    phase "services up"
    wait_for 90 "both pools in get_pools" pools_listed || { api GET /scheduler-stats/get_pools >&2 || true; exit 1; }
    phase "pools listed"

    local t
    for t in ceph-a ceph-b; do
        api POST /types "{\"volume_type\":{\"name\":\"$t\",\"extra_specs\":{\"volume_backend_name\":\"$t\"}}}" >/dev/null
    done

    {
        echo "CINDER_ENDPOINT=http://127.0.0.1:$API_PORT"
        echo "CINDER_URL=http://127.0.0.1:$API_PORT/v3/$PROJECT_ID"
        echo "PROJECT_ID=$PROJECT_ID"
        echo "AUTH=$AUTH"
        echo "ADMIN_HEADER=$DIR/admin.header"
        if [ "$AUTH" = keystone ]; then
            echo "KEYSTONE_URL=http://127.0.0.1:$KEYSTONE_PORT/v3"
            echo "KEYSTONE_PORT=$KEYSTONE_PORT"
            echo "TETHER_USER=tether"
            echo "TETHER_PASSWORD_FILE=$DIR/keystone/tether.password"
            echo "APPCRED_ID=$(envget "$DIR/keystone/keystone.env" KEYSTONE_APPCRED_ID)"
            echo "APPCRED_SECRET_FILE=$DIR/keystone/tether.appcred"
            echo "KEYSTONE_ENDPOINT_PORTS=$(envget "$DIR/keystone/keystone.env" KEYSTONE_ENDPOINT_PORTS)"
        else
            echo "TOKEN=admin:$PROJECT_ID"
        fi
        echo "API_PORT=$API_PORT"
        echo "VOLUME_TYPE_A=ceph-a"
        echo "VOLUME_TYPE_B=ceph-b"
        echo "BACKEND_A=$HOSTNAME_CINDER@ceph-a#ceph-a"
        echo "BACKEND_B=$HOSTNAME_CINDER@ceph-b#ceph-b"
        echo "CLUSTER_A=ceph-a"
        echo "CLUSTER_B=ceph-b"
        echo "SECRET_UUID_A=$SECRET_UUID_A"
        echo "SECRET_UUID_B=$SECRET_UUID_B"
        echo "CEPH_CONF_A=$DIR/ceph/ceph-a.conf"
        echo "CEPH_CONF_B=$DIR/ceph/ceph-b.conf"
        echo "CINDER_CONF=$conf"
        echo "CINDER_LOG_DIR=$DIR/log"
        echo "DB_URL=$db_url"
        echo "TRANSPORT_URL=$transport"
        echo "PG_PORT=$PG_PORT"
        echo "AMQP_PORT=$AMQP_PORT"
        echo "EPMD_PORT=$EPMD_PORT"
        cat "$DIR/pids"
    } >"$DIR/cinder.env"
    phase "volume types created, cinder.env written"
    trap - ERR EXIT
}

# cinder_alive: all three services still run, and no backend failed to initialize. Called by the
# waits, so that a dead service or a broken backend fails the start at once instead of at a timeout.
cinder_alive() {
    local p
    local name
    for name in SCHEDULER_PID VOLUME_PID API_PID; do
        p=$(envget "$DIR/pids" "$name")
        [ -z "$p" ] || alive "$p" || { log "${name%_PID} (PID $p) exited" 2>&9; exit 1; }
    done
    if grep -qs 'Failed to initialize driver' "$DIR/log/cinder-volume.log"; then
        log "a cinder-volume backend failed to initialize" 2>&9
        exit 1
    fi
}

api_answers() {
    cinder_alive
    curl -sf --noproxy '*' --max-time 2 "http://127.0.0.1:$API_PORT/"
}

rabbit_registered() {
    ERL_EPMD_ADDRESS=127.0.0.1 epmd -port "$EPMD_PORT" -names 2>/dev/null | grep -q '^name rabbit '
}

# The scheduler's RPC server is up once its fanout queue has a consumer.
scheduler_consuming() {
    cinder_alive
    rabbitmqctl 20 list_queues name consumers 2>/dev/null |
        grep -Eq '^cinder-scheduler_fanout_[0-9a-f]+[[:space:]]+[1-9]'
}

services_up() {
    cinder_alive
    api GET /os-services | "$PY" -c '
import json, sys
s = json.load(sys.stdin)["services"]
up = {x["binary"] + " " + x["host"] for x in s if x["state"] == "up" and x["status"] == "enabled"}
want = {"cinder-scheduler '"$HOSTNAME_CINDER"'", "cinder-volume '"$HOSTNAME_CINDER"'@ceph-a",
        "cinder-volume '"$HOSTNAME_CINDER"'@ceph-b"}
sys.exit(0 if want <= up else 1)'
}

pools_listed() {
    cinder_alive
    api GET /scheduler-stats/get_pools | "$PY" -c '
import json, sys
names = {p["name"] for p in json.load(sys.stdin)["pools"]}
want = {"'"$HOSTNAME_CINDER"'@ceph-a#ceph-a", "'"$HOSTNAME_CINDER"'@ceph-b#ceph-b"}
sys.exit(0 if want <= names else 1)'
}

# --- stop -----------------------------------------------------------------------------------

# ours DIR PID...: those of the PIDs that are live processes of the lab in DIR (they carry its marker),
# and all their descendants (PostgreSQL's children overwrite their environment with their titles).
ours() {
    local dir=$1 p roots=()
    shift
    for p in "$@"; do
        [ -n "$p" ] && alive "$p" && grep -qzx "CINDER_LAB_DIR=$dir" "/proc/$p/environ" 2>/dev/null && roots+=("$p")
    done
    [ ${#roots[@]} -gt 0 ] || return 0
    for p in "${roots[@]}" $(descendants "${roots[@]}"); do
        alive "$p" && echo "$p"
    done | sort -un
}

# marked DIR: every live process carrying the lab's marker.
marked() {
    local f p
    grep -lzx "CINDER_LAB_DIR=$1" /proc/[0-9]*/environ 2>/dev/null | while read -r f; do
        p=${f#/proc/}
        p=${p%/environ}
        [ "$p" != $$ ] && alive "$p" && echo "$p"
    done || true
}

# kill_all DIR: Cinder first (TERM all at once, then KILL), then RabbitMQ and PostgreSQL, then epmd.
kill_all() {
    local dir=$1
    [ -f "$dir/pids" ] || return 0
    dir=$(cd "$dir" && pwd)
    local SCHEDULER_PID='' VOLUME_PID='' API_PID='' RABBIT_PID='' PG_PID='' EPMD_PID='' KEYSTONE_PID='' KEYSTONE_EXPIRING_PID='' beam=''
    # shellcheck disable=SC1091
    . "$dir/pids"
    # cinder-volume forks one process per backend, cinder-api one worker, and either may be running
    # `ceph`: take the whole trees before signalling.
    local all=() rabbit=() pg=() epmd=() p
    mapfile -t all < <(ours "$dir" "$SCHEDULER_PID" "$VOLUME_PID" "$API_PID" "$KEYSTONE_PID" "$KEYSTONE_EXPIRING_PID")
    [ ${#all[@]} -gt 0 ] && { kill -TERM "${all[@]}" 2>/dev/null || true; }
    wait_gone 5 "${all[@]}" || kill -KILL "${all[@]}" 2>/dev/null || true

    # RabbitMQ: its data is thrown away, so KILL the wrapper script, the VM (beam.smp, also from the
    # pid file should the wrapper be gone) and the VM's helpers at once.
    [ -f "$dir/rabbit/rabbit.pid" ] && beam=$(cat "$dir/rabbit/rabbit.pid" 2>/dev/null || true)
    mapfile -t rabbit < <(ours "$dir" "$RABBIT_PID" "$beam")
    [ ${#rabbit[@]} -gt 0 ] && { kill -KILL "${rabbit[@]}" 2>/dev/null || true; }
    # PostgreSQL: SIGQUIT is an immediate shutdown; its children exit with the postmaster.
    mapfile -t pg < <(ours "$dir" "$PG_PID")
    [ ${#pg[@]} -gt 0 ] && { kill -QUIT "$PG_PID" 2>/dev/null || true; }
    wait_gone 10 "${pg[@]}" || kill -KILL "${pg[@]}" 2>/dev/null || true
    mapfile -t epmd < <(ours "$dir" "$EPMD_PID")
    [ ${#epmd[@]} -gt 0 ] && { kill -KILL "${epmd[@]}" 2>/dev/null || true; }
    # Anything else of this lab (a cinder-api restarted by start-api, a `ceph` run orphaned by a killed
    # cinder-volume): found by the marker in its environment.
    local rest=()
    mapfile -t rest < <(marked "$dir")
    [ ${#rest[@]} -gt 0 ] && { kill -KILL "${rest[@]}" 2>/dev/null || true; }
    local every=("${all[@]}" "${rabbit[@]}" "${pg[@]}" "${epmd[@]}" "${rest[@]}")
    # Our own children (a failed start) must be reaped by us; orphans are reaped by PID 1 after ~2 s:
    # wait until they have left the process table, so that ps shows nothing of the lab.
    for p in "${every[@]}"; do wait "$p" 2>/dev/null || true; done
    local end=$((SECONDS + 5))
    for p in "${every[@]}"; do
        while [ -e "/proc/$p" ] && [ "$SECONDS" -lt "$end" ]; do sleep 0.05; done
    done
}

# wait_gone SECONDS PID...: until none of the PIDs is alive (zombies count as gone).
wait_gone() {
    local secs=$1
    shift
    local end=$((SECONDS + secs)) p left
    while :; do
        left=0
        for p in "$@"; do alive "$p" && { left=1; break; }; done
        [ "$left" = 0 ] && return 0
        [ "$SECONDS" -ge "$end" ] && return 1
        sleep 0.1
    done
}

# stop-api DIR / start-api DIR: take cinder-api down and bring it back (the "Cinder is down" case);
# scheduler and volume keep running. start-api waits until it answers and updates API_PID in
# DIR/cinder.env.
stop_api() {
    DIR=$(cd "$1" && pwd)
    end_tree "$(envget "$DIR/pids" API_PID)"
}

# end_tree PID: TERM the lab's process PID and its descendants, KILL what is left after 5 s, and wait
# until they have left the process table.
end_tree() {
    local all=() p
    mapfile -t all < <(ours "$DIR" "$1")
    [ ${#all[@]} -gt 0 ] && { kill -TERM "${all[@]}" 2>/dev/null || true; }
    wait_gone 5 "${all[@]}" || kill -KILL "${all[@]}" 2>/dev/null || true
    local end=$((SECONDS + 5))
    for p in "${all[@]}"; do
        while [ -e "/proc/$p" ] && [ "$SECONDS" -lt "$end" ]; do sleep 0.05; done
    done
}

# start-keystone-expiring DIR SECONDS / stop-keystone-expiring DIR: a second Keystone whose tokens
# live SECONDS (keystone_expiring_start) on KEYSTONE_PORT+1, for a test of a token that expires.
start_keystone_expiring() {
    DIR=$(cd "$1" && pwd)
    KEYSTONE_PORT=$(envget "$DIR/cinder.env" KEYSTONE_PORT)
    [ -n "$KEYSTONE_PORT" ] || { log "the lab runs without Keystone"; exit 1; }
    if alive "$(envget "$DIR/pids" KEYSTONE_EXPIRING_PID)"; then
        log "the expiring keystone is running already"
        exit 1
    fi
    export CINDER_LAB_DIR=$DIR
    keystone_expiring_start "$2" || { tails "$DIR/keystone/expiring/log/uwsgi.out"; stop_keystone_expiring "$DIR"; exit 1; }
}

stop_keystone_expiring() {
    DIR=$(cd "$1" && pwd)
    end_tree "$(envget "$DIR/pids" KEYSTONE_EXPIRING_PID)"
    sed -i '/^KEYSTONE_EXPIRING_PID=/d' "$DIR/pids"
}

start_api() {
    DIR=$(cd "$1" && pwd)
    [ -f "$DIR/cinder.env" ] || { log "$DIR/cinder.env missing: start the lab first"; exit 1; }
    API_PORT=$(envget "$DIR/cinder.env" API_PORT)
    if alive "$(envget "$DIR/pids" API_PID)"; then
        log "cinder-api is running already"
        exit 1
    fi
    export CINDER_LAB_DIR=$DIR
    (daemon run_cinder cinder-api) </dev/null >>"$DIR/log/cinder-api.out" 2>&1 &
    local pid=$!
    disown "$pid" 2>/dev/null || true
    sed -i "s/^API_PID=.*/API_PID=$pid/" "$DIR/pids" "$DIR/cinder.env"
    if ! wait_for 60 "cinder-api on 127.0.0.1:$API_PORT" api_answers; then
        tails "$DIR/log/cinder-api.out" "$DIR/log/cinder-api.log"
        exit 1
    fi
}

stop() {
    local dir=$1
    kill_all "$dir"
    rm -rf "$dir"
}

case "${1:-}" in
    install) install ;;
    start) start "${2:?DIR}" "${3:?CEPH_A_DIR}" "${4:?CEPH_B_DIR}" ;;
    stop) stop "${2:?DIR}" ;;
    stop-api) stop_api "${2:?DIR}" ;;
    start-api) start_api "${2:?DIR}" ;;
    start-keystone-expiring) start_keystone_expiring "${2:?DIR}" "${3:?SECONDS}" ;;
    stop-keystone-expiring) stop_keystone_expiring "${2:?DIR}" ;;
    *) echo "usage: scripts/cinder-lab.sh install | start DIR CEPH_A_DIR CEPH_B_DIR | stop DIR | stop-api DIR | start-api DIR | start-keystone-expiring DIR SECONDS | stop-keystone-expiring DIR" >&2
       exit 64 ;;
esac
