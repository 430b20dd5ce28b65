# Sourced by scenario host hooks (scripts/guest/scenarios/*.host, bash, run by scripts/guest-lab.sh
# inside the test's network namespace): a private tgtd on the guests' bridge, an iSCSI target that
# lives outside the guest's RAM and so outlives a reboot of it. Everything it starts is killed by PID.
#
#   tgtd_start DIR ADDR PORT...           tgtd -f (control socket and log in DIR, PID in DIR/tgtd.pid)
#                                         with a portal ADDR:PORT per PORT; fails unless every portal
#                                         listens
#   tgtd_target DIR IQN INITIATOR USER PASS
#                                         target tid 1 named IQN, its ACL for INITIATOR, CHAP USER/PASS
#   tgtd_lun DIR LUN MIB ID               a LUN backed by DIR/lunLUN.img (MIB MiB, sparse), scsi_id and
#                                         scsi_sn ID (hex, <= 31 digits: the WWID is 36 + ID)
#   tgtd_stop DIR                         kills it (tgtd ignores SIGTERM) and waits until it is gone
#
# Recipe and pitfalls: docs/LAB.md, "iSCSI target: tgt".

tgtd_adm() {
    local dir=$1
    shift
    TGT_IPC_SOCKET="$dir/tgtd.sock" tgtadm -C "$(cat "$dir/tgtd.control")" --lld iscsi "$@"
}

tgtd_start() {
    local dir=$1 addr=$2 port=$3 pid i p
    shift 3
    mkdir -p "$dir"
    # -C is only the control socket's suffix; the socket itself is in DIR.
    echo $(( (RANDOM % 800) + 100 )) >"$dir/tgtd.control"
    TGT_IPC_SOCKET="$dir/tgtd.sock" setsid tgtd -f -C "$(cat "$dir/tgtd.control")" --iscsi "portal=$addr:$port" \
        </dev/null >"$dir/tgtd.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/tgtd.pid"
    for i in $(seq 1 100); do
        tgtd_adm "$dir" --op show --mode sys >/dev/null 2>&1 && break
        sleep 0.05
    done
    for p in "$@"; do
        tgtd_adm "$dir" --op new --mode portal --param "portal=$addr:$p" || return 1
    done
    # tgtd only logs a portal it cannot bind (and falls back to [::]:3260): check each listens.
    for p in "$port" "$@"; do
        ss -ltn "src $addr:$p" | grep -q LISTEN || { echo "tgtd does not listen on $addr:$p" >&2; cat "$dir/tgtd.log" >&2; return 1; }
    done
}

tgtd_target() {
    local dir=$1 iqn=$2 initiator=$3 user=$4 pass=$5
    tgtd_adm "$dir" --op new --mode target --tid 1 --targetname "$iqn" &&
        tgtd_adm "$dir" --op bind --mode target --tid 1 --initiator-name "$initiator" &&
        tgtd_adm "$dir" --op new --mode account --user "$user" --password "$pass" &&
        tgtd_adm "$dir" --op bind --mode account --tid 1 --user "$user"
}

tgtd_lun() {
    local dir=$1 lun=$2 mib=$3 id=$4
    truncate -s "${mib}M" "$dir/lun$lun.img" &&
        tgtd_adm "$dir" --op new --mode logicalunit --tid 1 --lun "$lun" --backing-store "$dir/lun$lun.img" &&
        tgtd_adm "$dir" --op update --mode logicalunit --tid 1 --lun "$lun" --params "scsi_id=$id,scsi_sn=$id"
}

tgtd_stop() {
    local dir=$1 pid i
    [ -f "$dir/tgtd.pid" ] || return 0
    pid=$(cat "$dir/tgtd.pid")
    kill -9 "$pid" 2>/dev/null || true
    # Orphaned to PID 1 once the hook that started it exited: a zombie for a moment, which kill -0
    # still finds.
    for i in $(seq 1 100); do
        [ -d "/proc/$pid" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$pid/stat" 2>/dev/null || break
        sleep 0.05
    done
    rm -f "$dir/tgtd.pid"
}
