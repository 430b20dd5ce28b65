# tether-iscsi: the real tetherd + tether in kernel mode over one portal — attach (sdX,
# /dev/disk/by-tether/<vol>), I/O, detach with nothing left; then two volumes (LUN 1, LUN 2) of one
# target sharing a session: detaching one keeps the other (no logout); extend after the LUN grew.
. /tether/lib.sh
trap tether_debug EXIT
MiB=1048576

clean() {  # nothing of the target left on this node
    udevadm settle --timeout=20
    check "$1-no-sessions" sh -c "iscsiadm -m session >/dev/null 2>&1; [ \$? = 21 ]"
    check "$1-no-disks" sh -c "! ls /sys/block | grep -q '^sd'"
    check "$1-no-dev-sd" sh -c "! ls /dev/sd* 2>/dev/null"
    check "$1-no-by-tether" sh -c "[ -z \"\$(ls /dev/disk/by-tether 2>/dev/null)\" ]"
    check "$1-no-records" sh -c "! iscsiadm -m node >/dev/null 2>&1"
    check "$1-no-maps" sh -c "[ -z \"\$(dmsetup ls --target multipath | grep -v 'No devices found')\" ]"
    check "$1-no-map-files" sh -c "[ -z \"\$(ls /run/tether/by-wwid 2>/dev/null)\" ]"
}

attach() {  # VOL LUN: attach, print the device path
    iscsi_info "/tmp/$1.json" "$1" "$2" "$PORTAL1"
    tether attach --mode kernel --connection-info "/tmp/$1.json" --json >"/tmp/$1.out" 2>"/tmp/$1.err" ||
        { result_fail "attach-$1" "$(tail -n 3 /tmp/$1.err | tr '\n' ' ')"; return 1; }
    json_get device_path <"/tmp/$1.out"
}

io() {  # NAME DEVICE SEED
    dd if=/dev/urandom of="/tmp/pattern-$1" bs=1M count=2 2>/dev/null
    check "write-$1" dd if="/tmp/pattern-$1" of="$2" bs=1M count=2 seek="$3" oflag=direct conv=fsync
    check "read-$1" sh -c "dd if=$2 bs=1M count=2 skip=$3 iflag=direct 2>/dev/null | cmp -s - /tmp/pattern-$1"
}

# A node that attaches over one path ([multipath] enabled = false) keeps multipathd off its
# disks: find_multipaths strict makes maps only for WWIDs multipath was told of. (With the lab's
# greedy "off", multipathd wraps each new sdX in a map and the attach answers the map:
# tether-multipath's last part.)
sed -i 's/find_multipaths off/find_multipaths strict/' /etc/multipath.conf
multipathd reconfigure >/dev/null || result_fail multipathd-reconfigure "multipathd reconfigure"
target_lun_add 1 64 && target_lun_add 2 32 || { result_fail target "target_lun_add"; exit 1; }
tether_setup false || { result_fail tetherd "did not start: $(tail -n 3 $TETHER_LOG)"; exit 1; }
result_ok tetherd
check connector sh -c "tether connector --json | grep -q '$INITIATOR_IQN'"

# One volume, one path.
t0=$(cut -d' ' -f1 /proc/uptime)
dev=$(attach vol-1 1) || exit 1
log "vol-1 attached as $dev in $(awk -v a="$t0" '{print $1 - a}' /proc/uptime) s"
check single-sd sh -c "echo '$dev' | grep -Eq '^/dev/sd[a-z]+\$' && [ -b '$dev' ]"
check single-by-tether sh -c "[ \"\$(readlink -f /dev/disk/by-tether/vol-1)\" = '$dev' ]"
check single-size sh -c "[ \$(blockdev --getsize64 /dev/disk/by-tether/vol-1) = $((64 * MiB)) ]"
check single-one-session sh -c "[ \$(iscsiadm -m session | wc -l) = 1 ]"
check single-no-chap-on-argv sh -c "! grep -rq '$CHAP_PASS' $TETHER_LOG /run/tether/state 2>/dev/null"
io single /dev/disk/by-tether/vol-1 0
check single-list sh -c "tether list | grep -q vol-1"
check single-detach tether detach vol-1
clean single

# Two volumes on one target and session.
dev1=$(attach vol-1 1) || exit 1
dev2=$(attach vol-2 2) || exit 1
log "vol-1 $dev1, vol-2 $dev2"
check two-devices sh -c "[ -b '$dev1' ] && [ -b '$dev2' ] && [ '$dev1' != '$dev2' ]"
check two-by-tether sh -c "[ \"\$(readlink -f /dev/disk/by-tether/vol-1)\" = '$dev1' ] && [ \"\$(readlink -f /dev/disk/by-tether/vol-2)\" = '$dev2' ]"
check two-one-session sh -c "[ \$(iscsiadm -m session | wc -l) = 1 ]"
io two-1 "$dev1" 1
io two-2 "$dev2" 1
check two-detach-1 tether detach vol-1
udevadm settle --timeout=20
check two-session-kept sh -c "[ \$(iscsiadm -m session | wc -l) = 1 ]"
check two-dev1-gone sh -c "[ ! -e /dev/disk/by-tether/vol-1 ] && [ ! -e /sys/block/${dev1#/dev/} ]"
check two-dev2-by-tether sh -c "[ \"\$(readlink -f /dev/disk/by-tether/vol-2)\" = '$dev2' ]"
check two-dev2-still-reads sh -c "dd if=$dev2 bs=1M count=2 skip=1 iflag=direct 2>/dev/null | cmp -s - /tmp/pattern-two-2"
io two-2-after "$dev2" 4

# Extend: the LUN grows, tether extend rescans.
target_lun_resize 2 48 || result_fail resize target_lun_resize
tether extend vol-2 --json >/tmp/extend.out 2>&1
size=$(json_get size_bytes </tmp/extend.out)
check extend-size test "$size" = $((48 * MiB)) || cat /tmp/extend.out
check extend-device-size sh -c "[ \$(blockdev --getsize64 $dev2) = $((48 * MiB)) ]"
check extend-show sh -c "tether show vol-2 --json | grep -q '\"size_bytes\" *: *$((48 * MiB))'"
check two-detach-2 tether detach vol-2
check detach-again tether detach vol-2
clean two
check tether-list-empty sh -c "! tether list | grep -q vol-"
