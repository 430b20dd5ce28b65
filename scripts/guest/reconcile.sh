# Guest-side helpers of the reconciler scenarios (tether-reboot, tether-drift; issue #13), sourced
# after /tether/lib.sh. Busybox ash. They drive a two-path multipath iSCSI volume on the HOST's
# tgtd (scripts/guest/host-tgtd.sh, facts in /tether/share/tgt.env from the scenario's host hook)
# and a krbd volume from the first host Ceph cluster, through tetherd and tether only.
#
# What they assume of tetherd and tether (the reconciler and doctor, in flight on other branches):
#   tether.toml `[reconcile] interval = N` (seconds; the reconciler also runs at start);
#   `tether list --json` -> {"attachments": [{..., "volume_id", "status"}]}, status one of
#   healthy | degraded | missing | unknown, and `tether list` shows it in a STATUS column;
#   `tether doctor --json`: exit 0 when every check passes, non-zero with a finding that names the
#   volume when one of its attachments is degraded or missing.
#   The status reflects the host when listed (a path logged out shows degraded, an unmapped image
#   missing, before any pass heals them: tether-drift observes them with no periodic pass due);
#   `tether reconcile --json` heals on request (exit 0); the pass at start re-attaches what the
#   journal holds after a reboot (state_dir and /etc/iscsi, /etc/ceph, /etc/tether persistent),
#   a Cinder local-attachment included, without touching the Cinder attachment.
#
#   tetherd_up MULTIPATH STATE_DIR INTERVAL [TOML]
#                                   tether_config (+ TOML + [reconcile] interval = INTERVAL),
#                                   tether_install, tetherd_start. A tetherd that refuses the
#                                   [reconcile] table (no reconciler yet) is a failed result
#                                   `reconcile-config`, and it is started without it, so that the
#                                   lab's part of the scenario still runs.
#   tgt_load                        the host target's facts: TGT_IQN TGT_PORTAL1 TGT_PORTAL2 TGT_LUN
#                                   TGT_CHAP_USER TGT_CHAP_PASS; also as lib.sh's TARGET_IQN and CHAP
#   rbd_cluster                     prints the first cluster's name and registers it with tether
#   attach_mp VOLUME                attaches the host LUN over both portals, kernel mode
#   attach_rbd VOLUME CLUSTER IMAGE attaches rbd/IMAGE of CLUSTER, kernel mode
#   status_is VOLUME STATUS         0 if tether list --json says so (else prints what it says)
#   status_becomes VOLUME STATUS S  polls status_is for up to S seconds
#   listed_as VOLUME STATUS         0 if the human `tether list` shows VOLUME's row with STATUS
#   pattern_write VOLUME FILE / pattern_check VOLUME FILE
#                                   FILE (1 MiB) at 1 MiB of /dev/disk/by-tether/VOLUME, direct I/O
#   doctor_clean NAME               result NAME: `tether doctor --json` exits 0
#   doctor_reports NAME VOLUME...   result NAME: it exits non-zero (not 64, a usage error) and its
#                                   output names every VOLUME
#   mp_wwid WWID                    Tether's naa.<hex> as multipath's map name 3<hex>
#   two_paths WWID                  0 if the map has two `active ready running` paths

tetherd_up() {
    local multipath=$1 state=$2 interval=$3 more=${4:-}
    tether_config "$multipath" "$state" "$(printf '%s\n[reconcile]\ninterval = %s' "$more" "$interval")" && tether_install || return 1
    tetherd_start && return 0
    tetherd_kill9
    if grep -q 'unknown.*reconcile' "$TETHER_LOG"; then
        result_fail reconcile-config "tetherd refuses [reconcile]: $(grep 'unknown.*reconcile' "$TETHER_LOG" | tail -n 1)"
        tether_config "$multipath" "$state" "$more" && tetherd_start && return 0
    fi
    result_fail tetherd "did not start: $(tail -n 3 "$TETHER_LOG" | tr '\n' ' ')"
    return 1
}

tgt_load() {
    [ -f /tether/share/tgt.env ] || return 1
    . /tether/share/tgt.env
    TARGET_IQN=$TGT_IQN CHAP_USER=$TGT_CHAP_USER CHAP_PASS=$TGT_CHAP_PASS
}

rbd_cluster() {
    local c
    c=$(ceph_clusters | head -n 1)
    [ -n "$c" ] && ceph_load "$c" || return 1
    tether cluster list 2>/dev/null | grep -qw "$c" ||
        tether cluster add --name "$c" --fsid "$FSID" --mon-host "$MON_V1" --user "cinder=$KEY_FILE" >/dev/null || return 1
    echo "$c"
}

attach_mp() {
    iscsi_info "/tmp/$1.json" "$1" "$TGT_LUN" "$TGT_PORTAL1" "$TGT_PORTAL2"
    tether attach --mode kernel --connection-info "/tmp/$1.json" --json >"/tmp/$1.out" 2>"/tmp/$1.err"
}

attach_rbd() {
    local vol=$1 cluster=$2 image=$3
    ceph_load "$cluster" || return 1
    cat >"/tmp/$vol.json" <<EOT
{"driver_volume_type": "rbd", "data": {"name": "rbd/$image", "hosts": ["${MON_V1%:*}"], "ports": ["${MON_V1##*:}"],
 "cluster_name": "$cluster", "auth_enabled": true, "auth_username": "cinder", "volume_id": "$vol",
 "access_mode": "rw", "discard": true}}
EOT
    tether attach --mode kernel --connection-info "/tmp/$vol.json" --json >"/tmp/$vol.out" 2>"/tmp/$vol.err"
}

status_is() {
    local got
    got=$(tether_status "$1")
    [ "$got" = "$2" ] && return 0
    echo "status of $1 is '${got:-<none>}', want $2"
    return 1
}

status_becomes() {
    tether list --json 2>/dev/null | grep -q '"status"' || { echo "tether list --json has no status field"; return 1; }
    wait_until "$3" status_is "$1" "$2" || status_is "$1" "$2"
}

listed_as() {
    tether list 2>&1 | grep -w -- "$1" | grep -qw -- "$2" && return 0
    echo "tether list: $(tether list 2>&1 | grep -w -- "$1" || echo "no row for $1")"
    return 1
}

pattern_write() {
    dd if="$2" of="/dev/disk/by-tether/$1" bs=1048576 seek=1 count=1 oflag=direct conv=fsync 2>&1
}

pattern_check() {
    dd if="/dev/disk/by-tether/$1" bs=1048576 skip=1 count=1 iflag=direct 2>/dev/null | cmp -s - "$2"
}

doctor_clean() {
    local rc=0
    tether doctor --json >"/tmp/$1.json" 2>&1 || rc=$?
    if [ $rc = 0 ]; then result_ok "$1"; return 0; fi
    result_fail "$1" "tether doctor exit $rc: $(tail -n 2 "/tmp/$1.json" | tr '\n' ' ' | cut -c1-300)"
    return 1
}

doctor_reports() {
    local name=$1 rc=0 v missing=""
    shift
    tether doctor --json >"/tmp/$name.json" 2>&1 || rc=$?
    for v in "$@"; do grep -q -- "$v" "/tmp/$name.json" || missing="$missing $v"; done
    if [ $rc != 0 ] && [ $rc != 64 ] && [ -z "$missing" ]; then result_ok "$name"; return 0; fi
    result_fail "$name" "tether doctor exit $rc, volumes not named:${missing:- none}: $(tail -n 2 "/tmp/$name.json" | tr '\n' ' ' | cut -c1-300)"
    return 1
}

# Tether names a WWID naa.<hex>; multipath and scsi_id name it 3<hex> (3: NAA).
mp_wwid() {
    case $1 in naa.*) echo "3${1#naa.}" ;; *) echo "$1" ;; esac
}

two_paths() {
    [ "$(multipath -ll "$1" 2>/dev/null | grep -c 'active ready running')" = 2 ]
}

# The state a reader of the log wants at a glance.
show_state() {
    log "--- $1"
    tether list 2>&1
    iscsiadm -m session 2>&1
    multipath -ll 2>&1
    ls /sys/bus/rbd/devices 2>&1 | sed 's/^/rbd device /'
    ls -l /dev/disk/by-tether 2>&1
}
