#!/usr/bin/env bash
# Idle memory of one tetherd: scripts/idle-memory.sh [--top N] [--cycles N] [--env K=V]... TETHERD
# Starts TETHERD with a private config, state dir and socket (inside `unshare --net`, so run as
# root), waits for its socket, lets it settle 3 s, and prints RSS and private memory
# (Private_Clean + Private_Dirty of /proc/PID/smaps_rollup, kB), then the N largest mappings by
# RSS, grouped by file (anonymous ones as [anon], thread stacks included). With --cycles N it
# then runs N attach/detach-like request cycles (GET /v1/health, /v1/attachments, /v1/connector,
# a refused POST) and measures again: what a node holds after some activity.
# Issue #17's target: private <= 10 MB, RSS <= 40 MB.
set -euo pipefail
TOP=12
CYCLES=0
ENVS=()
while [ $# -gt 1 ]; do
    case "$1" in
        --top) TOP=$2; shift 2 ;;
        --cycles) CYCLES=$2; shift 2 ;;
        --env) ENVS+=("$2"); shift 2 ;;
        *) break ;;
    esac
done
TETHERD=$(readlink -f "$1")
if [ -z "${TETHER_IDLE_NETNS:-}" ]; then
    exec unshare --net -- env TETHER_IDLE_NETNS=1 bash -c 'ip link set lo up && exec "$0" "$@"' \
        "$0" --top "$TOP" --cycles "$CYCLES" ${ENVS[@]/#/--env } "$TETHERD"
fi

DIR=$(mktemp -d /tmp/tether-idle.XXXXXX)
PID=
cleanup() {
    if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    rm -rf "$DIR"
}
trap cleanup EXIT
mkdir -p "$DIR/etc" "$DIR/ceph" "$DIR/state"
cat >"$DIR/tether.toml" <<EOF
[iscsi]
initiator = "iqn.2026-12.org.tether:idle"
[ceph]
registry_dir = "$DIR/etc"
ceph_dir = "$DIR/ceph"
[libvirt]
uri = ""
EOF
env "${ENVS[@]}" "$TETHERD" --config "$DIR/tether.toml" --socket "$DIR/s" --state-dir "$DIR/state" \
    --log-level warning 2>"$DIR/log" &
PID=$!
for _ in $(seq 300); do [ -S "$DIR/s" ] && break; kill -0 "$PID" || { cat "$DIR/log" >&2; exit 1; }; sleep 0.1; done
[ -S "$DIR/s" ] || { echo "idle-memory: tetherd did not publish its socket" >&2; cat "$DIR/log" >&2; exit 1; }

# report LABEL: the rollup and the top mappings of $PID.
report() {
    sleep 3
    awk -v label="$1" -v threads="$(ls /proc/$PID/task | wc -l)" '
        /^Rss:/ {rss=$2} /^Private_Clean:/ {pc=$2} /^Private_Dirty:/ {pd=$2}
        END {printf "%s: RSS %d kB, private %d kB (clean %d, dirty %d), threads %d\n", label, rss, pc+pd, pc, pd, threads}' \
        "/proc/$PID/smaps_rollup"
    awk '
        /^[0-9a-f]+-[0-9a-f]+ / {name = (NF >= 6) ? $6 : "[anon]"; sub(".*/", "", name); next}
        /^Rss:/ {rss[name] += $2} /^Private_(Clean|Dirty):/ {priv[name] += $2}
        END {for (n in rss) if (rss[n] > 0) printf "  %7d kB rss %7d kB private  %s\n", rss[n], priv[n], n}' \
        "/proc/$PID/smaps" | sort -rn | awk -v top="$TOP" 'NR <= top' # reads all: no SIGPIPE under pipefail
}
report idle
if [ "$CYCLES" -gt 0 ]; then
    for _ in $(seq "$CYCLES"); do
        for path in /v1/health /v1/attachments /v1/connector; do
            curl -sf --unix-socket "$DIR/s" "http://tetherd$path" >/dev/null
        done
        # A refused attach walks validation and the error path (no connector runs).
        curl -s --unix-socket "$DIR/s" -X POST -H 'content-type: application/json' \
            -d '{"volume":"idle-check","connection_info":{"driver_volume_type":"nope","data":{}}}' \
            "http://tetherd/v1/attachments" >/dev/null
    done
    report "after $CYCLES request cycles"
fi
