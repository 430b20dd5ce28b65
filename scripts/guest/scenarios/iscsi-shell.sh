# iscsi-shell: the kernel iSCSI path by hand, as Tether's connector will drive it — open-iscsi node
# records with CHAP, login on both portals with manual scan, a targeted LUN scan, udev names, a
# dm-multipath map of two paths, I/O, growing the LUN, losing and regaining a portal, then flush,
# device removal and logout with nothing left behind. (A shell proof: the CHAP secret is on
# iscsiadm's command line here, which the real connector must not do.)
. /tether/lib.sh

LUN=0
fail_and_exit() {
    result_fail "$@"
    log "multipath -ll:"; multipath -ll 2>&1
    log "sessions:"; iscsiadm -m session 2>&1
    exit 1
}

# The session logged in to portal $1 (ip:port) of $TARGET_IQN, e.g. "session3".
session_for() {
    local s conn
    for s in /sys/class/iscsi_session/session*; do
        [ -e "$s" ] || continue
        [ "$(cat "$s/targetname")" = "$TARGET_IQN" ] || continue
        for conn in "$s"/device/connection*/iscsi_connection/connection*; do
            if [ "$(cat "$conn/persistent_address"):$(cat "$conn/persistent_port")" = "$1" ]; then
                basename "$s"
                return 0
            fi
        done
    done
    return 1
}

# The SCSI host number of a session: its device lives under /sys/devices/platform/hostN/sessionM.
host_of() {
    basename "$(dirname "$(readlink -f "/sys/class/iscsi_session/$1/device")")" | sed 's/^host//'
}

# The sd device of LUN $2 of session $1.
disk_of() {
    local d
    for d in /sys/class/iscsi_session/"$1"/device/target*/*:0:0:"$2"/block/*; do
        [ -e "$d" ] && { basename "$d"; return 0; }
    done
    return 1
}

paths_in_state() {  # WWID STATE: how many of the map's paths multipath -ll shows in STATE
    multipath -ll "$1" 2>/dev/null | grep -c "$2"
}

log "target LUN $LUN: 64 MiB"
target_lun_add $LUN 64 || fail_and_exit target-lun "target_lun_add"
WWID=$(target_lun_wwid $LUN)
log "expected WWID $WWID"

check discovery sh -c "iscsiadm -m discovery -t sendtargets -p $PORTAL1 | grep -q '$PORTAL2,2 $TARGET_IQN'"
# Discovery wrote records for both portals; start from clean ones made like the connector does.
iscsiadm -m node -o delete >/dev/null 2>&1
for p in $PORTAL1 $PORTAL2; do
    iscsiadm -m node -T "$TARGET_IQN" -p "$p" -o new >/dev/null || fail_and_exit "node-new-$p" "iscsiadm -o new"
    for kv in node.session.auth.authmethod=CHAP node.session.auth.username=$CHAP_USER \
              node.session.auth.password=$CHAP_PASS node.session.scan=manual node.startup=manual \
              node.session.timeo.replacement_timeout=5; do
        iscsiadm -m node -T "$TARGET_IQN" -p "$p" -o update -n "${kv%%=*}" -v "${kv#*=}" ||
            fail_and_exit "node-update-$p" "${kv%%=*}"
    done
done
result_ok node-records

for p in $PORTAL1 $PORTAL2; do
    iscsiadm -m node -T "$TARGET_IQN" -p "$p" --login >/dev/null 2>&1 || fail_and_exit "login-$p" "iscsiadm --login"
done
S1=$(session_for $PORTAL1) && S2=$(session_for $PORTAL2) || fail_and_exit sessions "no session per portal"
result_ok "login $S1 $S2"

# node.session.scan=manual: no LUN appears until it is scanned for.
check manual-scan-nothing sh -c "! ls -d /sys/class/iscsi_session/$S1/device/target*/*:0:0:$LUN"
for s in $S1 $S2; do
    echo "0 0 $LUN" >"/sys/class/scsi_host/host$(host_of $s)/scan" || fail_and_exit "scan-$s" "write scan"
done
wait_until 20 disk_of $S1 $LUN && wait_until 20 disk_of $S2 $LUN || fail_and_exit disks "no sd device after the scan"
D1=$(disk_of $S1 $LUN); D2=$(disk_of $S2 $LUN)
result_ok "disks $D1 $D2"
udevadm settle --timeout=20
check scsi-id sh -c "[ \"\$(/usr/lib/udev/scsi_id --whitelisted --device=/dev/$D1)\" = $WWID ] && [ \"\$(/usr/lib/udev/scsi_id --whitelisted --device=/dev/$D2)\" = $WWID ]"
check by-id-scsi test -b "/dev/disk/by-id/scsi-$WWID"
check by-id-wwn test -b "/dev/disk/by-id/wwn-0x${WWID#3}"
check by-path test -b "/dev/disk/by-path/ip-$PORTAL2-iscsi-$TARGET_IQN-lun-$LUN"

wait_until 20 test -b "/dev/mapper/$WWID" || fail_and_exit multipath-map "no /dev/mapper/$WWID"
wait_until 20 sh -c "[ \$(multipath -ll $WWID 2>/dev/null | grep -c 'active ready running') = 2 ]" ||
    fail_and_exit multipath-paths "map has not 2 active paths: $(multipath -ll "$WWID" 2>&1 | tr '\n' '|')"
result_ok "multipath map $WWID with 2 paths"
check dm-table sh -c "dmsetup table $WWID | grep -q multipath"
multipath -ll "$WWID"

MAP=/dev/mapper/$WWID
dd if=/dev/urandom of=/tmp/pattern bs=1M count=4 2>/dev/null
check write dd if=/tmp/pattern of="$MAP" bs=1M count=4 oflag=direct conv=fsync
check read-back sh -c "dd if=$MAP bs=1M count=4 iflag=direct 2>/dev/null | cmp -s - /tmp/pattern"
check size-64 sh -c "[ \$(blockdev --getsize64 $MAP) = $((64 * 1048576)) ]"

# Grow the LUN: rescan each path, then let multipathd resize the map.
target_lun_resize $LUN 96 || fail_and_exit resize "target_lun_resize"
echo 1 >"/sys/block/$D1/device/rescan"; echo 1 >"/sys/block/$D2/device/rescan"
check path-size-96 sh -c "[ \$(blockdev --getsize64 /dev/$D1) = $((96 * 1048576)) ]"
check multipathd-resize multipathd resize map "$WWID"
check map-size-96 sh -c "[ \$(blockdev --getsize64 $MAP) = $((96 * 1048576)) ]"

# Portal 2 goes away: its session is closed and cannot log in again; I/O goes on through portal 1.
log "portal 2 down"
portal_down 2
dd if=/dev/urandom of=/tmp/pattern2 bs=1M count=2 2>/dev/null
check write-one-portal timeout 60 dd if=/tmp/pattern2 of="$MAP" bs=1M count=2 seek=8 oflag=direct conv=fsync
check read-one-portal sh -c "timeout 60 dd if=$MAP bs=1M count=2 skip=8 iflag=direct 2>/dev/null | cmp -s - /tmp/pattern2"
check path-failed wait_until 30 sh -c "[ \$(multipath -ll $WWID | grep -c 'failed faulty') = 1 ]"
multipath -ll "$WWID"
log "portal 2 up"
portal_up 2
check path-reinstated wait_until 60 sh -c "[ \$(multipath -ll $WWID | grep -c 'active ready running') = 2 ]"
check read-both-portals sh -c "dd if=$MAP bs=1M count=4 iflag=direct 2>/dev/null | cmp -s - /tmp/pattern"

# Detach as the connector will: flush the map, delete the paths, log out, forget the records.
check flush-map multipath -f "$WWID"
for d in $D1 $D2; do
    blockdev --flushbufs "/dev/$d" 2>/dev/null
    echo 1 >"/sys/block/$d/device/delete"
done
check paths-deleted wait_until 10 sh -c "[ ! -e /sys/block/$D1 ] && [ ! -e /sys/block/$D2 ]"
for p in $PORTAL1 $PORTAL2; do
    check "logout-$p" iscsiadm -m node -T "$TARGET_IQN" -p "$p" --logout
    iscsiadm -m node -T "$TARGET_IQN" -p "$p" -o delete
done
udevadm settle --timeout=20
check no-sessions sh -c "iscsiadm -m session >/dev/null 2>&1; [ \$? = 21 ]"
check no-disks sh -c "! ls /sys/block | grep -q '^sd'"
check no-maps sh -c "[ -z \"\$(dmsetup ls --target multipath | grep -v 'No devices found')\" ]"
check no-by-id sh -c "! ls /dev/disk/by-id/ 2>/dev/null | grep -q ."
check no-records sh -c "! iscsiadm -m node >/dev/null 2>&1"
