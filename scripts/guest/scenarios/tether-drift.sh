# tether-drift (issue #13): the reconciler heals what was changed by hand. tetherd ([multipath] on,
# [reconcile] interval = tether.reconcile_interval, default 5 s) attaches a two-path multipath
# iSCSI volume on the HOST's tgtd (tether-drift.host) and a krbd volume from a host Ceph cluster,
# writes a 1 MiB pattern to each; both healthy, doctor clean. Then, by hand, one iSCSI path is
# logged out (iscsiadm -u) and the krbd device unmapped (sysfs remove): at once `tether list`
# shows degraded / missing and `tether doctor` fails naming both volumes; within one interval (plus
# tether.heal_slack, default 30 s, for the heal's own work under TCG) the path is back in the map,
# the image mapped again under the same by-tether name, both healthy, the data intact, doctor clean.
# The observation races the reconciler: a pass that runs between the fault and `tether list`
# (~1 s under TCG) heals first; a longer interval makes that rarer.
. /tether/lib.sh
. /tether/reconcile.sh
trap tether_debug EXIT

INTERVAL=$(cmdline_arg reconcile_interval 5)
SLACK=$(cmdline_arg heal_slack 30)
MP=vol-drift-mp RBD=vol-drift-rbd IMAGE=tether-drift
tgt_load || { result_fail tgt-facts "no /tether/share/tgt.env (tether-drift.host pre)"; exit 1; }
[ -n "$(ceph_clusters)" ] || { result_fail clusters "run with --ceph DIR"; exit 1; }

tetherd_up true /run/tether/state "$INTERVAL" || exit 1
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

# The faults, by hand.
rbd_dev=$(readlink -f "/dev/disk/by-tether/$RBD")
rbd_id=${rbd_dev#/dev/rbd}
remove=/sys/bus/rbd/remove_single_major
[ -e $remove ] || remove=/sys/bus/rbd/remove
t0=$(cut -d' ' -f1 /proc/uptime)
check fault-logout-path2 iscsiadm -m node -T "$TGT_IQN" -p "$TGT_PORTAL2" -u
check fault-unmap-rbd sh -c "echo $rbd_id >$remove"
udevadm settle --timeout=20
# Seen at once, before a reconcile pass heals them.
tether list --json >/tmp/list.fault.json 2>&1
tether list >/tmp/list.fault 2>&1
st_mp=$(list_status $MP </tmp/list.fault.json)
st_rbd=$(list_status $RBD </tmp/list.fault.json)
log "after the faults ($(awk -v a="$t0" '{print $1 - a}' /proc/uptime) s): $MP ${st_mp:-<none>}, $RBD ${st_rbd:-<none>}"
cat /tmp/list.fault
check fault-seen-degraded-$MP test "$st_mp" = degraded
check fault-seen-missing-$RBD test "$st_rbd" = missing
check fault-listed sh -c "grep -w $MP /tmp/list.fault | grep -qw degraded && grep -w $RBD /tmp/list.fault | grep -qw missing"
doctor_reports doctor-fault "$MP" "$RBD"

# Healed within one interval (plus the heal's own time), both by one deadline.
deadline=$(awk -v a="$t0" -v s=$((INTERVAL + SLACK)) '{print int(a + s)}' /proc/uptime)
left() { echo $((deadline - $(cut -d. -f1 /proc/uptime))); }
check healed-path2 wait_until "$(left)" two_paths "$WWID"
check healed-rbd-mapped wait_until "$(left)" sh -c "readlink -f /dev/disk/by-tether/$RBD | grep -Eq '^/dev/rbd[0-9]+\$'"
log "heal checks done $(awk -v a="$t0" '{print $1 - a}' /proc/uptime) s after the faults (interval $INTERVAL s)"
udevadm settle --timeout=20
check healed-rbd-same-names sh -c "[ \"\$(readlink -f /dev/rbd/$CLUSTER/rbd/$IMAGE)\" = \"\$(readlink -f /dev/disk/by-tether/$RBD)\" ]"
check healed-session sh -c "iscsiadm -m session | grep -F '$TGT_PORTAL2' | grep -qF '$TGT_IQN'"
for v in $MP $RBD; do
    check "healed-healthy-$v" status_becomes "$v" healthy 10
    check "healed-listed-$v" listed_as "$v" healthy
    check "healed-pattern-$v" pattern_check "$v" /tmp/pattern
done
doctor_clean doctor-after
show_state "after healing"
for v in $MP $RBD; do check "detach-$v" tether detach "$v"; done
