# tether-krbd: the real tetherd + tether map the same pool/image name (rbd/tether-krbd) from two
# host clusters through krbd: two /dev/rbdN, distinct /dev/rbd/<cluster>/rbd/tether-krbd and
# /dev/disk/by-tether names, each reads its own cluster's data and writes for the host to check
# (tether-krbd.host post); detaching one leaves the other mapped.
. /tether/lib.sh
trap tether_debug EXIT

clusters=$(ceph_clusters)
[ "$(echo $clusters | wc -w)" -ge 2 ] || { result_fail clusters "want 2 clusters, got: $clusters"; exit 1; }
tether_setup false || { result_fail tetherd "did not start: $(tail -n 3 $TETHER_LOG)"; exit 1; }
result_ok tetherd

for c in $clusters; do
    ceph_load "$c" || { result_fail "facts-$c" "no facts"; exit 1; }
    check "cluster-add-$c" tether cluster add --name "$c" --fsid "$FSID" --mon-host "$MON_V1" --user "cinder=$KEY_FILE"
done
check cluster-list sh -c "[ \$(tether cluster list | grep -c ceph-) -ge 2 ]"

for c in $clusters; do
    ceph_load "$c"
    host=${MON_V1%:*} port=${MON_V1##*:}
    cat >"/tmp/$c.json" <<EOT
{"driver_volume_type": "rbd", "data": {"name": "rbd/tether-krbd", "hosts": ["$host"], "ports": ["$port"],
 "cluster_name": "$c", "auth_enabled": true, "auth_username": "cinder", "volume_id": "vol-$c",
 "access_mode": "rw", "discard": true}}
EOT
    if ! tether attach --mode kernel --connection-info "/tmp/$c.json" --json >"/tmp/$c.out" 2>"/tmp/$c.err"; then
        result_fail "attach-$c" "$(tail -n 3 /tmp/$c.err | tr '\n' ' ')"
        continue
    fi
    dev=$(json_get device_path <"/tmp/$c.out")
    log "$c: rbd/tether-krbd attached as $dev ($(readlink -f "$dev"))"
    udevadm settle --timeout=20
    check "rbd-device-$c" sh -c "readlink -f '$dev' | grep -Eq '^/dev/rbd[0-9]+\$'"
    check "cluster-name-$c" sh -c "[ \"\$(readlink -f /dev/rbd/$c/rbd/tether-krbd)\" = \"\$(readlink -f '$dev')\" ]"
    check "by-tether-$c" sh -c "[ \"\$(readlink -f /dev/disk/by-tether/vol-$c)\" = \"\$(readlink -f '$dev')\" ]"
    check "read-host-data-$c" sh -c "dd if=/dev/rbd/$c/rbd/tether-krbd bs=4096 count=1 iflag=direct 2>/dev/null | head -n 1 | grep -qx 'tether-guest $c $FSID'"
    printf 'tether wrote %s\n' "$c" >/tmp/mark
    check "write-$c" dd if=/tmp/mark of="/dev/disk/by-tether/vol-$c" bs=4096 seek=256 count=1 conv=sync,fsync oflag=direct
done
set -- $clusters
a=$1 b=$2
check two-rbd-devices sh -c "[ \$(ls /sys/bus/rbd/devices | wc -l) = 2 ]"
check distinct-devices sh -c "[ \"\$(readlink -f /dev/rbd/$a/rbd/tether-krbd)\" != \"\$(readlink -f /dev/rbd/$b/rbd/tether-krbd)\" ]"
keep=$(readlink -f "/dev/rbd/$b/rbd/tether-krbd")
check "detach-$a" tether detach "vol-$a"
udevadm settle --timeout=20
check "gone-$a" sh -c "[ ! -e /dev/rbd/$a/rbd/tether-krbd ] && [ ! -e /dev/disk/by-tether/vol-$a ]"
check "one-rbd-device" sh -c "[ \$(ls /sys/bus/rbd/devices | wc -l) = 1 ]"
ceph_load "$b"
check "kept-$b" sh -c "[ \"\$(readlink -f /dev/rbd/$b/rbd/tether-krbd)\" = '$keep' ] && [ -b '$keep' ]"
check "kept-reads-$b" sh -c "dd if=$keep bs=4096 count=1 iflag=direct 2>/dev/null | head -n 1 | grep -qx 'tether-guest $b $FSID'"
check "kept-fsid-$b" sh -c "[ \"\$(cat /sys/bus/rbd/devices/${keep#/dev/rbd}/cluster_fsid)\" = $FSID ]"
check "detach-$b" tether detach "vol-$b"
udevadm settle --timeout=20
check no-rbd-devices sh -c "[ -z \"\$(ls /sys/bus/rbd/devices)\" ]"
check no-rbd-links sh -c "[ -z \"\$(ls /dev/rbd/$a/rbd /dev/rbd/$b/rbd 2>/dev/null)\" ]"
check no-map-files sh -c "[ -z \"\$(ls /run/tether/by-wwid 2>/dev/null)\" ]"
