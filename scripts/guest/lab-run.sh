# Sourced by scripts/guest-lab.sh (needs its CACHE, GUEST, BRIDGE, log, die, pack, base_for_run,
# tether_archive): `run`, one scenario in one guest, over one boot or several.
#
#   run SCENARIO [--tether BINDIR] [--python] [--ceph DIR]... [--net] [--timeout S] [--append ARGS]
#                [--disk FILE] [--boots N]
#
# --disk FILE   a persistent disk: FILE (raw; made as a 64 MiB sparse file when missing, kept after
#               the run) is the guest's virtio-blk /dev/vda. The guest's boot script formats it ext4
#               when it holds no filesystem, mounts it on /persist and binds /var/lib/tether,
#               /etc/tether, /etc/iscsi, /etc/ceph and /etc/multipath from it before iscsid starts
#               (scripts/guest/lib.sh, persist_mount).
# --boots N     boots the guest N times, one after the other: each boot powers off (QEMU exits), and a
#               new QEMU boots the same kernel and initrd with the same disk, tap and address. Default:
#               the scenario's `# guest-lab: boots=N` line, else 1. N > 1 without --disk uses a disk
#               in the run's temporary directory (removed with it). Boot K sees tether.boot=K and
#               tether.boots=N on its command line. A boot that gives no verdict or times out ends
#               the run; one with failed results does not (the next boot shows what is left).
# --timeout S   per boot.
#
# The host hook, scenarios/SCENARIO.host, runs as `pre` (before the first boot; a failure ends the
# run), `between K` (after boot K when another follows) and `post` (after the last boot, or on the
# way out when the run is cut short), with GUEST_SHARE (the guest's /tether/share), GUEST_CEPH_DIRS,
# GUEST_LOG (the scenario's output so far), GUEST_HOST_DIR (a private directory for the whole run:
# the hook's own state, such as the PIDs of what it started), GUEST_HOST_ADDR (the host's address on
# the bridge, with --net or --ceph) and GUEST_BOOT. Its TETHER-RESULT lines count like the guest's.

# python_archive: `run --python`.
. "$GUEST/python-pack.sh"

run() {
    R_SCENARIO=${1:?usage: guest-lab.sh run SCENARIO [--tether BINDIR] [--python] [--ceph DIR]... [--net] [--timeout S] [--append ARGS] [--disk FILE] [--boots N]}
    shift
    R_TETHER="" R_PYTHON=0 R_TIMEOUT=${TETHER_GUEST_TIMEOUT:-180} R_APPEND="" R_NET=0 R_CEPH=() R_DISK="" R_BOOTS=""
    while [ $# -gt 0 ]; do
        case $1 in
            --tether) R_TETHER=${2:?--tether BINDIR}; shift 2 ;;
            --python) R_PYTHON=1; shift ;;
            --ceph) R_CEPH+=("$(cd "${2:?--ceph DIR}" && pwd)"); R_NET=1; shift 2 ;;
            --net) R_NET=1; shift ;;
            --timeout) R_TIMEOUT=${2:?--timeout S}; shift 2 ;;
            --append) R_APPEND=${2?--append ARGS}; shift 2 ;;
            --disk) R_DISK=${2:?--disk FILE}; shift 2 ;;
            --boots) R_BOOTS=${2:?--boots N}; shift 2 ;;
            *) die "run: unknown argument $1" 64 ;;
        esac
    done
    [ -f "$GUEST/scenarios/$R_SCENARIO.sh" ] || die "no scenario $GUEST/scenarios/$R_SCENARIO.sh" 64
    [ -n "$R_BOOTS" ] || R_BOOTS=$(sed -n 's/^# guest-lab: boots=\([0-9]*\)$/\1/p' "$GUEST/scenarios/$R_SCENARIO.sh" | head -n 1)
    R_BOOTS=${R_BOOTS:-1}
    [ "$R_BOOTS" -ge 1 ] 2>/dev/null || die "run: --boots wants a number >= 1" 64
    local base status=0
    base=$(base_for_run)

    umask 077
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/tether-guest.XXXXXX")
    QEMU_PID="" TAP="" HOOK_PENDING=0
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    run_stage
    run_net
    # Pending from before pre: a pre that fails half-way is cleaned up by post too. Before the
    # initrd is packed: pre may leave files in GUEST_SHARE.
    HOOK_PENDING=1
    run_hook pre || { cat "$TMP/hook.out"; die "$R_SCENARIO.host pre failed"; }
    run_initrd "$base"
    run_disk
    run_boots "$base" || status=$?
    HOOK_PENDING=0
    run_hook post || echo "TETHER-RESULT fail $R_SCENARIO.host post exited non-zero" >>"$TMP/hook.out"
    run_report $status
}

# The per-run archive (boot script, library, scenarios, udev rules, the hook's share) and the Ceph
# facts: $TMP/extra.cpio and $TMP/facts.cpio. Keys are readable by the guest's root only and never
# on a command line.
run_stage() {
    local extra=$TMP/extra facts=$TMP/facts dir
    mkdir -p "$extra/tether/share" "$extra/tether/udev" "$facts/tether/ceph" "$TMP/host"
    cp "$GUEST/boot" "$GUEST/lib.sh" "$GUEST/reconcile.sh" "$extra/tether/"
    cp "$ROOT"/udev/*.rules "$extra/tether/udev/"
    cp -r "$GUEST/scenarios" "$extra/tether/scenarios"
    [ "$R_PYTHON" = 0 ] || cp "$GUEST/osbrick-bench.py" "$extra/tether/"
    chmod -R go+rX "$extra/tether"
    for dir in ${R_CEPH[@]+"${R_CEPH[@]}"}; do
        [ -f "$dir/cluster.env" ] || die "no $dir/cluster.env (scripts/ceph-lab.sh start DIR ...)"
        local NAME FSID MON_V1 MON_V2 CINDER_KEY_FILE CINDER_KEYRING
        eval "$(grep -E '^(NAME|FSID|MON_V1|MON_V2|CINDER_KEY_FILE|CINDER_KEYRING)=' "$dir/cluster.env")"
        case $MON_V1 in 127.*) die "cluster $NAME listens on $MON_V1: start it with CEPH_LAB_ADDR=<the net-up address>" ;; esac
        mkdir -p "$facts/tether/ceph/$NAME"
        printf 'NAME=%s\nFSID=%s\nMON_V1=%s\nMON_V2=%s\nUSER=cinder\n' "$NAME" "$FSID" "$MON_V1" "$MON_V2" \
            >"$facts/tether/ceph/$NAME/cluster.env"
        cp "$CINDER_KEY_FILE" "$facts/tether/ceph/$NAME/key"
        cp "$CINDER_KEYRING" "$facts/tether/ceph/$NAME/keyring"
    done
    chmod -R go-rwx "$facts/tether/ceph"
    : >"$TMP/hook.out"
    export GUEST_SHARE=$extra/tether/share GUEST_CEPH_DIRS="${R_CEPH[*]}" GUEST_LOG=$TMP/scenario.log
    export GUEST_HOST_DIR=$TMP/host GUEST_HOST_ADDR="" GUEST_BOOT=0
}

# With --net or --ceph: a tap on the bridge (the first free tether-tN; N is also the guest's address)
# kept for every boot. Sets NETARGS, R_CMDNET and GUEST_HOST_ADDR.
run_net() {
    NETARGS=(-nic none) R_CMDNET=""
    [ "$R_NET" = 1 ] || return 0
    ip link show "$BRIDGE" >/dev/null 2>&1 || die "no bridge $BRIDGE: run scripts/guest-lab.sh net-up first"
    local hostaddr prefix n
    hostaddr=$(ip -o -4 addr show dev "$BRIDGE" | awk '{print $4}' | head -n 1)
    [ -n "$hostaddr" ] || die "bridge $BRIDGE has no IPv4 address"
    prefix=${hostaddr%.*}
    for n in $(seq 2 254); do
        [ "$prefix.$n/24" = "$hostaddr" ] && continue
        if ip tuntap add dev "tether-t$n" mode tap 2>/dev/null; then TAP=tether-t$n; break; fi
    done
    [ -n "$TAP" ] || die "no free tap"
    ip link set "$TAP" master "$BRIDGE"
    ip link set "$TAP" up
    NETARGS=(-netdev "tap,id=n0,ifname=$TAP,script=no,downscript=no"
             -device "virtio-net-pci,netdev=n0,mac=52:54:00:74:68:$(printf %02x "$n")")
    R_CMDNET=" tether.net=$prefix.$n/24 tether.host=${hostaddr%/*}"
    GUEST_HOST_ADDR=${hostaddr%/*}
}

# $TMP/initrd: the base, the per-run archive, Tether's binaries, Python, the facts (then deleted).
# Sets R_MEM.
run_initrd() {
    local base=$1 tarchive=/dev/null parchive=/dev/null
    R_MEM=${TETHER_GUEST_MEM:-}
    pack "$TMP/extra" >"$TMP/extra.cpio"
    pack "$TMP/facts" >"$TMP/facts.cpio"
    if [ -n "$R_TETHER" ]; then
        # A release tetherd and its libraries are ~200 MB: an archive of their own, cached.
        tarchive=$(tether_archive "$R_TETHER" "$base")
        # The guest holds the packed initrd and the unpacked files at once while booting.
        [ -n "$R_MEM" ] || R_MEM=$((512 + $(cat "$tarchive.mib") + $(du -sm "$tarchive" | cut -f1)))
    fi
    if [ "$R_PYTHON" = 1 ]; then
        parchive=$(python_archive "$base")
        # Packed and unpacked at boot as Tether's, plus the driver's ~64 MiB RSS once os-brick is imported.
        [ -n "${TETHER_GUEST_MEM:-}" ] || R_MEM=$((${R_MEM:-512} + 64 + $(cat "$parchive.mib") + $(du -sm "$parchive" | cut -f1)))
    fi
    R_MEM=${R_MEM:-512}
    cat "$base/base.cpio.zst" "$TMP/extra.cpio" "$tarchive" "$parchive" "$TMP/facts.cpio" >"$TMP/initrd"
    rm -rf "$TMP/facts" "$TMP/facts.cpio"
}

# The persistent disk (--disk, or a temporary one for several boots). Sets DISKARGS and R_CMDDISK.
run_disk() {
    DISKARGS=() R_CMDDISK=""
    [ -n "$R_DISK" ] || [ "$R_BOOTS" -gt 1 ] || return 0
    [ -n "$R_DISK" ] || R_DISK=$TMP/disk.img
    [ -e "$R_DISK" ] || truncate -s 64M "$R_DISK"
    R_DISK=$(cd "$(dirname "$R_DISK")" && pwd)/$(basename "$R_DISK")
    DISKARGS=(-drive "file=$R_DISK,format=raw,if=virtio,cache=writeback")
    R_CMDDISK=" tether.disk=/dev/vda"
}

# run_hook PHASE [ARG]: SCENARIO.host PHASE, its output appended to $TMP/hook.out.
run_hook() {
    local hook=$GUEST/scenarios/$R_SCENARIO.host
    [ -f "$hook" ] || return 0
    bash "$hook" "$@" >>"$TMP/hook.out" 2>&1
}

# Boots the guest R_BOOTS times; returns the worst boot's status (0 passed, 1 failed, 2 no verdict,
# 124 timed out). Each boot's output lands in $TMP/scenario.K.log and is appended to scenario.log.
run_boots() {
    local base=$1 k rc worst=0 cmdline
    : >"$TMP/scenario.log"; : >"$TMP/console.log"
    for k in $(seq 1 "$R_BOOTS"); do
        cmdline="console=ttyS0 panic=-1 loglevel=4 tether.scenario=$R_SCENARIO"
        [ "$R_BOOTS" = 1 ] || cmdline+=" tether.boot=$k tether.boots=$R_BOOTS"
        cmdline+="$R_CMDNET$R_CMDDISK $R_APPEND"
        rc=0
        boot_once "$base" "$k" "$cmdline" || rc=$?
        [ "$R_BOOTS" = 1 ] || echo "guest-lab: --- boot $k of $R_BOOTS: ${BOOT_ELAPSED}s, status $rc" >>"$TMP/scenario.log"
        tr -d '\r' <"$TMP/scenario.$k.log" >>"$TMP/scenario.log"
        { [ "$R_BOOTS" = 1 ] || echo "--- boot $k of $R_BOOTS"; tr -d '\r' <"$TMP/console.$k.log"; } >>"$TMP/console.log"
        [ $rc -le $worst ] || worst=$rc
        [ $rc -le 1 ] || break
        if [ "$k" -lt "$R_BOOTS" ]; then
            GUEST_BOOT=$k run_hook between "$k" || echo "TETHER-RESULT fail $R_SCENARIO.host between $k exited non-zero" >>"$TMP/hook.out"
        fi
    done
    return $worst
}

# boot_once BASE K CMDLINE: one QEMU until it powers off or the timeout; its status as run_boots'.
# Sets BOOT_ELAPSED.
boot_once() {
    local base=$1 k=$2 cmdline=$3 start=$SECONDS timed_out=0 done_rc
    log "booting $(cut -d' ' -f3 "$base/KERNEL") for scenario $R_SCENARIO${R_DISK:+ (boot $k of $R_BOOTS, disk $R_DISK)} ($R_MEM MiB, timeout ${R_TIMEOUT}s)"
    : >"$TMP/console.$k.log"; : >"$TMP/scenario.$k.log"
    qemu-system-x86_64 -accel tcg -cpu "${TETHER_GUEST_CPU:-max}" -m "$R_MEM" -smp "${TETHER_GUEST_SMP:-1}" \
        -display none -monitor none -no-reboot \
        -kernel "$base/kernel" -initrd "$TMP/initrd" -append "$cmdline" \
        -serial "file:$TMP/console.$k.log" -serial "file:$TMP/scenario.$k.log" \
        "${NETARGS[@]}" ${DISKARGS[@]+"${DISKARGS[@]}"} </dev/null >>"$TMP/qemu.out" 2>&1 &
    QEMU_PID=$!
    sleep "$R_TIMEOUT" &
    TIMER_PID=$!
    wait -n "$QEMU_PID" "$TIMER_PID" || true
    if kill -0 "$TIMER_PID" 2>/dev/null; then
        kill "$TIMER_PID" 2>/dev/null; wait "$TIMER_PID" 2>/dev/null || true
    else
        timed_out=1
        kill -9 "$QEMU_PID" 2>/dev/null || true
    fi
    TIMER_PID=""
    wait "$QEMU_PID" 2>/dev/null || true
    QEMU_PID=""
    BOOT_ELAPSED=$((SECONDS - start))
    [ "$R_BOOTS" = 1 ] || log "boot $k of $R_BOOTS ended after ${BOOT_ELAPSED}s"
    done_rc=$(tr -d '\r' <"$TMP/scenario.$k.log" | sed -n 's/^TETHER-DONE \([0-9]*\)$/\1/p' | tail -n 1)
    if [ $timed_out = 1 ]; then return 124; fi
    [ -n "$done_rc" ] || return 2
    if [ "$done_rc" != 0 ] || tr -d '\r' <"$TMP/scenario.$k.log" | grep -q '^TETHER-RESULT fail'; then return 1; fi
    return 0
}

# run_report STATUS: the scenario's and the hook's output, the console when it failed (or
# TETHER_GUEST_VERBOSE=1), the logs into TETHER_GUEST_LOGS, one verdict line; returns the status.
run_report() {
    local status=$1 elapsed=$SECONDS
    cat "$TMP/scenario.log" "$TMP/hook.out"
    if [ -n "${TETHER_GUEST_LOGS:-}" ]; then
        mkdir -p "$TETHER_GUEST_LOGS"
        cp "$TMP/console.log" "$TETHER_GUEST_LOGS/$R_SCENARIO.console.log"
        cp "$TMP/scenario.log" "$TETHER_GUEST_LOGS/$R_SCENARIO.log"
    fi
    [ "$status" != 0 ] || ! grep -q '^TETHER-RESULT fail' "$TMP/hook.out" || status=1
    if [ "$status" != 0 ] || [ "${TETHER_GUEST_VERBOSE:-0}" = 1 ]; then
        [ "$status" = 0 ] || log "console (last 60 lines):"
        if [ "${TETHER_GUEST_VERBOSE:-0}" = 1 ]; then cat "$TMP/console.log"; else tail -n 60 "$TMP/console.log"; fi
        cat "$TMP/qemu.out" >&2
    fi
    case $status in
        0) log "$R_SCENARIO passed in ${elapsed}s" ;;
        124) log "$R_SCENARIO TIMED OUT after ${elapsed}s" ;;
        2) if grep -q "Kernel panic" "$TMP/console.log"; then
               log "$R_SCENARIO gave no verdict: kernel panic after ${elapsed}s"
           else
               log "$R_SCENARIO gave no verdict (the guest stopped without TETHER-DONE) after ${elapsed}s"
           fi ;;
        *) log "$R_SCENARIO FAILED in ${elapsed}s" ;;
    esac
    return "$status"
}

cleanup() {
    [ -z "${TIMER_PID:-}" ] || kill "$TIMER_PID" 2>/dev/null || true
    if [ -n "${QEMU_PID:-}" ]; then
        kill -9 "$QEMU_PID" 2>/dev/null || true
        wait "$QEMU_PID" 2>/dev/null || true
    fi
    # Cut short between pre and post: the hook still stops what it started.
    if [ "${HOOK_PENDING:-0}" = 1 ]; then HOOK_PENDING=0; run_hook post || true; fi
    [ -z "${TAP:-}" ] || ip link del "$TAP" 2>/dev/null || true
    [ -z "${TMP:-}" ] || rm -rf "$TMP"
}
