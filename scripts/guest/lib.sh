# Shell library of the Tether test guest (scripts/guest-lab.sh). Busybox ash; sourced by the guest's
# boot script and by every scenario (`. /tether/lib.sh`). Nothing here runs on the host.
#
# The guest's iSCSI target is LIO, configured through configfs: one target $TARGET_IQN with two
# portal groups, TPG 1 on $PORTAL1 and TPG 2 on $PORTAL2, each with the same LUNs, an ACL for
# $INITIATOR_IQN and CHAP ($CHAP_USER/$CHAP_PASS; mutual: $CHAP_USER_IN/$CHAP_PASS_IN). A portal
# "goes away" by disabling its TPG: its sessions are closed and logins to it fail, while the
# session on the other portal keeps serving the same LUNs.
#
# Results (the scenario contract):
#   result_ok NAME / result_fail NAME WHY...   print `TETHER-RESULT ok|fail NAME [WHY]`
#   check NAME CMD...                          runs CMD; ok if it exits 0, else fail with its output's
#                                              last line
#   wait_until SECONDS CMD...                  polls CMD every 0.1 s until it exits 0; 1 on timeout
# The boot script prints `TETHER-DONE RC` after the scenario: RC is the scenario's exit status if
# not 0, else 1 if any result_fail was printed, else 0.
#
# Target:
#   target_lun_add LUN SIZE_MIB [SERIAL]   fileio LUN on tmpfs (/run/target), unit serial SERIAL
#                                          (default: 32 random hex digits), exported on both TPGs
#   target_lun_wwid LUN                    the WWID the initiator sees (scsi_id, 36001405 + serial hex)
#   target_lun_resize LUN SIZE_MIB         grows (or shrinks) the LUN; the initiator needs a rescan
#   target_lun_remove LUN                  unexports and deletes it
#   portal_down 1|2 / portal_up 1|2        disables / enables that portal's TPG
# Ceph (facts packed by `guest-lab.sh run --ceph DIR`, readable by root only):
#   ceph_clusters                          names of the clusters passed in
#   ceph_load NAME                         sets FSID MON_V1 MON_V2 USER KEY_FILE KEYRING_FILE
# Persistent disk (`guest-lab.sh run --disk FILE` / `--boots N`; the boot script mounts it):
#   persist_mount DEV                      formats DEV ext4 unless it has an ext4 superblock, mounts it
#                                          on $PERSIST and binds $PERSIST_DIRS from it (each seeded
#                                          from the initrd's copy the first time)
#   persist_mounted                        0 if the persistent disk is mounted on $PERSIST
#   persist_on PATH                        0 if PATH lives on it
# Misc: cmdline_arg NAME [DEFAULT]         value of tether.NAME= on the kernel command line
#                                          (scenario; net = this guest's ADDR/24 and host = the
#                                          host's address on the bridge, with --net or --ceph; disk,
#                                          boot = K and boots = N with --disk or --boots; and
#                                          whatever `run --append` added)
#       log MSG                            timestamped line on the scenario's output
# Paths: /tether/bin (on PATH) holds tetherd and tether with `run --tether`; /tether/share what the
# scenario's host hook left in GUEST_SHARE; /run/tether the daemons' logs (udevd, iscsid,
# multipathd). Scenarios run as root in /tmp with the output on the guest's second serial port.

TARGET_IQN=iqn.2003-01.org.tether.guest:target
INITIATOR_IQN=iqn.2004-10.org.tether:guest
PORTAL1=127.0.0.1:3260
PORTAL2=127.0.0.2:3260
CHAP_USER=tether-guest
CHAP_PASS=guest-chap-pass1
CHAP_USER_IN=tether-target
CHAP_PASS_IN=target-chap-pass
TETHER_RUN=/run/tether
LIO=/sys/kernel/config/target
TARGET_DIR=/run/target
export TARGET_IQN INITIATOR_IQN PORTAL1 PORTAL2 CHAP_USER CHAP_PASS CHAP_USER_IN CHAP_PASS_IN

log() {
    echo "[$(cut -d' ' -f1 /proc/uptime)] $*"
}

result_ok() {
    echo "TETHER-RESULT ok $1"
}

result_fail() {
    local name=$1
    shift
    echo "TETHER-RESULT fail $name $*"
    mkdir -p "$TETHER_RUN"
    echo "$name" >>"$TETHER_RUN/failures"
}

check() {
    local name=$1 out rc
    shift
    out=$("$@" 2>&1)
    rc=$?
    if [ $rc -eq 0 ]; then
        result_ok "$name"
    else
        result_fail "$name" "rc=$rc: $(echo "$out" | tail -n 1)"
    fi
    return $rc
}

wait_until() {
    local limit=$1 start now
    shift
    start=$(cut -d. -f1 /proc/uptime)
    while ! "$@" >/dev/null 2>&1; do
        now=$(cut -d. -f1 /proc/uptime)
        [ $((now - start)) -ge "$limit" ] && return 1
        sleep 0.1
    done
    return 0
}

cmdline_arg() {
    local word
    for word in $(cat /proc/cmdline); do
        case $word in
            tether.$1=*) echo "${word#*=}"; return 0 ;;
        esac
    done
    [ $# -ge 2 ] && echo "$2"
    return 0
}

# --- persistent disk ----------------------------------------------------------------------------

PERSIST=/persist
PERSIST_DIRS="var/lib/tether etc/tether etc/iscsi etc/ceph etc/multipath"

persist_mount() {
    local dev=$1 d
    modprobe -a virtio_pci virtio_blk ext4 || return 1
    wait_until 10 test -b "$dev" || return 1
    # ext4's magic 0xEF53 at byte 1080: anything else (a new, zeroed file) is formatted.
    if [ "$(dd if="$dev" bs=1 skip=1080 count=2 2>/dev/null | od -An -tx1 | tr -d ' ')" != 53ef ]; then
        log "formatting $dev (ext4)"
        # The full path: busybox sh runs its own mke2fs applet (ext2 only) before PATH.
        /usr/sbin/mke2fs -q -F -t ext4 -L tether-persist "$dev" || return 1
    fi
    mkdir -p "$PERSIST"
    mount -t ext4 "$dev" "$PERSIST" || return 1
    for d in $PERSIST_DIRS; do
        if [ ! -d "$PERSIST/$d" ]; then
            mkdir -p "$PERSIST/$d" && cp -a "/$d/." "$PERSIST/$d/" || return 1
        fi
        mkdir -p "/$d" && mount --bind "$PERSIST/$d" "/$d" || return 1
    done
}

persist_mounted() {
    grep -q " $PERSIST ext4 " /proc/mounts
}

persist_on() {
    persist_mounted && [ "$(stat -c %d "$1" 2>/dev/null)" = "$(stat -c %d "$PERSIST")" ]
}

# --- LIO target -------------------------------------------------------------------------------

_tpg() { echo "$LIO/iscsi/$TARGET_IQN/tpgt_$1"; }
_acl() { echo "$(_tpg "$1")/acls/$INITIATOR_IQN"; }
_backstore() { echo "$LIO/core/fileio_$1/lun$1"; }

# Creates the target, both TPGs with one portal each, the ACL and CHAP. Called once by the boot script.
target_setup() {
    local t portal
    mkdir -p "$TARGET_DIR" "$LIO/iscsi/$TARGET_IQN" || return 1
    for t in 1 2; do
        if [ $t = 1 ]; then portal=$PORTAL1; else portal=$PORTAL2; fi
        mkdir "$(_tpg $t)" "$(_tpg $t)/np/$portal" "$(_acl $t)" || return 1
        echo 1 >"$(_tpg $t)/attrib/authentication"
        echo 0 >"$(_tpg $t)/attrib/generate_node_acls"
        echo 0 >"$(_tpg $t)/attrib/demo_mode_write_protect"
        # printf %s: a trailing newline would become part of the secret.
        printf %s "$CHAP_USER" >"$(_acl $t)/auth/userid"
        printf %s "$CHAP_PASS" >"$(_acl $t)/auth/password"
        printf %s "$CHAP_USER_IN" >"$(_acl $t)/auth/userid_mutual"
        printf %s "$CHAP_PASS_IN" >"$(_acl $t)/auth/password_mutual"
        echo 1 >"$(_tpg $t)/enable"
    done
}

target_lun_add() {
    local lun=$1 mib=$2 serial=${3:-} b t
    [ -n "$serial" ] || serial=$(tr -d '-' </proc/sys/kernel/random/uuid)
    b=$(_backstore "$lun")
    truncate -s "${mib}M" "$TARGET_DIR/lun$lun.img" || return 1
    mkdir -p "$b" || return 1
    echo "fd_dev_name=$TARGET_DIR/lun$lun.img,fd_dev_size=$((mib * 1048576))" >"$b/control" || return 1
    # The unit serial must be set before the LUN is exported; without it the WWID is empty.
    printf %s "$serial" >"$b/wwn/vpd_unit_serial" || return 1
    echo 1 >"$b/enable" || return 1
    for t in 1 2; do
        mkdir "$(_tpg $t)/lun/lun_$lun" || return 1
        ln -s "$b" "$(_tpg $t)/lun/lun_$lun/dev" || return 1
        mkdir "$(_acl $t)/lun_$lun" || return 1
        ln -s "$(_tpg $t)/lun/lun_$lun" "$(_acl $t)/lun_$lun/map" || return 1
    done
}

target_lun_wwid() {
    local serial hex
    serial=$(sed -n 's/^T10 VPD Unit Serial Number: //p' "$(_backstore "$1")/wwn/vpd_unit_serial")
    # LIO's NAA 6 designator: company id 001405, then the first 25 hex digits of the serial.
    hex=$(printf %s "$serial" | tr -cd '0-9a-fA-F' | tr 'A-F' 'a-f' | cut -c1-25)
    while [ ${#hex} -lt 25 ]; do hex=${hex}0; done
    echo "36001405$hex"
}

target_lun_resize() {
    local lun=$1 mib=$2
    truncate -s "${mib}M" "$TARGET_DIR/lun$lun.img" || return 1
    # fileio on a regular file reports fd_dev_size, not the file's size.
    echo "fd_dev_size=$((mib * 1048576))" >"$(_backstore "$lun")/control"
}

target_lun_remove() {
    local lun=$1 b t
    b=$(_backstore "$lun")
    for t in 1 2; do
        rm -f "$(_acl $t)/lun_$lun/map"
        rmdir "$(_acl $t)/lun_$lun" 2>/dev/null
        rm -f "$(_tpg $t)/lun/lun_$lun/dev"
        rmdir "$(_tpg $t)/lun/lun_$lun" 2>/dev/null
    done
    rmdir "$b" "$(dirname "$b")" 2>/dev/null
    rm -f "$TARGET_DIR/lun$lun.img"
    [ ! -e "$b" ]
}

portal_down() {
    echo 0 >"$(_tpg "$1")/enable"
}

portal_up() {
    echo 1 >"$(_tpg "$1")/enable"
}

# --- Ceph -------------------------------------------------------------------------------------

ceph_clusters() {
    [ -d /tether/ceph ] && ls /tether/ceph
    return 0
}

ceph_load() {
    [ -f "/tether/ceph/$1/cluster.env" ] || return 1
    . "/tether/ceph/$1/cluster.env"
    KEY_FILE=/tether/ceph/$1/key
    KEYRING_FILE=/tether/ceph/$1/keyring
}

# --- Tether (with `run --tether BINDIR`) --------------------------------------------------------
# tether_setup [MULTIPATH]   tether_config MULTIPATH, tether_install, tetherd_start
# tether_config MULTIPATH [STATE_DIR] [TOML]
#                            writes /etc/tether/tether.toml: MULTIPATH true|false (default false),
#                            state_dir STATE_DIR (default /run/tether/state, tmpfs), TOML appended
# tether_install             what a package puts in place: udev/60-tether*.rules, tether as
#                            /usr/bin/tether; reloads udev
# tetherd_start [WAIT]       starts tetherd in the background as a service would (no command after
#                            it; log $TETHER_LOG) and waits up to WAIT s (30) for `tether health`
# tetherd_stop / tetherd_kill9  SIGTERM and wait / kill -9
# json_get KEY               the first string or number value of "KEY" in the JSON on stdin
# json_flat                  the JSON on stdin as `PATH<TAB>VALUE` lines, one per string, number,
#                            true, false or null, PATH as .attachments[0].status (no jq or python
#                            in the guest; escapes are dropped, not decoded)
# json_top KEY               the value of top-level KEY of the JSON object on stdin
# tether_status VOLUME       the `status` of VOLUME's attachment in `tether list --json`
# list_status VOLUME         the same from the `tether list --json` answer on stdin
# iscsi_info FILE VOLUME LUN [PORTAL...]  writes an iSCSI connection_info (CHAP) to FILE: one
#                            portal as target_portal, several as target_portals/iqns/luns
TETHER_CONF=/etc/tether/tether.toml
TETHER_LOG=$TETHER_RUN/tetherd.log
TETHERD_PID=

tether_setup() {
    tether_config "${1:-false}" && tether_install && tetherd_start
}

tether_config() {
    local state=${2:-/run/tether/state}
    mkdir -p /etc/tether /etc/ceph "$state"
    cat >"$TETHER_CONF" <<EOT
socket = "/run/tether/tetherd.sock"
state_dir = "$state"
log_level = "debug"

[iscsi]
initiator = "$INITIATOR_IQN"

[multipath]
enabled = ${1:-false}

[ceph]
registry_dir = "/etc/tether"
ceph_dir = "/etc/ceph"

[libvirt]
uri = ""
EOT
    [ -z "${3:-}" ] || printf '\n%s\n' "$3" >>"$TETHER_CONF"
}

tether_install() {
    mkdir -p /etc/udev/rules.d
    ln -sf /tether/bin/tether /usr/bin/tether
    cp /tether/udev/60-tether.rules /tether/udev/60-tether-rbd.rules /etc/udev/rules.d/ || return 1
    udevadm control --reload
}

tetherd_start() {
    tetherd --config "$TETHER_CONF" >>"$TETHER_LOG" 2>&1 &
    TETHERD_PID=$!
    wait_until "${1:-30}" _tetherd_settled
    tether health >/dev/null 2>&1
}

# Answering, or gone (exited: a zombie until waited for), so that a refused config fails at once.
_tetherd_settled() {
    tether health >/dev/null 2>&1 && return 0
    [ ! -d "/proc/$TETHERD_PID" ] || grep -q '^[0-9]* ([^)]*) Z' "/proc/$TETHERD_PID/stat"
}

tetherd_stop() {
    [ -n "$TETHERD_PID" ] && kill "$TETHERD_PID" 2>/dev/null
    wait "$TETHERD_PID" 2>/dev/null
    TETHERD_PID=
}

tetherd_kill9() {
    [ -n "$TETHERD_PID" ] && kill -9 "$TETHERD_PID" 2>/dev/null
    wait "$TETHERD_PID" 2>/dev/null
    TETHERD_PID=
}

json_flat() {
    tr -d '\n' | awk '
    function path(   p, j) {
        p = ""
        for (j = 1; j <= d; j++) p = p (type[j] == "o" ? "." key[j] : "[" idx[j] "]")
        return p
    }
    { s = s $0 }
    END {
        n = length(s); i = 1; d = 0; want_key = 0
        while (i <= n) {
            c = substr(s, i, 1)
            if (c == "{") { d++; type[d] = "o"; key[d] = ""; want_key = 1; i++ }
            else if (c == "[") { d++; type[d] = "a"; idx[d] = 0; want_key = 0; i++ }
            else if (c == "}" || c == "]") { d--; i++ }
            else if (c == ",") { if (type[d] == "a") idx[d]++; else want_key = 1; i++ }
            else if (c == ":" || c == " " || c == "\t" || c == "\r") { if (c == ":") want_key = 0; i++ }
            else if (c == "\"") {
                v = ""; j = i + 1
                while (j <= n) {
                    ch = substr(s, j, 1)
                    if (ch == "\\") { v = v substr(s, j + 1, 1); j += 2; continue }
                    if (ch == "\"") break
                    v = v ch; j++
                }
                i = j + 1
                if (type[d] == "o" && want_key) key[d] = v; else print path() "\t" v
            } else {
                j = i
                while (j <= n && index(",}] \t\r", substr(s, j, 1)) == 0) j++
                print path() "\t" substr(s, i, j - i); i = j
            }
        }
    }'
}

json_top() {
    json_flat | awk -F '\t' -v k=".$1" '$1 == k { print $2; exit }'
}

tether_status() {
    tether list --json 2>/dev/null | list_status "$1"
}

list_status() {
    json_flat | awk -F '\t' -v vol="$1" '
        { p = $1; sub(/\.[a-z_]+$/, "", p); k = substr($1, length(p) + 2) }
        p ~ /^\.attachments\[[0-9]+\]$/ && k == "volume_id" { v[p] = $2 }
        p ~ /^\.attachments\[[0-9]+\]$/ && k == "status" { st[p] = $2 }
        END { for (p in v) if (v[p] == vol) print st[p] }'
}

json_get() {
    tr -d '\n' | grep -o "\"$1\" *: *\"\{0,1\}[^\",}]*" | head -n 1 | sed 's/^[^:]*: *"\{0,1\}//'
}

iscsi_info() {
    local file=$1 vol=$2 lun=$3 p portals="" iqns="" luns=""
    shift 3
    if [ $# -eq 1 ]; then
        portals="\"target_portal\": \"$1\", \"target_iqn\": \"$TARGET_IQN\", \"target_lun\": $lun,"
    else
        for p in "$@"; do
            portals="$portals${portals:+, }\"$p\""; iqns="$iqns${iqns:+, }\"$TARGET_IQN\""; luns="$luns${luns:+, }$lun"
        done
        portals="\"target_portals\": [$portals], \"target_iqns\": [$iqns], \"target_luns\": [$luns],"
        portals="$portals \"target_portal\": \"$1\", \"target_iqn\": \"$TARGET_IQN\", \"target_lun\": $lun,"
    fi
    cat >"$file" <<EOT
{"driver_volume_type": "iscsi", "data": {$portals "target_discovered": false,
 "auth_method": "CHAP", "auth_username": "$CHAP_USER", "auth_password": "$CHAP_PASS",
 "volume_id": "$vol", "access_mode": "rw"}}
EOT
}

# Prints the scenario's end state when something failed: tetherd's log tail, sessions, disks.
tether_debug() {
    [ -s "$TETHER_RUN/failures" ] || return 0
    log "--- tetherd log (last 40 lines)"; tail -n 40 "$TETHER_LOG"
    log "--- sessions"; iscsiadm -m session 2>&1
    log "--- block"; ls /sys/block; ls -l /dev/disk/by-tether 2>&1
    log "--- maps"; multipath -ll 2>&1
}
