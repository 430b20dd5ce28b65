# tether-drift (issue #13): the reconciler heals what was changed by hand. tetherd ([multipath] on)
# attaches a two-path multipath iSCSI volume on the HOST's tgtd (tether-drift.host) and a krbd
# volume from a host Ceph cluster and writes a 1 MiB pattern to each; both healthy, doctor clean.
# The faults, by hand: one iSCSI path logged out (iscsiadm -u) and the krbd device unmapped (sysfs
# remove). Two rounds, so that no periodic pass can race what the scenario observes:
#  1. [reconcile] interval = tether.observe_interval (3600 s: only the pass at start): after the
#     faults `tether list` shows degraded / missing (--json and the STATUS column) and `tether
#     doctor` fails naming both volumes; then `tether reconcile` heals both.
#  2. tetherd restarted with interval = tether.reconcile_interval (5 s): the same faults, and within
#     one interval (plus tether.heal_slack, 30 s, for the heal's own work under TCG) the path is back
#     in the map and the image mapped again under the same by-tether name, both healthy, the data
#     intact, doctor clean.
. /tether/lib.sh
. /tether/reconcile.sh
trap tether_debug EXIT

OBSERVE=$(cmdline_arg observe_interval 3600)
INTERVAL=$(cmdline_arg reconcile_interval 5)
SLACK=$(cmdline_arg heal_slack 30)
MP=vol-drift-mp RBD=vol-drift-rbd IMAGE=tether-drift
tgt_load || { result_fail tgt-facts "no /tether/share/tgt.env (tether-drift.host pre)"; exit 1; }
[ -n "$(ceph_clusters)" ] || { result_fail clusters "run with --ceph DIR"; exit 1; }

tetherd_up true /run/tether/state "$OBSERVE" || exit 1
result_ok tetherd
CLUSTER=$(rbd_cluster) || { result_fail cluster-add "$(tail -n 2 "$TETHER_LOG")"; exit 1; }
attach_mp "$MP" || { result_fail attach-mp "$(tail -n 3 /tmp/$MP.err | tr '\n' ' ')"; exit 1; }
attach_rbd "$RBD" "$CLUSTER" "$IMAGE" || { result_fail attach-rbd "$(tail -n 3 /tmp/$RBD.err | tr '\n' ' ')"; exit 1; }
udevadm settle --timeout=20
WWID=$(mp_wwid "$(json_top wwid </tmp/$MP.out)")
check two-paths wait_until 20 two_paths "$WWID"
check rbd-device sh -c "readlink -f /dev/disk/by-tether/$RBD | grep -Eq '^/dev/rbd[0-9]+\$'"
dd if=/dev/urandom of=/tmp/pattern bs=1048576 count=1 2>/dev/null
for v in $MP $RBD; do
    check "write-$v" pattern_write "$v" /tmp/pattern
    check "healthy-$v" status_becomes "$v" healthy 10
done
doctor_clean doctor-before
show_state "before the faults"

# faults ROUND: the krbd device unmapped, path 2 logged out; sets T0.
faults() {
    local dev remove=/sys/bus/rbd/remove_single_major
    [ -e $remove ] || remove=/sys/bus/rbd/remove
    dev=$(readlink -f "/dev/disk/by-tether/$RBD")
    T0=$(cut -d' ' -f1 /proc/uptime)
    check "$1-unmap-rbd" sh -c "echo ${dev#/dev/rbd} >$remove"
    check "$1-logout-path2" iscsiadm -m node -T "$TGT_IQN" -p "$TGT_PORTAL2" -u
}

since() { awk -v a="$T0" '{print $1 - a}' /proc/uptime; }

# healed ROUND SECONDS: path back, image mapped under the same names, healthy, data intact.
healed() {
    local round=$1 deadline
    deadline=$(awk -v a="$T0" -v s="$2" '{print int(a + s)}' /proc/uptime)
    left() { echo $((deadline - $(cut -d. -f1 /proc/uptime))); }
    check "$round-path2-back" wait_until "$(left)" two_paths "$WWID"
    check "$round-rbd-back" wait_until "$(left)" sh -c "readlink -f /dev/disk/by-tether/$RBD | grep -Eq '^/dev/rbd[0-9]+\$'"
    log "$round: heal checks done $(since) s after the faults"
    udevadm settle --timeout=20
    check "$round-rbd-same-names" sh -c "[ \"\$(readlink -f /dev/rbd/$CLUSTER/rbd/$IMAGE)\" = \"\$(readlink -f /dev/disk/by-tether/$RBD)\" ]"
    check "$round-session2" sh -c "iscsiadm -m session | grep -F '$TGT_PORTAL2' | grep -qF '$TGT_IQN'"
    for v in $MP $RBD; do
        check "$round-healthy-$v" status_becomes "$v" healthy 10
        check "$round-listed-$v" listed_as "$v" healthy
        check "$round-pattern-$v" pattern_check "$v" /tmp/pattern
    done
}

# Round 1: observed with no periodic pass due, then healed on request.
faults fault1
tether list --json >/tmp/list.fault.json 2>&1
log "after the faults ($(since) s): $MP $(list_status $MP </tmp/list.fault.json), $RBD $(list_status $RBD </tmp/list.fault.json)"
check fault1-degraded-$MP status_becomes "$MP" degraded 10
check fault1-missing-$RBD status_becomes "$RBD" missing 10
check fault1-listed-degraded listed_as "$MP" degraded
check fault1-listed-missing listed_as "$RBD" missing
doctor_reports doctor-fault "$MP" "$RBD"
check reconcile tether reconcile --json
healed fault1 "$SLACK"
doctor_clean doctor-after-reconcile

# Round 2: the periodic pass heals within one interval.
tetherd_stop
tetherd_up true /run/tether/state "$INTERVAL" || exit 1
for v in $MP $RBD; do check "restart-healthy-$v" status_becomes "$v" healthy 30; done
faults fault2
healed fault2 $((INTERVAL + SLACK))
doctor_clean doctor-after
show_state "after healing"
for v in $MP $RBD; do check "detach-$v" tether detach "$v"; done
