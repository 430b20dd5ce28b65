# bench-kernel: latency of the kernel path's attach and detach with the real tetherd + tether,
# RUNS (tether.runs=, default 20) cycles per row: iSCSI over one portal, the same single-path
# attach done by hand with iscsiadm in the steps os-brick's ISCSIConnector takes, os-brick's own
# ISCSIConnector (with `guest-lab.sh run --python`); krbd (with `run --ceph DIR`: image
# rbd/tether-bench, bench-kernel.host) by Tether, by the one sysfs write krbd needs, by `rbd map`
# and by os-brick's RBDConnector (both with --python, which packs the rbd CLI); then iSCSI over both
# portals with [multipath] enabled, by Tether and by os-brick's ISCSIConnector with use_multipath.
# The columns of a row run interleaved, a cycle of each a round (`interleave`), so that on a shared
# host each sees the same load. Tether's "tetherd" figures are the agent's own time (its log's `elapsed`), like os-brick's
# in-process calls; "tether-cli" adds the CLI's process. Prints `TETHER-BENCH ROW WHO median X p99
# Y n N` lines (ms), which `guest-lab.sh bench [RUNS]` makes a table of. Not named tether-*:
# `guest-lab.sh ci` must not run it.
. /tether/lib.sh
trap tether_debug EXIT
RUNS=$(cmdline_arg runs 20)

# Nanoseconds of a monotonic clock. The guest's busybox date has no %N; /proc/timer_list's
# "now at N nsecs" is CLOCK_MONOTONIC in ns (root only); /proc/uptime (10 ms) is the last resort.
case $(date +%s%N 2>/dev/null) in
    *N|"") if grep -q '^now at' /proc/timer_list 2>/dev/null; then CLOCK=timer_list; else CLOCK=uptime; fi ;;
    *) CLOCK=date ;;
esac
now_ns() {
    case $CLOCK in
        date) date +%s%N ;;
        timer_list) sed -n '/^now at /{s/^now at \([0-9]*\) nsecs.*/\1/p;q}' /proc/timer_list ;;
        *) awk '{printf "%d\n", $1 * 1000000000}' /proc/uptime ;;
    esac
}
log "clock: $CLOCK, runs: $RUNS"

# bench_stat FILE ROW WHO: prints `TETHER-BENCH ROW WHO median X p99 Y n N` (ms) of the
# nanosecond samples in FILE, one a line (p99: nearest rank); `guest-lab.sh bench` makes the table.
bench_stat() {
    sort -n "$1" | awk -v row="$2" -v who="$3" '
        { v[NR] = $1 / 1000000 }
        END {
            if (NR == 0) { print "TETHER-BENCH " row " " who " none"; exit }
            med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            r = int(0.99 * NR); if (r < 0.99 * NR) r++
            printf "TETHER-BENCH %s %s median %.0f p99 %.0f n %d\n", row, who, med, v[r], NR
        }'
}

clean_state() {  # nothing of the target left: no session, disk, map or record
    udevadm settle --timeout=20
    iscsiadm -m session >/dev/null 2>&1; [ $? = 21 ] || return 1
    ! ls /sys/block | grep -q '^sd' || return 1
    [ -z "$(dmsetup ls --target multipath | grep -v 'No devices found')" ] || return 1
    ! iscsiadm -m node >/dev/null 2>&1
}

krbd_clean() {  # no image mapped
    udevadm settle --timeout=20
    [ -z "$(ls /sys/bus/rbd/devices 2>/dev/null)" ]
}

# cycles NAME INFO [CLEAN]: RUNS timed `tether attach` + `tether detach` of volume NAME, the node
# checked by CLEAN (default clean_state) after each.
cycles() {
    local name=$1 info=$2 clean=${3:-clean_state} i t0 t1 dev
    i=0
    while [ $i -lt "$RUNS" ]; do
        i=$((i + 1))
        t0=$(now_ns)
        tether attach --mode kernel --connection-info "$info" --json >"/tmp/$name.out" 2>"/tmp/$name.err" ||
            { result_fail "$name-attach-$i" "$(tail -n 3 /tmp/$name.err | tr '\n' ' ')"; return 1; }
        t1=$(now_ns)
        echo $((t1 - t0)) >>"/tmp/$name.attach"
        dev=$(json_get device_path <"/tmp/$name.out")
        [ -b "$dev" ] || { result_fail "$name-device-$i" "no block device $dev"; return 1; }
        udevadm settle --timeout=20
        t0=$(now_ns)
        tether detach "$(json_get volume_id <"$info")" >"/tmp/$name.dout" 2>&1 ||
            { result_fail "$name-detach-$i" "$(tail -n 3 /tmp/$name.dout | tr '\n' ' ')"; return 1; }
        t1=$(now_ns)
        echo $((t1 - t0)) >>"/tmp/$name.detach"
        $clean || { result_fail "$name-clean-$i" "something left after detach"; return 1; }
    done
}

# --- by hand: os-brick's ISCSIConnector steps with iscsiadm -----------------------------------
# connect_volume: node record (-o new, then one -o update per setting: CHAP, manual scan and
# startup), login, the session's SCSI host, a targeted scan of the LUN, wait for /dev/sdX.
# disconnect_volume: flush, delete the SCSI device, logout, delete the record.
hand_session() {
    local s conn
    for s in /sys/class/iscsi_session/session*; do
        [ -e "$s" ] || continue
        for conn in "$s"/device/connection*/iscsi_connection/connection*; do
            [ "$(cat "$conn/persistent_address"):$(cat "$conn/persistent_port")" = "$PORTAL1" ] &&
                { basename "$s"; return 0; }
        done
    done
    return 1
}
hand_disk() {  # SESSION LUN
    local d
    for d in /sys/class/iscsi_session/"$1"/device/target*/*:0:0:"$2"/block/*; do
        [ -e "$d" ] && [ -b "/dev/$(basename "$d")" ] && { basename "$d"; return 0; }
    done
    return 1
}
hand_attach() {  # LUN: prints sdX
    local kv s host
    iscsiadm -m node -T "$TARGET_IQN" -p "$PORTAL1" -o new >/dev/null || return 1
    for kv in node.session.auth.authmethod=CHAP node.session.auth.username=$CHAP_USER \
              node.session.auth.password=$CHAP_PASS node.session.scan=manual node.startup=manual; do
        iscsiadm -m node -T "$TARGET_IQN" -p "$PORTAL1" -o update -n "${kv%%=*}" -v "${kv#*=}" || return 1
    done
    iscsiadm -m node -T "$TARGET_IQN" -p "$PORTAL1" --login >/dev/null 2>&1 || return 1
    s=$(hand_session) || return 1
    host=$(basename "$(dirname "$(readlink -f "/sys/class/iscsi_session/$s/device")")" | sed 's/^host//')
    echo "0 0 $1" >"/sys/class/scsi_host/host$host/scan" || return 1
    wait_until 20 hand_disk "$s" "$1" || return 1
    hand_disk "$s" "$1"
}
hand_detach() {  # sdX
    blockdev --flushbufs "/dev/$1" 2>/dev/null
    echo 1 >"/sys/block/$1/device/delete" || return 1
    wait_until 10 sh -c "[ ! -e /sys/block/$1 ]" || return 1
    iscsiadm -m node -T "$TARGET_IQN" -p "$PORTAL1" --logout >/dev/null 2>&1 || return 1
    iscsiadm -m node -T "$TARGET_IQN" -p "$PORTAL1" -o delete
}
hand_cycles() {
    local i t0 t1 d
    i=0
    while [ $i -lt "$RUNS" ]; do
        i=$((i + 1))
        t0=$(now_ns)
        d=$(hand_attach 1) || { result_fail "hand-attach-$i" "iscsiadm steps failed"; return 1; }
        t1=$(now_ns)
        echo $((t1 - t0)) >>/tmp/hand.attach
        udevadm settle --timeout=20
        t0=$(now_ns)
        hand_detach "$d" || { result_fail "hand-detach-$i" "iscsiadm steps failed"; return 1; }
        t1=$(now_ns)
        echo $((t1 - t0)) >>/tmp/hand.detach
        clean_state || { result_fail "hand-clean-$i" "something left after detach"; return 1; }
    done
}

# --- os-brick itself (with `run --python`) ----------------------------------------------------
# /tether/osbrick-bench.py imports os-brick once (osbrick_start) and answers use/connect/disconnect
# a line at a time, so the node is checked between the steps as for the rows above. Its figures
# are the library calls alone — no Python start or imports — with privsep's privileged steps run
# in-process (Nova's os-brick pays a privsep daemon round trip per privileged step on top).
osbrick_ask() {  # COMMAND [TIMEOUT_S]: sets REPLY_LINE to the answer's words after "ok"
    [ "$1" = ready ] || echo "$1" >&3
    read -r -t "${2:-300}" REPLY_LINE <&4 || REPLY_LINE="fail no answer to $1 within ${2:-300} s"
    case $REPLY_LINE in
        ok\ *) REPLY_LINE=${REPLY_LINE#ok }; return 0 ;;
        ok|ready) REPLY_LINE=; return 0 ;;
    esac
    return 1
}
OSBRICK_PID=
osbrick_start() {
    local t0
    rm -f /tmp/osbrick.in /tmp/osbrick.out
    mkfifo /tmp/osbrick.in /tmp/osbrick.out
    t0=$(now_ns)
    python3 /tether/osbrick-bench.py </tmp/osbrick.in >/tmp/osbrick.out 2>/tmp/osbrick.err &
    OSBRICK_PID=$!
    exec 3>/tmp/osbrick.in 4</tmp/osbrick.out
    # Python's start and os-brick's imports take ~6 s under TCG, a minute on a busy host.
    if osbrick_ask ready 900; then
        log "os-brick: python3 start and imports $((($(now_ns) - t0) / 1000000)) ms (not in the figures)"
        return 0
    fi
    result_fail osbrick-start "$REPLY_LINE"
    log "--- osbrick-bench.py stderr (last 30 lines)"; tail -n 30 /tmp/osbrick.err
    osbrick_stop
    return 1
}
osbrick_stop() {
    [ -n "$OSBRICK_PID" ] || return 0
    # `quit`, not the end of input: tetherd, started after the driver, holds the pipe's write end
    # too (a child inherits fd 3), so the driver would never see its input end.
    echo quit >&3
    exec 3>&-
    wait "$OSBRICK_PID"
    exec 4<&-
    OSBRICK_PID=
    rm -f /tmp/osbrick.in /tmp/osbrick.out
}
osbrick_cycles() {  # INFO iscsi|multipath|krbd
    local i dev rc=0 clean=clean_state
    [ "$2" != krbd ] || clean=krbd_clean
    [ -n "$OSBRICK_PID" ] || osbrick_start || return 1
    osbrick_ask "use $2 $1" || { result_fail "osbrick-$2-use" "$REPLY_LINE"; return 1; }
    i=0
    while [ $i -lt "$RUNS" ]; do
        i=$((i + 1))
        osbrick_ask connect || { result_fail "osbrick-$2-connect-$i" "$REPLY_LINE"; rc=1; break; }
        echo "${REPLY_LINE%% *}" >>"/tmp/osbrick-$2.connect"
        dev=${REPLY_LINE#* }
        [ -b "$dev" ] || { result_fail "osbrick-$2-device-$i" "no block device $dev"; rc=1; break; }
        udevadm settle --timeout=20
        osbrick_ask disconnect || { result_fail "osbrick-$2-disconnect-$i" "$REPLY_LINE"; rc=1; break; }
        echo "$REPLY_LINE" >>"/tmp/osbrick-$2.disconnect"
        $clean || { result_fail "osbrick-$2-clean-$i" "something left after disconnect_volume"; rc=1; break; }
    done
    [ $rc = 0 ] || { log "--- osbrick-bench.py stderr (last 30 lines)"; tail -n 30 /tmp/osbrick.err; }
    return $rc
}

# agent_samples VOLUME attach|detach FILE: tetherd's own time for each operation on VOLUME (the
# `elapsed` of its "attach finished"/"detach finished" log lines) in ns, one a line: the figure
# without the CLI's process start, comparable to os-brick's in-process calls.
agent_samples() {
    grep -E "msg=\"$2 finished\".* volume=$1( |\$)" "$TETHER_LOG" | sed -n 's/.*elapsed="\([0-9.]*\) seconds".*/\1/p' |
        awk '{ printf "%.0f\n", $1 * 1000000000 }' >"$3"
}

# interleave CMD...: RUNS rounds of one cycle of every CMD (a function of this file that runs
# $RUNS cycles, called with RUNS=1), so that every column sees the same load of a shared host
# rather than each its own stretch of time; a CMD that failed sits out the later rounds.
interleave() {
    local total=$RUNS round=0 cmd n failed=""
    while [ $round -lt "$total" ]; do
        round=$((round + 1))
        n=0
        for cmd in "$@"; do
            n=$((n + 1))
            case " $failed " in *" $n "*) continue ;; esac
            RUNS=1
            eval "$cmd" || failed="$failed $n"
            RUNS=$total
        done
    done
    n=0
    for cmd in "$@"; do
        n=$((n + 1))
        case " $failed " in *" $n "*) ;; *) result_ok "$(echo "$cmd" | cut -d' ' -f1-2 | tr ' /' '--')-$total-rounds" ;; esac
    done
}

# --- krbd: Tether, the sysfs write `rbd map` ends in, `rbd map` itself, os-brick ----------------
# Image rbd/tether-bench (bench-kernel.host pre) of the first cluster passed with --ceph.
krbd_image=tether-bench
# bare_map: the one sysfs write krbd needs (what `rbd map` and Tether end in), then the device node.
bare_map() {
    local before after id
    before=$(ls /sys/bus/rbd/devices)
    echo "$MON_V1 name=$USER,secret=$(cat "$KEY_FILE") rbd $krbd_image -" >/sys/bus/rbd/add_single_major || return 1
    after=$(ls /sys/bus/rbd/devices)
    for id in $after; do
        case " $(echo $before) " in
            *" $id "*) ;;
            *) [ -b "/dev/rbd$id" ] && echo "$id"; return ;;
        esac
    done
    return 1
}
bare_krbd_cycles() {
    local i t0 t1 id
    i=0
    while [ $i -lt "$RUNS" ]; do
        i=$((i + 1))
        t0=$(now_ns)
        id=$(bare_map) || { result_fail "bare-map-$i" "sysfs add failed"; return 1; }
        t1=$(now_ns)
        echo $((t1 - t0)) >>/tmp/bare.map
        udevadm settle --timeout=20
        t0=$(now_ns)
        echo "$id" >/sys/bus/rbd/remove_single_major || { result_fail "bare-unmap-$i" "sysfs remove failed"; return 1; }
        t1=$(now_ns)
        echo $((t1 - t0)) >>/tmp/bare.unmap
        krbd_clean || { result_fail "bare-clean-$i" "a mapping left"; return 1; }
    done
}
# rbd map / rbd unmap, as a person or os-brick runs them (the cluster's conf and keyring by path).
rbd_cli_cycles() {
    local i t0 t1 dev
    printf '[global]\nmon_host = %s\n' "$MON_V1" >/tmp/bench-ceph.conf
    i=0
    while [ $i -lt "$RUNS" ]; do
        i=$((i + 1))
        t0=$(now_ns)
        dev=$(rbd map "rbd/$krbd_image" -c /tmp/bench-ceph.conf --id "$USER" --keyring "$KEYRING_FILE" 2>/tmp/rbdcli.err) ||
            { result_fail "rbd-map-$i" "$(tail -n 1 /tmp/rbdcli.err)"; return 1; }
        t1=$(now_ns)
        echo $((t1 - t0)) >>/tmp/rbdcli.map
        udevadm settle --timeout=20
        t0=$(now_ns)
        rbd unmap "$dev" -c /tmp/bench-ceph.conf --id "$USER" --keyring "$KEYRING_FILE" 2>/tmp/rbdcli.err ||
            { result_fail "rbd-unmap-$i" "$(tail -n 1 /tmp/rbdcli.err)"; return 1; }
        t1=$(now_ns)
        echo $((t1 - t0)) >>/tmp/rbdcli.unmap
        krbd_clean || { result_fail "rbd-clean-$i" "a mapping left"; return 1; }
    done
}
krbd_bench() {
    local c
    c=$(ceph_clusters | head -n 1)
    ceph_load "$c" || { result_fail "krbd-facts" "no facts for $c"; return 1; }
    check krbd-cluster-add tether cluster add --name "$c" --fsid "$FSID" --mon-host "$MON_V1" --user "$USER=$KEY_FILE" || return 1
    cat >/tmp/krbd.json <<EOT
{"driver_volume_type": "rbd", "data": {"name": "rbd/$krbd_image", "hosts": ["${MON_V1%:*}"], "ports": ["${MON_V1##*:}"],
 "cluster_name": "$c", "auth_enabled": true, "auth_username": "$USER", "volume_id": "vol-krbd",
 "access_mode": "rw", "discard": true}}
EOT
    # os-brick's RBDConnector with do_local_attach: `rbd map` with a conf it writes from hosts/ports
    # and the keyring given in the properties (as cinderlib passes it; the driver reads it from
    # keyring_file).
    sed "s|\"discard\": true|\"discard\": true, \"do_local_attach\": true, \"keyring_file\": \"$KEYRING_FILE\"|" \
        /tmp/krbd.json >/tmp/osbrick-krbd.json
    local tether="cycles krbd /tmp/krbd.json krbd_clean" osbrick="osbrick_cycles /tmp/osbrick-krbd.json krbd"
    if ! command -v rbd >/dev/null; then
        echo "TETHER-BENCH krbd-map rbd-cli none (no rbd in the guest: guest-lab.sh run --python packs it)"
        interleave "$tether" bare_krbd_cycles
    elif [ "$OSBRICK" = 1 ]; then
        interleave "$tether" bare_krbd_cycles rbd_cli_cycles "$osbrick"
    else
        interleave "$tether" bare_krbd_cycles rbd_cli_cycles
    fi
    bench_stat /tmp/krbd.attach krbd-map tether-cli
    bench_stat /tmp/krbd.detach krbd-unmap tether-cli
    agent_samples vol-krbd attach /tmp/krbd.agent-attach; bench_stat /tmp/krbd.agent-attach krbd-map tetherd
    agent_samples vol-krbd detach /tmp/krbd.agent-detach; bench_stat /tmp/krbd.agent-detach krbd-unmap tetherd
    bench_stat /tmp/bare.map krbd-map bare
    bench_stat /tmp/bare.unmap krbd-unmap bare
    [ ! -s /tmp/rbdcli.map ] || { bench_stat /tmp/rbdcli.map krbd-map rbd-cli; bench_stat /tmp/rbdcli.unmap krbd-unmap rbd-cli; }
    [ ! -s /tmp/osbrick-krbd.connect ] || { bench_stat /tmp/osbrick-krbd.connect krbd-map os-brick; bench_stat /tmp/osbrick-krbd.disconnect krbd-unmap os-brick; }
}

OSBRICK=0
if command -v python3 >/dev/null && [ -f /tether/osbrick-bench.py ]; then OSBRICK=1; fi

target_lun_add 1 64 && target_lun_add 2 64 || { result_fail target "target_lun_add"; exit 1; }

# Single path: as tether-iscsi, multipathd kept off the disks (find_multipaths strict).
sed -i 's/find_multipaths off/find_multipaths strict/' /etc/multipath.conf
multipathd reconfigure >/dev/null || result_fail multipathd-reconfigure "multipathd reconfigure"
tether_setup false || { result_fail tetherd "did not start: $(tail -n 3 $TETHER_LOG)"; exit 1; }
iscsi_info /tmp/single.json vol-bench 1 "$PORTAL1"
iscsi_info /tmp/osbrick.json vol-osbrick 1 "$PORTAL1"
# Tether, the same single-path attach by hand (tetherd idle meanwhile) and os-brick, a cycle each a
# round.
if [ "$OSBRICK" = 1 ]; then
    interleave "cycles single /tmp/single.json" hand_cycles "osbrick_cycles /tmp/osbrick.json iscsi"
else
    echo "TETHER-BENCH iscsi-attach os-brick none (not in the guest image: guest-lab.sh run --python)"
    interleave "cycles single /tmp/single.json" hand_cycles
fi
bench_stat /tmp/single.attach iscsi-attach tether-cli
bench_stat /tmp/single.detach iscsi-detach tether-cli
agent_samples vol-bench attach /tmp/single.agent-attach; bench_stat /tmp/single.agent-attach iscsi-attach tetherd
agent_samples vol-bench detach /tmp/single.agent-detach; bench_stat /tmp/single.agent-detach iscsi-detach tetherd
bench_stat /tmp/hand.attach iscsi-attach bare
bench_stat /tmp/hand.detach iscsi-detach bare
[ ! -s /tmp/osbrick-iscsi.connect ] || { bench_stat /tmp/osbrick-iscsi.connect iscsi-attach os-brick; bench_stat /tmp/osbrick-iscsi.disconnect iscsi-detach os-brick; }

# krbd before multipath: with find_multipaths strict multipathd leaves /dev/rbdN alone.
if [ -n "$(ceph_clusters)" ]; then
    krbd_bench
else
    echo "TETHER-BENCH krbd-map tetherd none (no Ceph cluster: guest-lab.sh run --ceph DIR)"
fi

# Multipath: as tether-multipath (the lab's find_multipaths off), tetherd restarted with
# [multipath] enabled = true, LUN 2 over both portals.
kill "$TETHERD_PID" 2>/dev/null; wait "$TETHERD_PID" 2>/dev/null; TETHERD_PID=
sed -i 's/find_multipaths strict/find_multipaths off/' /etc/multipath.conf
multipathd reconfigure >/dev/null || result_fail multipathd-reconfigure-2 "multipathd reconfigure"
tether_setup true || { result_fail tetherd-multipath "did not start: $(tail -n 3 $TETHER_LOG)"; exit 1; }
iscsi_info /tmp/mp.json vol-bench-mp 2 "$PORTAL1" "$PORTAL2"
iscsi_info /tmp/osbrick-mp.json vol-osbrick-mp 2 "$PORTAL1" "$PORTAL2"
if [ "$OSBRICK" = 1 ]; then
    interleave "cycles multipath /tmp/mp.json" "osbrick_cycles /tmp/osbrick-mp.json multipath"
else
    interleave "cycles multipath /tmp/mp.json"
fi
bench_stat /tmp/multipath.attach multipath-attach tether-cli
bench_stat /tmp/multipath.detach multipath-detach tether-cli
agent_samples vol-bench-mp attach /tmp/mp.agent-attach; bench_stat /tmp/mp.agent-attach multipath-attach tetherd
agent_samples vol-bench-mp detach /tmp/mp.agent-detach; bench_stat /tmp/mp.agent-detach multipath-detach tetherd
[ ! -s /tmp/osbrick-multipath.connect ] || { bench_stat /tmp/osbrick-multipath.connect multipath-attach os-brick; bench_stat /tmp/osbrick-multipath.disconnect multipath-detach os-brick; }
osbrick_stop
