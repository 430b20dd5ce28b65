# krbd-shell: krbd by hand against two host Ceph clusters — map one image from each through
# /sys/bus/rbd/add_single_major (the first over msgr1, the second over msgr2 with ms_mode=crc),
# check the sysfs facts and the udev name, read what the host wrote, write for the host to check
# (krbd-shell.host post), unmap. (A shell proof: the key goes through sysfs in the add string.)
. /tether/lib.sh

clusters=$(ceph_clusters)
[ "$(echo $clusters | wc -w)" -ge 2 ] || { result_fail clusters "want 2 clusters, got: $clusters"; exit 1; }
check route ip route get "$(cmdline_arg host)"

first=1
for c in $clusters; do
    ceph_load "$c" || { result_fail "facts-$c" "no facts"; continue; }
    image=krbd-shell-$c
    if [ $first = 1 ]; then
        mons=$MON_V1 opts=""
    else
        mons=$MON_V2 opts=",ms_mode=crc"
    fi
    first=0
    before=$(ls /sys/bus/rbd/devices)
    log "map $c/rbd/$image via $mons$opts"
    # One write(2) of "<mons> <options> <pool> <image>"; mount_timeout bounds a mon that never answers.
    if ! echo "$mons name=$USER,secret=$(cat "$KEY_FILE"),fsid=$FSID,noshare,mount_timeout=30$opts rbd $image" \
            >/sys/bus/rbd/add_single_major; then
        result_fail "map-$c" "add_single_major refused"
        dmesg | tail -n 20
        continue
    fi
    id=""
    for d in $(ls /sys/bus/rbd/devices); do
        echo "$before" | grep -qx "$d" || id=$d
    done
    [ -n "$id" ] || { result_fail "map-$c" "no new /sys/bus/rbd/devices entry"; continue; }
    result_ok "map-$c rbd$id"
    sys=/sys/bus/rbd/devices/$id
    check "fsid-$c" sh -c "[ \"\$(cat $sys/cluster_fsid)\" = $FSID ]"
    check "pool-$c" sh -c "[ \"\$(cat $sys/pool)\" = rbd ]"
    check "name-$c" sh -c "[ \"\$(cat $sys/name)\" = $image ]"
    check "client-$c" sh -c "grep -q . $sys/client_id"
    udevadm settle --timeout=20
    check "udev-name-$c" sh -c "[ \"\$(readlink -f /dev/rbd/rbd/$image)\" = /dev/rbd$id ]"
    check "size-$c" sh -c "[ \$(blockdev --getsize64 /dev/rbd$id) = $((16 * 1048576)) ]"
    check "read-host-data-$c" sh -c "dd if=/dev/rbd$id bs=4096 count=1 iflag=direct 2>/dev/null | head -n 1 | grep -qx 'tether-guest $c $FSID'"
    printf 'guest wrote %s\n' "$c" >/tmp/mark
    check "write-$c" dd if=/tmp/mark of=/dev/rbd$id bs=4096 seek=256 count=1 conv=sync,fsync oflag=direct
    check "read-back-$c" sh -c "dd if=/dev/rbd$id bs=4096 skip=256 count=1 iflag=direct 2>/dev/null | head -n 1 | grep -qx 'guest wrote $c'"
    check "unmap-$c" sh -c "echo $id >/sys/bus/rbd/remove_single_major"
    check "unmapped-$c" sh -c "[ ! -e $sys ] && [ ! -e /dev/rbd$id ]"
done
udevadm settle --timeout=20
check no-rbd-devices sh -c "[ -z \"\$(ls /sys/bus/rbd/devices)\" ]"
check no-rbd-links sh -c "[ -z \"\$(ls /dev/rbd/rbd 2>/dev/null)\" ]"
