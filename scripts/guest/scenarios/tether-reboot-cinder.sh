# tether-reboot-cinder (issue #13): a Cinder local-attachment survives the reboot the way
# tether-reboot's volumes do, and the Cinder attachment is left as it was. The host hook runs a
# real Cinder (noauth) whose RBD backends are the host Ceph clusters; tetherd's [cinder] points at
# its API on the bridge. Boot 1: `tether local-attach VOLUME --mode kernel` (krbd), a 1 MiB
# pattern written, healthy, doctor clean, tetherd stopped as a service; power-off. Boot 2 (same
# persistent disk): tetherd started as a service, no other command: within tether.restore_wait
# (120 s) /dev/disk/by-tether/VOLUME is back, healthy, the pattern intact, `tether local-list`
# shows the same Cinder attachment id, and the host (post) finds Cinder's attachment unchanged.
# guest-lab: boots=2
. /tether/lib.sh
. /tether/reconcile.sh
trap tether_debug EXIT

boot=$(cmdline_arg boot 1)
INTERVAL=$(cmdline_arg reconcile_interval 5)
RESTORE_WAIT=$(cmdline_arg restore_wait 120)
LAB=$PERSIST/lab
log "boot $boot of $(cmdline_arg boots 1)"
check persistent-disk persist_on /var/lib/tether || exit 1
[ -f /tether/share/cinder.env ] || { result_fail cinder-facts "no /tether/share/cinder.env (tether-reboot-cinder.host pre)"; exit 1; }
. /tether/share/cinder.env
[ -n "$(ceph_clusters)" ] || { result_fail clusters "run with --ceph DIR"; exit 1; }
VOL=$CINDER_VOLUME
mkdir -p "$LAB"

cinder_id() {  # the Cinder attachment id tether local-list shows for VOL
    tether local-list --json 2>/dev/null | json_flat | awk -F '\t' -v vol="$VOL" '
        { p = $1; sub(/\.[a-z_]+$/, "", p); k = substr($1, length(p) + 2) }
        p ~ /^\.local_attachments\[[0-9]+\]$/ && k == "volume_id" { v[p] = $2 }
        p ~ /^\.local_attachments\[[0-9]+\]$/ && k == "cinder_attachment_id" { c[p] = $2 }
        END { for (p in v) if (v[p] == vol) print c[p] }'
}

if [ "$boot" = 1 ]; then
    tetherd_up false /var/lib/tether "$INTERVAL" "$(printf '[cinder]\nauth_type = "noauth"\nendpoint = "%s"\nproject_id = "%s"\nnoauth_user = "admin"' \
        "$CINDER_ENDPOINT" "$CINDER_PROJECT")" || exit 1
    result_ok tetherd
    rbd_cluster >/dev/null || { result_fail cluster-add "$(tail -n 2 "$TETHER_LOG")"; exit 1; }
    if ! tether local-attach "$VOL" --mode kernel --json >/tmp/la.out 2>/tmp/la.err; then
        result_fail local-attach "$(tail -n 3 /tmp/la.err | tr '\n' ' ')"; exit 1
    fi
    result_ok local-attach
    udevadm settle --timeout=20
    cinder_id >"$LAB/cinder_attachment"
    check cinder-attachment-id test -s "$LAB/cinder_attachment"
    check rbd-device sh -c "readlink -f /dev/disk/by-tether/$VOL | grep -Eq '^/dev/rbd[0-9]+\$'"
    dd if=/dev/urandom of="$LAB/pattern" bs=1048576 count=1 2>/dev/null
    check write pattern_write "$VOL" "$LAB/pattern"
    check healthy status_becomes "$VOL" healthy 10
    doctor_clean doctor-before-reboot
    show_state "boot 1, before the power-off"
    tetherd_stop
    echo done >"$LAB/boot1"
    sync
else
    [ -f "$LAB/boot1" ] || { result_fail boot1 "boot 1 did not get to the reboot: nothing to check"; exit 1; }
    check fresh-no-rbd sh -c "[ -z \"\$(ls /sys/bus/rbd/devices)\" ]"
    tether_install
    t0=$(cut -d' ' -f1 /proc/uptime)
    tetherd_start "$RESTORE_WAIT" || { result_fail tetherd "did not start: $(tail -n 3 "$TETHER_LOG" | tr '\n' ' ')"; exit 1; }
    # One bound from tetherd's start, the wait for its socket included.
    left=$(awk -v a="$t0" -v w="$RESTORE_WAIT" '{ l = int(a + w - $1); print (l > 0 ? l : 0) }' /proc/uptime)
    if wait_until "$left" test -b "/dev/disk/by-tether/$VOL"; then
        result_ok restored-within-${RESTORE_WAIT}s
        log "back $(awk -v a="$t0" '{print $1 - a}' /proc/uptime) s after tetherd started"
    else
        result_fail restored-within-${RESTORE_WAIT}s "not back: $(ls /dev/disk/by-tether 2>&1 | tr '\n' ' ')"
    fi
    check back-healthy status_becomes "$VOL" healthy 30
    check back-listed-healthy listed_as "$VOL" healthy
    check back-pattern pattern_check "$VOL" "$LAB/pattern"
    check same-cinder-attachment test "$(cinder_id)" = "$(cat "$LAB/cinder_attachment")"
    doctor_clean doctor-after-reboot
    show_state "boot 2, after tetherd's start"
    tether local-list 2>&1
fi
