# tether-crash: tetherd is killed (-9) between the iSCSI login and the LUN's discovery (the LUN is
# not exported yet, so the attach waits for its disk), and restarts: its recovery must roll the
# cut-off attach back — no session, node record or disk left — and the volume attaches afterwards.
# Then again with [multipath] on, killed once the dm map exists: the restart removes map, paths,
# sessions and records.
. /tether/lib.sh
trap tether_debug EXIT

tether_setup false || { result_fail tetherd "did not start: $(tail -n 3 $TETHER_LOG)"; exit 1; }
result_ok tetherd
# LUN 4 does not exist yet: login succeeds, the scan finds nothing, the attach waits for the disk.
iscsi_info /tmp/c.json vol-crash 4 "$PORTAL1"
tether attach --mode kernel --connection-info /tmp/c.json --json >/tmp/c.out 2>&1 &
client=$!
if wait_until 60 sh -c "iscsiadm -m session 2>/dev/null | grep -q '$TARGET_IQN'"; then
    result_ok session-before-kill
else
    result_fail session-before-kill "no session within 60 s"
fi
sleep 1
tetherd_kill9
log "tetherd killed"
wait $client
log "client exit $?: $(tail -n 2 /tmp/c.out | tr '\n' ' ')"
check orphan-session-present sh -c "iscsiadm -m session | grep -q '$TARGET_IQN'"

t0=$(cut -d' ' -f1 /proc/uptime)
tetherd_start || { result_fail restart "tetherd did not come back: $(tail -n 5 $TETHER_LOG)"; exit 1; }
log "tetherd back in $(awk -v a="$t0" '{print $1 - a}' /proc/uptime) s"
check no-orphan-session wait_until 30 sh -c "iscsiadm -m session >/dev/null 2>&1; [ \$? = 21 ]"
check no-orphan-record sh -c "! iscsiadm -m node >/dev/null 2>&1"
check no-attachment sh -c "! tether list | grep -q vol-crash"

# And the volume attaches once the LUN is there.
target_lun_add 4 32 || result_fail target target_lun_add
check attach-after tether attach --mode kernel --connection-info /tmp/c.json
check by-tether-after test -b /dev/disk/by-tether/vol-crash
check detach-after tether detach vol-crash
check no-session-after sh -c "iscsiadm -m session >/dev/null 2>&1; [ \$? = 21 ]"

# Killed after the multipath map exists: LUN 5 is exported write-protected on both portals, so a
# read-write attach over both paths makes the map and then waits for it to turn writable; tetherd
# dies there. The restart must take the map down before the paths, then the sessions and records.
kill "$TETHERD_PID" 2>/dev/null; wait "$TETHERD_PID" 2>/dev/null; TETHERD_PID=
tether_setup true || { result_fail tetherd-multipath "did not start: $(tail -n 3 $TETHER_LOG)"; exit 1; }
target_lun_add 5 32 || result_fail target-5 target_lun_add
for t in 1 2; do echo 1 >"$(_acl $t)/lun_5/write_protect"; done
iscsi_info /tmp/m.json vol-crash-mp 5 "$PORTAL1" "$PORTAL2"
tether attach --mode kernel --connection-info /tmp/m.json --json >/tmp/m.out 2>&1 &
client=$!
if wait_until 60 sh -c "dmsetup ls --target multipath 2>/dev/null | grep -qv 'No devices found'"; then
    result_ok map-before-kill
else
    result_fail map-before-kill "no multipath map within 60 s: $(tail -n 2 /tmp/m.out | tr '\n' ' ')"
fi
tetherd_kill9
wait $client
log "client exit $?: $(tail -n 2 /tmp/m.out | tr '\n' ' ')"
check orphan-map-present sh -c "dmsetup ls --target multipath | grep -qv 'No devices found'"

tetherd_start || { result_fail restart-mp "tetherd did not come back: $(tail -n 5 $TETHER_LOG)"; exit 1; }
check mp-no-orphan-map wait_until 30 sh -c "[ -z \"\$(dmsetup ls --target multipath | grep -v 'No devices found')\" ]"
check mp-no-orphan-disks wait_until 30 sh -c "! ls /sys/block | grep -q '^sd'"
check mp-no-orphan-session wait_until 30 sh -c "iscsiadm -m session >/dev/null 2>&1; [ \$? = 21 ]"
check mp-no-orphan-record sh -c "! iscsiadm -m node >/dev/null 2>&1"
check mp-no-attachment sh -c "! tether list | grep -q vol-crash-mp"
check mp-no-by-tether sh -c "[ ! -e /dev/disk/by-tether/vol-crash-mp ]"
