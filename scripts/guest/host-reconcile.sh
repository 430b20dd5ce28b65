# Sourced by the host hooks of tether-reboot and tether-drift (bash; scripts/guest-lab.sh runs them
# as `pre`, `between K`, `post` in the test's network namespace):
#
#   reconcile_pre NAME    a private tgtd on the bridge's address GUEST_HOST_ADDR with two portals
#                         (TETHER_GUEST_TGT_PORTS, default "3260 3261"), target
#                         iqn.2026-12.org.tether.host:NAME with CHAP and an ACL for the guest's
#                         initiator, LUN 1 of 64 MiB (its backing file in GUEST_HOST_DIR); its facts
#                         for the guest in GUEST_SHARE/tgt.env; and rbd/NAME (32 MiB, empty) in the
#                         first cluster of GUEST_CEPH_DIRS
#   reconcile_post NAME   checks that the 1 MiB the guest wrote at 1 MiB reached both the LUN's
#                         backing file and the image, and is the same in both; stops tgtd by PID;
#                         removes the image
. "$(dirname "${BASH_SOURCE[0]}")/host-tgtd.sh"

reconcile_rbd() {
    local dir=${GUEST_CEPH_DIRS%% *} NAME="" CONF="" ADMIN_KEYRING=""
    eval "$(grep -E '^(NAME|CONF|ADMIN_KEYRING)=' "$dir/cluster.env")"
    timeout 30 rbd --cluster "$NAME" -c "$CONF" -k "$ADMIN_KEYRING" "$@"
}

reconcile_pre() {
    local name=$1 ports initiator id
    read -r -a ports <<<"${TETHER_GUEST_TGT_PORTS:-3260 3261}"
    [ -n "$GUEST_HOST_ADDR" ] || { echo "no bridge address (run with --ceph or --net)" >&2; return 1; }
    [ -n "$GUEST_CEPH_DIRS" ] || { echo "no Ceph cluster (run with --ceph DIR)" >&2; return 1; }
    initiator=$(sed -n 's/^INITIATOR_IQN=//p' "$(dirname "${BASH_SOURCE[0]}")/lib.sh")
    id=$(tr -d '-' </proc/sys/kernel/random/uuid | cut -c1-24)
    tgtd_start "$GUEST_HOST_DIR/tgt" "$GUEST_HOST_ADDR" "${ports[@]}" || return 1
    tgtd_target "$GUEST_HOST_DIR/tgt" "iqn.2026-12.org.tether.host:$name" "$initiator" tether-host host-chap-pass01 || return 1
    tgtd_lun "$GUEST_HOST_DIR/tgt" 1 64 "$id" || return 1
    cat >"$GUEST_SHARE/tgt.env" <<ENV
TGT_IQN=iqn.2026-12.org.tether.host:$name
TGT_PORTAL1=$GUEST_HOST_ADDR:${ports[0]}
TGT_PORTAL2=$GUEST_HOST_ADDR:${ports[1]}
TGT_LUN=1
TGT_CHAP_USER=tether-host
TGT_CHAP_PASS=host-chap-pass01
ENV
    reconcile_rbd rm "rbd/$name" >/dev/null 2>&1 || true
    reconcile_rbd create --size 32M "rbd/$name" || return 1
    echo "host: tgtd $GUEST_HOST_ADDR:${ports[0]},${ports[1]} (PID $(cat "$GUEST_HOST_DIR/tgt/tgtd.pid")), image rbd/$name"
}

reconcile_post() {
    local name=$1 lun="" img=""
    # First, so that nothing below can leave it running; its backing file stays readable.
    tgtd_stop "$GUEST_HOST_DIR/tgt"
    [ -f "$GUEST_HOST_DIR/tgt/lun1.img" ] || return 0  # pre did not get that far
    lun=$(dd if="$GUEST_HOST_DIR/tgt/lun1.img" bs=1M skip=1 count=1 status=none | sha256sum | cut -c1-64) || true
    img=$( (reconcile_rbd export --no-progress "rbd/$name" - 2>/dev/null || true) |
        dd bs=1M skip=1 count=1 iflag=fullblock status=none | sha256sum | cut -c1-64) || true
    if [ "$lun" = "$img" ] && [ "$lun" != "$(head -c 1M /dev/zero | sha256sum | cut -c1-64)" ]; then
        echo "TETHER-RESULT ok host-has-pattern"
    else
        echo "TETHER-RESULT fail host-has-pattern the LUN's and the image's 1 MiB at 1 MiB differ or are zero"
    fi
    reconcile_rbd rm --no-progress "rbd/$name" >/dev/null 2>&1 || true
}
