#!/usr/bin/env bash
# A real Ceph cluster in userspace for tests: one mon and one memstore OSD, pool "rbd", user
# client.cinder. Several can run at once (different NAME and BASE port, >= 100 apart).
#
#   scripts/ceph-lab.sh install             apt packages (idempotent)
#   scripts/ceph-lab.sh start DIR NAME BASE mon on 127.0.0.1:BASE (v2) and BASE+1 (v1), OSD ports
#                                           BASE+10..BASE+99; writes DIR/cluster.env
#                                           CEPH_LAB_ADDR=IP binds mon and OSD to IP instead of
#                                           127.0.0.1 (an address that must exist already, e.g. the
#                                           bridge of scripts/guest-lab.sh net-up, for a guest's krbd)
#   scripts/ceph-lab.sh stop DIR            kills the daemons by PID (OSD first) and removes DIR
#
# Run inside a private network namespace. Recipe and pitfalls: docs/LAB.md, "Ceph".
set -euo pipefail

install() {
    "$(dirname "$0")/packages.sh" install ceph
}

start() {
    local dir=$1 name=$2 base=$3
    local v2=$base v1=$((base + 1)) addr=${CEPH_LAB_ADDR:-127.0.0.1}
    mkdir -p "$dir"/{mon,osd,run,log}
    chmod 700 "$dir"
    local conf=$dir/$name.conf fsid public=""
    fsid=$(uuidgen)
    # Without an explicit address the OSD binds to what it learns from the mon (127.0.0.1).
    [ "$addr" = 127.0.0.1 ] || public="public addr = $addr"$'\n'
    cat >"$conf" <<CONF
[global]
fsid = $fsid
mon host = [v2:$addr:$v2,v1:$addr:$v1]
${public}auth cluster required = cephx
auth service required = cephx
auth client required = cephx
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
mon data avail warn = 2
mon mgr mkfs grace = 31536000
paxos propose interval = 0.05
paxos min wait = 0.01
ms bind port min = $((base + 10))
ms bind port max = $((base + 99))
log file = $dir/log/\$name.log
run dir = $dir/run
osd objectstore = memstore
memstore device bytes = 1073741824
[mon]
mon data = $dir/mon/\$id
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid
keyring = $dir/mon.keyring
[osd]
osd data = $dir/osd/\$id
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid
keyring = $dir/osd/\$id/keyring
CONF
    local ceph=(timeout 30 ceph --cluster "$name" -c "$conf" -k "$dir/admin.keyring")
    ceph-authtool --create-keyring "$dir/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
    ceph-authtool --create-keyring "$dir/admin.keyring" --gen-key -n client.admin \
        --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
    ceph-authtool "$dir/mon.keyring" --import-keyring "$dir/admin.keyring" >/dev/null
    monmaptool --create --fsid "$fsid" --addv a "[v2:$addr:$v2,v1:$addr:$v1]" "$dir/monmap" >/dev/null
    ceph-mon --cluster "$name" -c "$conf" --mkfs -i a --monmap "$dir/monmap" >/dev/null
    ceph-mon --cluster "$name" -c "$conf" -i a -f >"$dir/log/mon.out" 2>&1 &
    echo "MON_PID=$!" >"$dir/pids"

    local osd_uuid key
    osd_uuid=$(uuidgen)
    key=$(ceph-authtool --gen-print-key)
    echo "{\"cephx_secret\": \"$key\"}" | "${ceph[@]}" osd new "$osd_uuid" -i - >/dev/null
    mkdir -p "$dir/osd/0"
    ceph-authtool --create-keyring "$dir/osd/0/keyring" --name osd.0 --add-key "$key" >/dev/null
    ceph-osd --cluster "$name" -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >/dev/null 2>&1
    ceph-osd --cluster "$name" -c "$conf" -i 0 -f >"$dir/log/osd.out" 2>&1 &
    echo "OSD_PID=$!" >>"$dir/pids"
    for _ in $(seq 1 300); do
        "${ceph[@]}" osd dump 2>/dev/null | grep -q '^osd.0 up' && break
        sleep 0.1
    done
    "${ceph[@]}" osd pool create rbd 8 8 >/dev/null 2>&1
    timeout 30 rbd --cluster "$name" -c "$conf" -k "$dir/admin.keyring" pool init rbd
    "${ceph[@]}" auth get-or-create client.cinder mon 'profile rbd' osd 'profile rbd pool=rbd' \
        mgr 'profile rbd pool=rbd' -o "$dir/cinder.keyring"
    chmod 600 "$dir/cinder.keyring"
    sed -n 's/^[[:space:]]*key = //p' "$dir/cinder.keyring" >"$dir/cinder.key"
    chmod 600 "$dir/cinder.key"
    # Ready means an rbd image can be created (HEALTH_OK means nothing without a mgr).
    timeout 30 rbd --cluster "$name" -c "$conf" -k "$dir/admin.keyring" create --size 4 rbd/lab-ready
    timeout 30 rbd --cluster "$name" -c "$conf" -k "$dir/admin.keyring" rm rbd/lab-ready >/dev/null 2>&1
    cat >"$dir/cluster.env" <<ENV
NAME=$name
FSID=$fsid
CONF=$conf
MON_V2=$addr:$v2
MON_V1=$addr:$v1
ADMIN_KEYRING=$dir/admin.keyring
CINDER_KEYRING=$dir/cinder.keyring
CINDER_KEY_FILE=$dir/cinder.key
ENV
    cat "$dir/pids" >>"$dir/cluster.env"
}

stop() {
    local dir=$1
    if [ -f "$dir/pids" ]; then
        # shellcheck disable=SC1091
        . "$dir/pids"
        # SIGKILL the OSD first: SIGTERM makes memstore dump its RAM to disk for seconds.
        kill -9 "${OSD_PID:-}" 2>/dev/null || true
        kill -9 "${MON_PID:-}" 2>/dev/null || true
        wait "${OSD_PID:-}" "${MON_PID:-}" 2>/dev/null || true
    fi
    rm -rf "$dir"
}

case "${1:-}" in
    install) install ;;
    start) start "${2:?DIR}" "${3:?NAME}" "${4:?BASE port}" ;;
    stop) stop "${2:?DIR}" ;;
    *) echo "usage: scripts/ceph-lab.sh install | start DIR NAME BASE | stop DIR" >&2; exit 64 ;;
esac
