# tether-reboot (issue #13): attachments survive a real reboot. Tether's state (/var/lib/tether),
# its config and cluster registry (/etc/tether), /etc/iscsi, /etc/ceph and /etc/multipath are on the
# guest's persistent disk; the iSCSI target is the HOST's tgtd (two portals on the bridge, started
# by tether-reboot.host) and the RBD image is in a host Ceph cluster, so both outlive the guest.
# Boot 1: tetherd ([multipath] on, [reconcile] interval) attaches a two-path multipath iSCSI volume
# and a krbd volume in kernel mode, writes a 1 MiB pattern to each, sees them healthy and doctor
# clean, and stops as a service would; the guest powers off. Boot 2 (a new QEMU, same disk): the
# disk holds the journal, node records and cluster files, nothing is attached; tetherd is started as
# a service would be, with no other command, and within tether.restore_wait seconds (120) both
# volumes are back under /dev/disk/by-tether/<volume> (the iSCSI one on two paths), `tether list`
# shows them healthy, the pattern reads back and doctor is clean; then both are detached.
# guest-lab: boots=2
. /tether/lib.sh
. /tether/reconcile.sh
trap tether_debug EXIT

boot=$(cmdline_arg boot 1)
INTERVAL=$(cmdline_arg reconcile_interval 5)
RESTORE_WAIT=$(cmdline_arg restore_wait 120)
LAB=$PERSIST/lab              # the scenario's own notes, on the persistent disk
MP=vol-reboot-mp RBD=vol-reboot-rbd IMAGE=tether-reboot
log "boot $boot of $(cmdline_arg boots 1)"

check persistent-disk persist_on /var/lib/tether || exit 1
tgt_load || { result_fail tgt-facts "no /tether/share/tgt.env (tether-reboot.host pre)"; exit 1; }
[ -n "$(ceph_clusters)" ] || { result_fail clusters "run with --ceph DIR"; exit 1; }
mkdir -p "$LAB"

boot1() {
    tetherd_up true /var/lib/tether "$INTERVAL" || exit 1
    result_ok tetherd
    CLUSTER=$(rbd_cluster) || { result_fail cluster-add "$(tail -n 2 "$TETHER_LOG")"; exit 1; }
    echo "$CLUSTER" >"$LAB/cluster"
    attach_mp "$MP" || { result_fail attach-mp "$(tail -n 3 /tmp/$MP.err | tr '\n' ' ')"; exit 1; }
    attach_rbd "$RBD" "$CLUSTER" "$IMAGE" || { result_fail attach-rbd "$(tail -n 3 /tmp/$RBD.err | tr '\n' ' ')"; exit 1; }
    udevadm settle --timeout=20
    WWID=$(mp_wwid "$(json_top wwid </tmp/$MP.out)")
    echo "$WWID" >"$LAB/wwid"
    check mp-dm-device sh -c "readlink -f /dev/disk/by-tether/$MP | grep -Eq '^/dev/dm-[0-9]+\$'"
    check mp-two-paths wait_until 20 two_paths "$WWID"
    check mp-host-portals sh -c "[ \$(iscsiadm -m session | grep -c '$TGT_IQN') = 2 ]"
    check rbd-device sh -c "readlink -f /dev/disk/by-tether/$RBD | grep -Eq '^/dev/rbd[0-9]+\$'"
    check rbd-cluster-name sh -c "[ \"\$(readlink -f /dev/rbd/$CLUSTER/rbd/$IMAGE)\" = \"\$(readlink -f /dev/disk/by-tether/$RBD)\" ]"
    dd if=/dev/urandom of="$LAB/pattern" bs=1048576 count=1 2>/dev/null
    for v in $MP $RBD; do
        check "write-$v" pattern_write "$v" "$LAB/pattern"
        check "read-$v" pattern_check "$v" "$LAB/pattern"
        check "healthy-$v" status_becomes "$v" healthy 10
        check "listed-healthy-$v" listed_as "$v" healthy
    done
    doctor_clean doctor-before-reboot
    show_state "boot 1, before the power-off"
    # As a service manager does on the way down: tetherd gets SIGTERM (it keeps its attachments).
    tetherd_stop
    echo done >"$LAB/boot1"
    sync
}

boot2() {
    [ -f "$LAB/boot1" ] || { result_fail boot1 "boot 1 did not get to the reboot: nothing to check"; exit 1; }
    CLUSTER=$(cat "$LAB/cluster") WWID=$(cat "$LAB/wwid")
    # What survived on the disk, and that this is a new machine: no session, map or mapping.
    check kept-journal test -s /var/lib/tether/journal.sqlite
    check kept-config test -s "$TETHER_CONF"
    check kept-node-records sh -c "ls /etc/iscsi/nodes | grep -qF '$TGT_IQN'"
    check kept-cluster sh -c "ls /etc/tether/clusters.d/$CLUSTER.toml /etc/ceph/$CLUSTER.conf"
    check fresh-no-sessions sh -c "iscsiadm -m session >/dev/null 2>&1; [ \$? = 21 ]"
    check fresh-no-rbd sh -c "[ -z \"\$(ls /sys/bus/rbd/devices)\" ]"
    check fresh-no-names sh -c "[ -z \"\$(ls /dev/disk/by-tether 2>/dev/null)\" ]"
    show_state "boot 2, before tetherd"

    # Started as a service would be: the packaged files, the config on disk, and no command after it.
    tether_install
    t0=$(cut -d' ' -f1 /proc/uptime)
    tetherd_start "$RESTORE_WAIT" || { result_fail tetherd "did not start: $(tail -n 3 "$TETHER_LOG" | tr '\n' ' ')"; exit 1; }
    log "tetherd answers after $(awk -v a="$t0" '{print $1 - a}' /proc/uptime) s"
    # One bound from tetherd's start, the wait for its socket included.
    left=$(awk -v a="$t0" -v w="$RESTORE_WAIT" '{ l = int(a + w - $1); print (l > 0 ? l : 0) }' /proc/uptime)
    if wait_until "$left" test -b "/dev/disk/by-tether/$MP" -a -b "/dev/disk/by-tether/$RBD"; then
        result_ok restored-within-${RESTORE_WAIT}s
        log "both back $(awk -v a="$t0" '{print $1 - a}' /proc/uptime) s after tetherd started"
    else
        result_fail restored-within-${RESTORE_WAIT}s "not back: $(ls /dev/disk/by-tether 2>&1 | tr '\n' ' ')"
    fi
    udevadm settle --timeout=20
    check back-mp-dm-device sh -c "readlink -f /dev/disk/by-tether/$MP | grep -Eq '^/dev/dm-[0-9]+\$'"
    check back-mp-two-paths wait_until 20 two_paths "$WWID"
    check back-rbd-cluster-name sh -c "[ -b /dev/rbd/$CLUSTER/rbd/$IMAGE ] && [ \"\$(readlink -f /dev/rbd/$CLUSTER/rbd/$IMAGE)\" = \"\$(readlink -f /dev/disk/by-tether/$RBD)\" ]"
    for v in $MP $RBD; do
        check "back-healthy-$v" status_becomes "$v" healthy 30
        check "back-listed-healthy-$v" listed_as "$v" healthy
        check "back-pattern-$v" pattern_check "$v" "$LAB/pattern"
    done
    doctor_clean doctor-after-reboot
    show_state "boot 2, after tetherd's start"
    for v in $MP $RBD; do
        tether list 2>/dev/null | grep -qw "$v" && check "detach-$v" tether detach "$v"
    done
}

if [ "$boot" = 1 ]; then boot1; else boot2; fi
