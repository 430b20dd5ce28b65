# tether-heal-krbd: the reconciler maps a krbd image again after someone unmapped it by hand.
# tetherd runs with `[reconcile] interval = 2`; the first cluster's rbd/tether-heal is attached in
# kernel mode and written through /dev/disk/by-tether/vol-heal; then it is unmapped by hand
# (echo N > /sys/bus/rbd/remove_single_major) and the second cluster's image of the same name is
# mapped by hand, so it takes that number and must not be taken for ours. Within a few rounds the
# reconciler maps ours again, under a new number but the same /dev/rbd/<cluster>/rbd/tether-heal
# and by-tether names; the data written before reads back, the stranger is left alone, and the
# journal says healthy. tether-heal-krbd.host checks the write reached the first cluster.
. /tether/lib.sh
trap tether_debug EXIT

set -- $(ceph_clusters)
[ $# -ge 2 ] || { result_fail clusters "want 2 clusters, got: $*"; exit 1; }
a=$1 b=$2
tether_setup false || { result_fail tetherd "did not start: $(tail -n 3 $TETHER_LOG)"; exit 1; }
kill "$TETHERD_PID"; wait "$TETHERD_PID" 2>/dev/null
printf '\n[reconcile]\ninterval = 2\n' >>"$TETHER_CONF"
tetherd_start || { result_fail tetherd "did not start with [reconcile] interval = 2: $(tail -n 3 $TETHER_LOG)"; exit 1; }
result_ok tetherd

ceph_load "$a" || { result_fail "facts-$a" "no facts"; exit 1; }
check cluster-add tether cluster add --name "$a" --fsid "$FSID" --mon-host "$MON_V1" --user "cinder=$KEY_FILE"
fsid_a=$FSID
host=${MON_V1%:*} port=${MON_V1##*:}
cat >/tmp/heal.json <<EOT
{"driver_volume_type": "rbd", "data": {"name": "rbd/tether-heal", "hosts": ["$host"], "ports": ["$port"],
 "cluster_name": "$a", "auth_enabled": true, "auth_username": "cinder", "volume_id": "vol-heal",
 "access_mode": "rw", "discard": true}}
EOT
if ! tether attach --mode kernel --connection-info /tmp/heal.json --json >/tmp/heal.out 2>/tmp/heal.err; then
    result_fail attach "$(tail -n 3 /tmp/heal.err | tr '\n' ' ')"
    exit 1
fi
udevadm settle --timeout=20
name=/dev/rbd/$a/rbd/tether-heal
by=/dev/disk/by-tether/vol-heal
dev=$(readlink -f "$name")
id=${dev#/dev/rbd}
log "attached as $dev"
check by-tether-attached sh -c "[ \"\$(readlink -f $by)\" = '$dev' ]"
printf 'tether heal %s\n' "$a" >/tmp/mark
check write dd if=/tmp/mark of="$by" bs=4096 seek=256 count=1 conv=sync,fsync oflag=direct

# By hand: unmap ours, then map the other cluster's rbd/tether-heal, which takes the free number.
check unmap-by-hand sh -c "echo $id > /sys/bus/rbd/remove_single_major"
ceph_load "$b"
fsid_b=$FSID
check map-stranger sh -c "echo '$MON_V1 name=cinder,secret=$(cat "$KEY_FILE") rbd tether-heal -' > /sys/bus/rbd/add_single_major"
udevadm settle --timeout=20
stranger=$(grep -l "$fsid_b" /sys/bus/rbd/devices/*/cluster_fsid | head -n 1)
stranger=${stranger%/cluster_fsid}
stranger=${stranger##*/}
log "ceph-b's rbd/tether-heal mapped by hand as rbd$stranger"
check stranger-took-the-number sh -c "[ '$stranger' = '$id' ]"

log "waiting for the reconciler"
if wait_until 60 sh -c "[ -b \"\$(readlink -f $by)\" ] && [ \"\$(readlink -f $by)\" = \"\$(readlink -f $name)\" ]"; then
    result_ok healed-names
else
    result_fail healed-names "no $by after 60 s: $(tail -n 5 $TETHER_LOG | tr '\n' ' ')"
    exit 1
fi
new=$(readlink -f "$by")
log "mapped again as $new"
check new-number sh -c "[ '$new' != '$dev' ]"
check healed-fsid sh -c "[ \"\$(cat /sys/bus/rbd/devices/${new#/dev/rbd}/cluster_fsid)\" = $fsid_a ]"
check data-intact sh -c "dd if=$by bs=4096 skip=256 count=1 iflag=direct 2>/dev/null | head -n 1 | grep -qx 'tether heal $a'"
check host-data-intact sh -c "dd if=$name bs=4096 count=1 iflag=direct 2>/dev/null | head -n 1 | grep -qx 'tether-guest $a $fsid_a'"
check stranger-untouched sh -c "[ \"\$(cat /sys/bus/rbd/devices/$stranger/cluster_fsid)\" = $fsid_b ]"
check repaired-logged grep -q "repaired an attachment" "$TETHER_LOG"
check stranger-not-an-orphan sh -c "! grep -q 'orphan: looks' $TETHER_LOG"
check journal-healthy sh -c "tether show vol-heal --json | grep -q '\"status\" *: *\"healthy\"'"
check journal-device sh -c "tether show vol-heal --json | grep -q '\"device_path\" *: *\"$new\"'"
check detach tether detach vol-heal
udevadm settle --timeout=20
check detached sh -c "[ ! -e /sys/bus/rbd/devices/${new#/dev/rbd} ] && [ ! -e $by ] && [ ! -e $name ]"
check stranger-still-mapped sh -c "[ \"\$(cat /sys/bus/rbd/devices/$stranger/cluster_fsid)\" = $fsid_b ]"
check unmap-stranger sh -c "echo $stranger > /sys/bus/rbd/remove_single_major"
