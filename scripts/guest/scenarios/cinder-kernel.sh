# cinder-kernel (issue #16): `tether local-attach` of a Cinder RBD volume in kernel mode, as a
# hypervisor operator uses it. The host hook runs a real Cinder (noauth) whose RBD backends are the
# two host Ceph clusters and makes a volume on the second (ceph-b); tetherd has both clusters and
# [cinder] pointing at the API on the bridge. Cinder's view is read through its API (busybox nc,
# HTTP/1.0, noauth's admin token) after every step:
#   local-attach without --mode: `auto` picks kernel (krbd), the first line printed is the device
#     path; Cinder: in-use, one attachment, attached, attach_mode rw, host_name = [node] host;
#     /dev/rbd/ceph-b/rbd/volume-ID is the same device (mapped from the right cluster); 1 MiB
#     written and read back through /dev/disk/by-tether/VOLUME;
#   local-detach: unmapped, the names gone; Cinder: available, no attachment;
#   tetherd killed (SIGKILL at a failpoint) after Cinder exported the volume and before the local
#     attach (local-attach.created), and after krbd mapped it but before Cinder was told
#     (local-attach.connected): Cinder shows the unfinished attachment; tetherd started again,
#     unarmed, undoes both sides: no mapping, Cinder available with no attachment.
. /tether/lib.sh
. /tether/reconcile.sh
trap tether_debug EXIT

[ -f /tether/share/cinder.env ] || { result_fail cinder-facts "no /tether/share/cinder.env (cinder-kernel.host pre)"; exit 1; }
. /tether/share/cinder.env
VOL=$CINDER_VOLUME
NODE_HOST=cinder-kernel-guest
DEV=/dev/disk/by-tether/$VOL
RBD_NAME=/dev/rbd/ceph-b/rbd/volume-$VOL

# cinder_get PATH: the JSON body of GET /v3/PROJECT/PATH, flattened (json_flat).
cinder_get() {
    printf 'GET /v3/%s%s HTTP/1.0\r\nHost: %s\r\nX-Auth-Token: %s\r\nAccept: application/json\r\nOpenStack-API-Version: volume 3.44\r\n\r\n' \
        "$CINDER_PROJECT" "$1" "$CINDER_HOST:$CINDER_PORT" "$CINDER_TOKEN" | nc -w 20 "$CINDER_HOST" "$CINDER_PORT" |
        tr -d '\r' | sed '1,/^$/d' | json_flat
}

field() {  # field PATH: the value at PATH of the flattened JSON on stdin
    awk -F '\t' -v k="$1" '$1 == k { print $2; exit }'
}

# cinder_state: "STATUS COUNT" of the volume and of its attachments (any status)
cinder_state() {
    local status count
    status=$(cinder_get "/volumes/$VOL" | field .volume.status)
    count=$(cinder_get "/attachments?volume_id=$VOL" | grep -c '^\.attachments\[[0-9]*\]\.id	')
    echo "$status $count"
}

cinder_is() {  # cinder_is "STATUS COUNT"
    local got
    got=$(cinder_state)
    [ "$got" = "$1" ] && return 0
    echo "Cinder says '$got', want '$1'"
    return 1
}

# Cinder's attachment as local-attach made it: attached, rw, for this node's connector host.
cinder_attached() {
    local id=$1 volume attachment
    volume=$(cinder_get "/volumes/$VOL")
    attachment=$(cinder_get "/attachments/$id")
    set -- "$(echo "$volume" | field .volume.status)" "$(echo "$volume" | field '.volume.attachments[0].attachment_id')" \
        "$(echo "$volume" | field '.volume.attachments[0].host_name')" "$(echo "$attachment" | field .attachment.status)" \
        "$(echo "$attachment" | field .attachment.attach_mode)"
    [ "$*" = "in-use $id $NODE_HOST attached rw" ] && return 0
    echo "Cinder says: status, attachment, host, attachment status, mode = $*; want in-use $id $NODE_HOST attached rw"
    return 1
}

no_mapping() {
    [ -z "$(ls /sys/bus/rbd/devices 2>/dev/null)" ] && [ ! -e "$DEV" ] && [ ! -e "$RBD_NAME" ] && return 0
    echo "still here: rbd devices '$(ls /sys/bus/rbd/devices 2>/dev/null | tr '\n' ' ')', $(ls -l "$DEV" "$RBD_NAME" 2>&1 | tr '\n' ' ')"
    return 1
}

local_list_empty() {
    tether local-list --json 2>/dev/null | tr -d ' \n\t' | grep -q '"local_attachments":\[\]'
}

register_clusters() {
    local c
    for c in $(ceph_clusters); do
        ceph_load "$c" || return 1
        tether cluster add --name "$c" --fsid "$FSID" --mon-host "$MON_V1" --user "cinder=$KEY_FILE" >/dev/null || return 1
    done
}

# cinder_exported: Cinder holds the unfinished export (reserved, or attaching once the connector
# was given) and one attachment.
cinder_exported() {
    case $(cinder_state) in
        "reserved 1" | "attaching 1") return 0 ;;
    esac
    echo "Cinder says '$(cinder_state)', want reserved or attaching with 1 attachment"
    return 1
}

# crash_at NAME FAILPOINT: tetherd armed to die there, local-attach run until it does; result NAME
# ok when tetherd died by SIGKILL at that failpoint. Not under `check`: tetherd must be this
# shell's child, to be waited for (and stopped when it did not die).
crash_at() {
    local name=$1 point=$2 rc=0 why=""
    export TETHER_FAILPOINTS="$point=crash"
    tetherd_start
    unset TETHER_FAILPOINTS
    if tether local-attach "$VOL" >/tmp/crash.out 2>&1; then
        why="local-attach succeeded: $(head -n 1 /tmp/crash.out)"
        tetherd_stop
    else
        wait "$TETHERD_PID" || rc=$?
        TETHERD_PID=
        [ $rc = 137 ] || why="tetherd exit $rc, not SIGKILL (137): $(tail -n 2 "$TETHER_LOG" | tr '\n' ' ')"
        [ -n "$why" ] || grep -q "failpoint reached.*$point" "$TETHER_LOG" || why="no 'failpoint reached' for $point in the log"
    fi
    [ -z "$why" ] && { result_ok "$name"; return 0; }
    result_fail "$name" "$why"
    return 1
}

# converged NAME: after a crash, tetherd started unarmed undoes the interrupted attach on both sides.
converged() {
    if ! tetherd_start; then
        result_fail "$1-restart" "$(tail -n 3 "$TETHER_LOG" | tr '\n' ' ')"
        return 1
    fi
    result_ok "$1-restart"
    check "$1-local-list-empty" wait_until 60 local_list_empty
    check "$1-host-unmapped" wait_until 10 no_mapping
    check "$1-cinder-available" wait_until 20 cinder_is "available 0"
    tetherd_stop
}

[ "$(ceph_clusters | wc -l)" -ge 2 ] || { result_fail clusters "run with --ceph A --ceph B"; exit 1; }
tetherd_up false /run/tether/state 300 "$(printf '[node]\nhost = "%s"\n\n[cinder]\nauth_type = "noauth"\nendpoint = "%s"\nproject_id = "%s"\nnoauth_user = "admin"\nretry_interval = 2' \
    "$NODE_HOST" "$CINDER_ENDPOINT" "$CINDER_PROJECT")" || exit 1
result_ok tetherd
check clusters register_clusters || exit 1
check cinder-before cinder_is "available 0" || exit 1

# --- local-attach, kernel mode by default ---
if ! tether local-attach "$VOL" >/tmp/la.out 2>/tmp/la.err; then
    result_fail local-attach "$(tail -n 3 /tmp/la.err | tr '\n' ' ')"; exit 1
fi
result_ok local-attach
cat /tmp/la.out
check first-line-is-device-path test "$(head -n 1 /tmp/la.out)" = "$DEV"
udevadm settle --timeout=20
check krbd-device sh -c "readlink -f '$DEV' | grep -Eq '^/dev/rbd[0-9]+\$'"
check mapped-from-ceph-b test "$(readlink -f "$RBD_NAME")" = "$(readlink -f "$DEV")"
ATTACHMENT=$(tether local-list --json 2>/dev/null | json_flat | field '.local_attachments[0].cinder_attachment_id')
check cinder-attachment-id test -n "$ATTACHMENT"
check cinder-attached cinder_attached "$ATTACHMENT"
check cinder-one-attachment cinder_is "in-use 1"
dd if=/dev/urandom of=/tmp/pattern bs=1048576 count=1 2>/dev/null
check write pattern_write "$VOL" /tmp/pattern
check read-back pattern_check "$VOL" /tmp/pattern
check again-same-attachment sh -c "tether local-attach '$VOL' --json | grep -q '$ATTACHMENT'"

# --- local-detach ---
check local-detach tether local-detach "$VOL"
check detach-unmapped no_mapping
check detach-cinder-available cinder_is "available 0"
check detach-again tether local-detach "$VOL"
tetherd_stop

# --- kill -9 between Cinder's export and the local attach ---
if crash_at crash-after-cinder-export local-attach.created; then
    check crash-cinder-exported cinder_exported
    check crash-not-mapped no_mapping
    converged after-export
fi

# --- kill -9 after krbd mapped it, before Cinder was told ---
if crash_at crash-after-map local-attach.connected; then
    check crash-mapped test -b "$DEV"
    check crash-cinder-not-told cinder_exported
    converged after-map
fi
show_state "the end"
# Each check reported its own verdict; show_state's last `ls` fails once nothing is attached.
exit 0
