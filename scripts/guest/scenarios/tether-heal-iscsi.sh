# tether-heal-iscsi: tetherd with [multipath] enabled (periodic reconcile off: `tether reconcile`
# drives it) attaches one LUN over both portals (CHAP) into a dm-multipath map named
# /dev/disk/by-tether/<vol>. Portal 2's session is logged out by hand (its node record, with the
# CHAP password, stays): `tether reconcile --no-heal` says degraded, "no session"; `tether reconcile`
# logs exactly that portal back in, multipathd takes the new disk into the same map, and `tether
# show` says healthy with the new disk in the handle. Then every session goes: missing, then both
# portals back in a map that by-tether leads to, and the data written before reads back. A stale
# map file is an orphan, removed by --clean. Detach leaves nothing.
. /tether/lib.sh
trap tether_debug EXIT

target_lun_add 4 32 || { result_fail target "target_lun_add"; exit 1; }
WWID=$(target_lun_wwid 4)
tether_setup true || { result_fail tetherd "did not start: $(tail -n 3 $TETHER_LOG)"; exit 1; }
# Restart with reconciles only at start and on request.
kill "$TETHERD_PID" 2>/dev/null; wait "$TETHERD_PID" 2>/dev/null; TETHERD_PID=
printf '\n[reconcile]\ninterval = 0\nheal = true\n' >>"$TETHER_CONF"
tetherd_start || { result_fail tetherd "did not restart: $(tail -n 3 $TETHER_LOG)"; exit 1; }
result_ok tetherd

iscsi_info /tmp/heal.json vol-heal 4 "$PORTAL1" "$PORTAL2"
if ! tether attach --mode kernel --connection-info /tmp/heal.json --json >/tmp/heal.out 2>/tmp/heal.err; then
    result_fail attach "$(tail -n 3 /tmp/heal.err | tr '\n' ' ')"
    exit 1
fi
dev=$(json_get device_path </tmp/heal.out)
udevadm settle --timeout=20
check attached sh -c "[ \"\$(readlink -f /dev/disk/by-tether/vol-heal)\" = '$dev' ]"
check two-paths wait_until 20 sh -c "[ \$(multipath -ll $WWID 2>/dev/null | grep -c 'active ready running') = 2 ]"
dd if=/dev/urandom of=/tmp/pattern bs=1M count=4 2>/dev/null
check write dd if=/tmp/pattern of=/dev/disk/by-tether/vol-heal bs=1M count=4 oflag=direct conv=fsync
check first-reconcile tether reconcile
check healthy-at-first wait_until 20 sh -c "tether show vol-heal --json | tr -d ' \n' | grep -q '\"status\":\"healthy\"'"
before=$(ls /sys/block/${dev#/dev/}/slaves | sort | tr '\n' ' ')
log "slaves before: $before"

log "logging out of portal 2 by hand"
iscsiadm -m node -T "$TARGET_IQN" -p "$PORTAL2" --logout
check one-session sh -c "[ \$(iscsiadm -m session | wc -l) = 1 ]"
tether reconcile --no-heal --json >/tmp/look.out 2>&1
tr -d '\n' </tmp/look.out | head -c 800; echo
check degraded sh -c "tr -d ' \n' </tmp/look.out | grep -q '\"status\":\"degraded\"'"
check no-session-problem grep -q "127.0.0.2:3260 $TARGET_IQN lun 4: no session" /tmp/look.out
check not-healed-yet sh -c "[ \$(iscsiadm -m session | wc -l) = 1 ]"
tether reconcile --json >/tmp/heal1.out 2>&1
tr -d '\n' </tmp/heal1.out | head -c 800; echo
check relogin wait_until 40 sh -c "[ \$(iscsiadm -m session 2>/dev/null | grep -c '$PORTAL2') = 1 ]"
check map-two-paths-again wait_until 40 sh -c "[ \$(multipath -ll $WWID 2>/dev/null | grep -c 'active ready running') = 2 ]"
check same-map sh -c "[ \"\$(readlink -f /dev/disk/by-tether/vol-heal)\" = '$dev' ]"
check healthy-again wait_until 20 sh -c "tether show vol-heal --json | tr -d ' \n' | grep -q '\"status\":\"healthy\"'"
check repaired-logged grep -q 'repaired an attachment' "$TETHER_LOG"
check only-portal2-login sh -c "[ \$(grep -c 'repairs=.*logged in to 127.0.0.1' $TETHER_LOG) = 0 ]"
after=$(ls /sys/block/${dev#/dev/}/slaves | sort | tr '\n' ' ')
log "slaves after: $after"
tether show vol-heal --json | tr -d '\n' | grep -o '"sessions" *: *\[[^]]*\]' | head -c 600; echo
check journal-has-new-disk sh -c "for d in $after; do tether show vol-heal --json | grep -q \"\\\"\$d\\\"\" || exit 1; done"

log "logging out of every session"
iscsiadm -m node -T "$TARGET_IQN" --logout
udevadm settle --timeout=20
check missing sh -c "tether reconcile --no-heal --json | tr -d ' \n' | grep -q '\"status\":\"missing\"'"
tether reconcile --json >/tmp/heal2.out 2>&1
tr -d '\n' </tmp/heal2.out | head -c 800; echo
check all-back wait_until 60 sh -c "[ \$(multipath -ll $WWID 2>/dev/null | grep -c 'active ready running') = 2 ]"
check by-tether-after-all sh -c "[ -b \"\$(readlink -f /dev/disk/by-tether/vol-heal)\" ]"
check read-after-heal sh -c "dd if=/dev/disk/by-tether/vol-heal bs=1M count=4 iflag=direct 2>/dev/null | cmp -s - /tmp/pattern"
check healthy-at-last wait_until 20 sh -c "tether show vol-heal --json | tr -d ' \n' | grep -q '\"status\":\"healthy\"'"
grep -E 'repaired an attachment|attachment status changed' "$TETHER_LOG" | tail -n 6

echo TETHER_VOLUME_ID=ghost >/run/tether/by-wwid/36001405deadbeefdeadbeefdeadbeefd
check orphan-found sh -c "tether reconcile --json | tr -d ' \n' | grep -q '\"kind\":\"map_file\"'"
check orphan-cleaned tether reconcile --clean
check orphan-gone test ! -e /run/tether/by-wwid/36001405deadbeefdeadbeefdeadbeefd
check still-healthy sh -c "tether show vol-heal --json | tr -d ' \n' | grep -q '\"status\":\"healthy\"'"

check detach timeout 120 tether detach vol-heal
udevadm settle --timeout=20
check no-map sh -c "[ -z \"\$(dmsetup ls --target multipath | grep -v 'No devices found')\" ]"
check no-sessions sh -c "iscsiadm -m session >/dev/null 2>&1; [ \$? = 21 ]"
check no-records sh -c "! iscsiadm -m node >/dev/null 2>&1"
