# tether-multipath: the real tetherd ([multipath] enabled) attaches one LUN over both portals ->
# a dm-multipath map (dm-N) of two paths named /dev/disk/by-tether/<vol>; the LUN grows and
# `tether extend` shows the new size on both paths and the map; portal 2 goes down and I/O goes on;
# detach removes the map, both paths and both sessions. Then, with [multipath] off, a single-path
# attach that this lab's multipathd (find_multipaths off) wraps in a map anyway answers the map.
. /tether/lib.sh
trap tether_debug EXIT
MiB=1048576

target_lun_add 3 64 || { result_fail target "target_lun_add"; exit 1; }
WWID=$(target_lun_wwid 3)
tether_setup true || { result_fail tetherd "did not start: $(tail -n 3 $TETHER_LOG)"; exit 1; }
result_ok tetherd
check connector-multipath sh -c "tether connector --json | tr -d ' \n' | grep -q '\"multipath\":true'"

iscsi_info /tmp/mp.json vol-mp 3 "$PORTAL1" "$PORTAL2"
t0=$(cut -d' ' -f1 /proc/uptime)
if ! tether attach --mode kernel --connection-info /tmp/mp.json --json >/tmp/mp.out 2>/tmp/mp.err; then
    result_fail attach "$(tail -n 3 /tmp/mp.err | tr '\n' ' ')"
    exit 1
fi
dev=$(json_get device_path </tmp/mp.out)
log "vol-mp attached as $dev in $(awk -v a="$t0" '{print $1 - a}' /proc/uptime) s"
udevadm settle --timeout=20
check dm-device sh -c "echo '$dev' | grep -Eq '^/dev/dm-[0-9]+\$' && [ -b '$dev' ]"
check by-tether sh -c "[ \"\$(readlink -f /dev/disk/by-tether/vol-mp)\" = '$dev' ]"
check map-wwid sh -c "[ \"\$(readlink -f /dev/mapper/$WWID)\" = '$dev' ]"
check two-paths wait_until 20 sh -c "[ \$(multipath -ll $WWID 2>/dev/null | grep -c 'active ready running') = 2 ]"
check two-sessions sh -c "[ \$(iscsiadm -m session | wc -l) = 2 ]"
check two-slaves sh -c "[ \$(ls /sys/block/${dev#/dev/}/slaves | wc -l) = 2 ]"
check size sh -c "[ \$(blockdev --getsize64 $dev) = $((64 * MiB)) ]"
dd if=/dev/urandom of=/tmp/pattern bs=1M count=4 2>/dev/null
check write dd if=/tmp/pattern of=/dev/disk/by-tether/vol-mp bs=1M count=4 oflag=direct conv=fsync
check read sh -c "dd if=$dev bs=1M count=4 iflag=direct 2>/dev/null | cmp -s - /tmp/pattern"
multipath -ll "$WWID"

# Extend: the LUN grows on the target; tether extend rescans both paths and resizes the map.
target_lun_resize 3 96 || result_fail resize target_lun_resize
tether extend vol-mp --json >/tmp/extend.out 2>&1
check extend-size test "$(json_get size_bytes </tmp/extend.out)" = $((96 * MiB)) || cat /tmp/extend.out
check extend-map-size sh -c "[ \$(blockdev --getsize64 $dev) = $((96 * MiB)) ]"
for slave in /sys/block/${dev#/dev/}/slaves/*; do
    check "extend-path-${slave##*/}" sh -c "[ \$(blockdev --getsize64 /dev/${slave##*/}) = $((96 * MiB)) ]"
done
check extend-show sh -c "tether show vol-mp --json | grep -q '\"size_bytes\" *: *$((96 * MiB))'"
check read-after-extend sh -c "dd if=$dev bs=1M count=4 iflag=direct 2>/dev/null | cmp -s - /tmp/pattern"

log "portal 2 down"
portal_down 2
dd if=/dev/urandom of=/tmp/pattern2 bs=1M count=2 2>/dev/null
check write-one-portal timeout 60 dd if=/tmp/pattern2 of="$dev" bs=1M count=2 seek=8 oflag=direct conv=fsync
check read-one-portal sh -c "timeout 60 dd if=$dev bs=1M count=2 skip=8 iflag=direct 2>/dev/null | cmp -s - /tmp/pattern2"
check path-failed wait_until 30 sh -c "[ \$(multipath -ll $WWID | grep -c 'failed faulty') = 1 ]"
check show-while-degraded tether show vol-mp

t0=$(cut -d' ' -f1 /proc/uptime)
check detach timeout 120 tether detach vol-mp
log "detach took $(awk -v a="$t0" '{print $1 - a}' /proc/uptime) s"
udevadm settle --timeout=20
check no-map sh -c "[ -z \"\$(dmsetup ls --target multipath | grep -v 'No devices found')\" ]"
check no-disks sh -c "! ls /sys/block | grep -q '^sd'"
check no-sessions sh -c "iscsiadm -m session >/dev/null 2>&1; [ \$? = 21 ]"
check no-by-tether sh -c "[ -z \"\$(ls /dev/disk/by-tether 2>/dev/null)\" ]"
check no-records sh -c "! iscsiadm -m node >/dev/null 2>&1"
portal_up 2

# One path on a node that does not multipath ([multipath] enabled = false: no discovery of the
# other portal) but whose multipathd takes every disk (this lab's find_multipaths off): the disk is
# wrapped in a map moments after udev saw it, so the attach answers the map, not the disk under
# it; detach removes both.
kill "$TETHERD_PID" 2>/dev/null; wait "$TETHERD_PID" 2>/dev/null; TETHERD_PID=
tether_setup false || { result_fail tetherd-single "did not start: $(tail -n 3 $TETHER_LOG)"; exit 1; }
iscsi_info /tmp/one.json vol-one 3 "$PORTAL1"
if tether attach --mode kernel --connection-info /tmp/one.json --json >/tmp/one.out 2>/tmp/one.err; then
    dev=$(json_get device_path </tmp/one.out)
    udevadm settle --timeout=20
    check greedy-map sh -c "echo '$dev' | grep -Eq '^/dev/dm-[0-9]+\$' && [ \$(ls /sys/block/${dev#/dev/}/slaves | wc -l) = 1 ]"
    check greedy-by-tether sh -c "[ \"\$(readlink -f /dev/disk/by-tether/vol-one)\" = '$dev' ]"
    check greedy-detach tether detach vol-one
    udevadm settle --timeout=20
    check greedy-no-map sh -c "[ -z \"\$(dmsetup ls --target multipath | grep -v 'No devices found')\" ]"
    check greedy-no-disks sh -c "! ls /sys/block | grep -q '^sd'"
    check greedy-no-sessions sh -c "iscsiadm -m session >/dev/null 2>&1; [ \$? = 21 ]"
else
    result_fail greedy-attach "$(tail -n 3 /tmp/one.err | tr '\n' ' ')"
fi
