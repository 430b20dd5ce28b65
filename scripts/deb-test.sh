#!/usr/bin/env bash
# The package under a real systemd: boots a small Debian 12 root with systemd as PID 1 in a
# systemd-nspawn container and runs scripts/deb-check.sh there as a unit: apt installs the .deb
# with its Depends, every file with its mode, `systemd-analyze verify`, man pages, completions,
# `tether --version`, tetherd started by systemd (READY=1: the unit active with tetherd's status
# text, `tether health` through the socket systemd's tetherd made), WATCHDOG=1 and STOPPING=1
# reaching systemd, and a purge that leaves the root as it was but for tetherd's journal.
#
#   scripts/deb-test.sh DEB
#   scripts/deb-test.sh base       only makes the cached root; prints its tarball
#
# The root is debootstrap's minbase plus systemd, dbus, man-db and bash-completion (what a node
# that runs tetherd has), this machine's apt sources; cached as a tarball in $TETHER_DEB_CACHE
# (default /var/cache/tether-deb; ~5 min to make on a loaded two-core machine, ~15 s to unpack).
# Each run unpacks a new copy into a temporary directory and removes it. The container shares
# this machine's network (apt fetches the Depends) and nothing else; no machined is asked
# (--register=no, --keep-unit). It is killed after $TETHER_DEB_TIMEOUT s (default 600).
# Needs root. Prints deb-check's output; exits with its status (1 when it gave none).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${TETHER_DEB_CACHE:-/var/cache/tether-deb}
TIMEOUT=${TETHER_DEB_TIMEOUT:-600}
SUITE=bookworm
MIRROR=$(sed -n 's/^URIs: //p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}

log() { echo "deb-test: $*" >&2; }
die() { log "$*"; exit 1; }

# --- base ---------------------------------------------------------------------------------------
INCLUDE=systemd,systemd-sysv,dbus,man-db,bash-completion

build_base() {
    local tarball=$1 dir
    dir=$(mktemp -d /var/tmp/tether-deb-base.XXXXXX)
    log "making the systemd root in $dir (debootstrap minbase + $INCLUDE; minutes)"
    if ! debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$dir" "$MIRROR" >"$dir.log" 2>&1; then
        tail -n 20 "$dir.log" >&2
        rm -rf "$dir" "$dir.log"
        die "debootstrap failed"
    fi
    rm -f "$dir/etc/apt/sources.list"
    mkdir -p "$dir/etc/apt/sources.list.d"
    cp /etc/apt/sources.list.d/debian.sources "$dir/etc/apt/sources.list.d/"
    # An empty machine-id: each boot makes its own, as on a first boot.
    : >"$dir/etc/machine-id"
    chroot "$dir" apt-get clean
    mkdir -p "$CACHE"
    tar -C "$dir" --numeric-owner -cf - . | zstd -q -T0 -o "$tarball.tmp"
    mv "$tarball.tmp" "$tarball"
    rm -rf "$dir" "$dir.log"
    log "cached in $tarball"
}
# --- check --------------------------------------------------------------------------------------

# The unit that runs the check once the container has booted, then powers it off.
write_check_unit() {
    local root=$1
    cat >"$root/etc/systemd/system/tether-deb-check.service" <<EOF
[Unit]
Description=Tether package check (scripts/deb-check.sh)
[Service]
Type=oneshot
ExecStart=/bin/sh -c '/check/deb-check.sh /check/$(basename "$DEB") >/check/out.log 2>&1; echo \$? >/check/rc'
ExecStopPost=/usr/bin/systemctl poweroff --no-block
[Install]
WantedBy=multi-user.target
EOF
    ln -s ../tether-deb-check.service "$root/etc/systemd/system/multi-user.target.wants/tether-deb-check.service"
    # dbus-daemon cannot reach systemd in an nspawn container here and times out after 90 s,
    # holding logind (which needs it) and the boot with it; the check needs neither.
    local unit
    for unit in dbus.service dbus.socket systemd-logind.service; do ln -sf /dev/null "$root/etc/systemd/system/$unit"; done
}

# Prints the cached root's tarball, made first when missing.
base() {
    local key tarball
    key=$({ echo "$INCLUDE"; sed -n '/^# --- base/,/^# --- check/p' "$0"; } | sha256sum | cut -c1-16)
    tarball=$CACHE/root-$key.tar.zst
    [ -f "$tarball" ] || build_base "$tarball"
    echo "$tarball"
}

# nspawn leaves its (empty) lock and propagation directories in /run/systemd/nspawn: removed when
# this run made them.
cleanup() {
    local work=$1 made_run=$2
    rm -rf "$work"
    if [ "$made_run" = yes ]; then
        rmdir /run/systemd/nspawn/locks /run/systemd/nspawn/propagate /run/systemd/nspawn 2>/dev/null || true
    fi
}

main() {
    local tarball work rc made_run=no
    tarball=$(base)
    work=$(mktemp -d /var/tmp/tether-deb.XXXXXX)
    [ -d /run/systemd/nspawn ] || made_run=yes
    # shellcheck disable=SC2064
    trap "cleanup '$work' $made_run" EXIT
    mkdir "$work/root" "$work/check"
    zstd -q -d -c "$tarball" | tar -C "$work/root" --numeric-owner -xf -
    cp "$ROOT/scripts/deb-check.sh" "$DEB" "$work/check/"
    write_check_unit "$work/root"
    log "booting systemd in a container with $(basename "$DEB")"
    local start=$SECONDS
    set +e
    timeout --kill-after=10 "$TIMEOUT" systemd-nspawn --quiet --register=no --keep-unit --console=pipe \
        --resolv-conf=copy-host --bind="$work/check:/check" -D "$work/root" --boot </dev/null >"$work/console.log" 2>&1
    rc=$?
    set -e
    cat "$work/check/out.log" 2>/dev/null || true
    [ -f "$work/check/rc" ] || { tail -n 40 "$work/console.log" >&2; die "no verdict from the container (nspawn exit $rc)"; }
    log "container ran $((SECONDS - start)) s"
    return "$(cat "$work/check/rc")"
}

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, systemd-nspawn)"
"$ROOT/scripts/packages.sh" install deb
case "${1:-}" in
    base) base ;;
    "") die "usage: scripts/deb-test.sh DEB | base" ;;
    *) DEB=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); main ;;
esac
