#!/usr/bin/env bash
# A private libvirtd for tests: its own /etc/libvirt, /run, /var/lib/libvirt and socket, in a
# private mount namespace, as root. Recipe and pitfalls: docs/LAB.md, "libvirt".
#
#   scripts/libvirt-lab.sh install        apt packages (idempotent)
#   scripts/libvirt-lab.sh start DIR      starts libvirtd; writes DIR/libvirt.env (URI, LIBVIRTD_PID);
#                                         its log and the domains' logs (DIR/log/domains/qemu) stay in DIR
#   scripts/libvirt-lab.sh stop DIR       stops it by PID and removes DIR
#   scripts/libvirt-lab.sh vm             the VM lab: LibvirtVMTests (a TCG domain on Tether's disks
#                                         from two Ceph clusters and CHAP iSCSI) in a private network
#                                         namespace; needs `swift build --build-tests` first
#
# With LIBVIRT_LAB_HOOK_TETHER=PATH (the tether client) set, start installs Tether's qemu hook
# (hooks/qemu.d/tether) into the lab's own /etc/libvirt/hooks/qemu.d before libvirtd starts, with
# a hooks/tether.conf naming that client, LIBVIRT_LAB_HOOK_SOCKET (tetherd's socket) and
# LIBVIRT_LAB_HOOK_TIMEOUT (seconds, default 5).
set -euo pipefail

install() {
    "$(dirname "$0")/packages.sh" install libvirt
}

# failed DIR WHAT: says why the start failed, with the ends of libvirtd's own logs (its errors go
# to log_outputs, not to stderr).
failed() {
    echo "libvirt-lab: $2" >&2
    tail -n 20 "$1/log/libvirtd.out" "$1/log/libvirtd.log" >&2 2>/dev/null || true
}

# install_hook DIR: Tether's hook in the lab's /etc/libvirt (bind-mounted over the host's one,
# so the host's libvirt never sees it).
install_hook() {
    local dir=$1
    mkdir -p "$dir/etc/hooks/qemu.d"
    # cp, not install(1): this script's own install() would shadow it.
    cp "$(dirname "$0")/../hooks/qemu.d/tether" "$dir/etc/hooks/qemu.d/tether"
    chmod 0755 "$dir/etc/hooks/qemu.d/tether"
    cat >"$dir/etc/hooks/tether.conf" <<CONF
TETHER='$LIBVIRT_LAB_HOOK_TETHER'
TETHER_SOCKET='${LIBVIRT_LAB_HOOK_SOCKET:-}'
TETHER_HOOK_TIMEOUT='${LIBVIRT_LAB_HOOK_TIMEOUT:-5}'
CONF
    chmod 0644 "$dir/etc/hooks/tether.conf"
}

start() {
    local dir=$1
    mkdir -p "$dir"/{etc,sysetc,lib,cache,sock,log/domains,run}
    chmod 700 "$dir"
    cp -r /etc/libvirt/. "$dir/etc/"
    if [ -n "${LIBVIRT_LAB_HOOK_TETHER:-}" ]; then install_hook "$dir"; fi
    cat >"$dir/etc/libvirtd.conf" <<CONF
unix_sock_dir = "$dir/sock"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:$dir/log/libvirtd.log"
CONF
    cat >"$dir/etc/qemu.conf" <<CONF
user = "root"
group = "root"
security_driver = "none"
stdio_handler = "file"
namespaces = [ ]
CONF
    # The Debian daemon exits unless user libvirt-qemu exists, so libvirtd gets a private copy of
    # /etc whose passwd and group have it. The whole directory is bound, not the two files: a file
    # bound over /etc/group is detached from this namespace when anything on the host replaces
    # /etc/group by rename (groupadd, useradd), and libvirtd then fails to find the group.
    cp -a /etc/. "$dir/sysetc/"
    grep -q '^libvirt-qemu:' "$dir/sysetc/passwd" || echo 'libvirt-qemu:x:64055:64055:Libvirt Qemu:/var/lib/libvirt:/usr/sbin/nologin' >>"$dir/sysetc/passwd"
    grep -q '^libvirt-qemu:' "$dir/sysetc/group" || echo 'libvirt-qemu:x:64055:' >>"$dir/sysetc/group"
    grep -q '^kvm:' "$dir/sysetc/group" || echo 'kvm:x:64056:' >>"$dir/sysetc/group"
    unshare --mount --propagation private -- bash -c '
        set -e
        dir=$1
        mount --bind "$dir/sysetc" /etc
        mount --bind "$dir/etc" /etc/libvirt
        mount -t tmpfs tmpfs /run
        mkdir -p /var/lib/libvirt /var/cache/libvirt
        mount --bind "$dir/lib" /var/lib/libvirt
        mount --bind "$dir/cache" /var/cache/libvirt
        # Domain logs hold full QEMU command lines: they stay in the lab, not the host'"'"'s /var/log.
        mkdir -p /var/log/libvirt
        mount --bind "$dir/log/domains" /var/log/libvirt
        exec libvirtd
    ' libvirtd "$dir" >"$dir/log/libvirtd.out" 2>&1 &
    local pid=$!
    for _ in $(seq 1 200); do
        [ -S "$dir/sock/libvirt-sock" ] && break
        kill -0 "$pid" 2>/dev/null || { failed "$dir" "libvirtd exited"; exit 1; }
        sleep 0.05
    done
    [ -S "$dir/sock/libvirt-sock" ] || { failed "$dir" "libvirtd did not create its socket within 10 s"; kill -9 "$pid"; exit 1; }
    cat >"$dir/libvirt.env" <<ENV
URI=qemu:///system?socket=$dir/sock/libvirt-sock
LIBVIRTD_PID=$pid
ENV
}

stop() {
    local dir=$1
    if [ -f "$dir/libvirt.env" ]; then
        # shellcheck disable=SC1091
        . "$dir/libvirt.env"
        kill -TERM "$LIBVIRTD_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$LIBVIRTD_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$LIBVIRTD_PID" 2>/dev/null || true
        wait "$LIBVIRTD_PID" 2>/dev/null || true
    fi
    rm -rf "$dir"
}

# The suite starts (and stops) its own libvirtd, Ceph clusters, tgtd and tetherd.
vm() {
    cd "$(dirname "$0")/.."
    CI=true unshare --net -- bash -c 'ip link set lo up && exec /opt/swift/usr/bin/swift test --skip-build --filter LibvirtVMTests'
}

case "${1:-}" in
    install) install ;;
    start) start "${2:?DIR}" ;;
    stop) stop "${2:?DIR}" ;;
    vm) vm ;;
    *) echo "usage: scripts/libvirt-lab.sh install | start DIR | stop DIR | vm" >&2; exit 64 ;;
esac
