#!/usr/bin/env bash
# Runs a README command on a brand-new Debian 12 root, as a new user on a new machine of this kind
# would: debootstrap (minbase) plus the Debian packages such a machine comes with
# (scripts/fresh/base-packages.txt), this machine's apt sources, CA certificates, git and pip
# settings, and Swift and the Swift package mirror bind-mounted read-only. The project is cloned
# into it from this repository's HEAD (committed work only); nothing else is installed.
#
#   scripts/fresh-check.sh demo            scripts/demo.sh
#   scripts/fresh-check.sh test            scripts/test.sh (slow: ~15-25 min)
#   scripts/fresh-check.sh deb [DEB]       installs the package (scripts/package.sh builds it when
#                                          DEB is not given) with only its Depends and checks it
#                                          (scripts/deb-check.sh: files, modes, unit, man, READY=1, purge)
#   scripts/fresh-check.sh run 'CMD'       any command, run in the clone
#   scripts/fresh-check.sh base            only builds the cached base root
#
# Prints the command's output, then "fresh-check: CMD: exit N in S s". Exits with the command's code.
# The base root (debootstrap + base packages, a few minutes) is cached as a tarball in
# $TETHER_FRESH_CACHE (default /var/cache/tether-fresh); every check unpacks a new copy into a
# temporary directory and removes it afterwards, with every mount and process it made.
# Needs root. Not part of scripts/test.sh: it takes minutes.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${TETHER_FRESH_CACHE:-/var/cache/tether-fresh}
SUITE=bookworm
MIRROR=$(sed -n 's/^URIs: //p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}

log() { echo "fresh-check: $*" >&2; }
die() { log "$*"; exit 1; }

# The key of the cached base: the package list and this script's base-building part.
base_key() {
    { cat "$ROOT/scripts/fresh/base-packages.txt"; sed -n '/^# --- base/,/^# --- check/p' "$0"; } |
        sha256sum | cut -c1-16
}

# --- base ---------------------------------------------------------------------------------------

# copy_host_settings DIR: what makes a new machine of this kind reach the same registries.
copy_host_settings() {
    local dir=$1 f
    mkdir -p "$dir/etc/apt/sources.list.d" "$dir/usr/local/share/ca-certificates" "$dir/root" "$dir/usr/sbin"
    rm -f "$dir/etc/apt/sources.list"
    cp /etc/apt/sources.list.d/debian.sources "$dir/etc/apt/sources.list.d/"
    cp -r /usr/local/share/ca-certificates/. "$dir/usr/local/share/ca-certificates/" 2>/dev/null || true
    for f in /etc/gitconfig /etc/gitignore /etc/pip.conf /usr/sbin/policy-rc.d; do
        [ -e "$f" ] && cp "$f" "$dir$f"
    done
    [ -e "$HOME/.gitconfig" ] && cp "$HOME/.gitconfig" "$dir/root/.gitconfig"
    return 0
}

build_base() {
    local tarball=$1 dir
    "$ROOT/scripts/packages.sh" install fresh
    dir=$(mktemp -d /var/tmp/tether-fresh-base.XXXXXX)
    log "building the base root in $dir (debootstrap + $(grep -vc '^#' "$ROOT/scripts/fresh/base-packages.txt") packages; minutes)"
    debootstrap --variant=minbase "$SUITE" "$dir" "$MIRROR" >"$dir.debootstrap.log" 2>&1 ||
        { tail -n 20 "$dir.debootstrap.log" >&2; rm -rf "$dir" "$dir.debootstrap.log"; die "debootstrap failed"; }
    copy_host_settings "$dir"
    grep -v '^#' "$ROOT/scripts/fresh/base-packages.txt" >"$dir/tmp/base-packages.txt"
    mount_system "$dir"
    # Only the packages this mirror has: a listed name can be gone from it.
    chroot "$dir" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive bash -ec '
        apt-get update -qq
        avail=$(xargs apt-cache policy < /tmp/base-packages.txt | awk "/^[^ ]/ {p=\$1} /Candidate:/ && \$2 != \"(none)\" {sub(\":\$\",\"\",p); print p}")
        apt-get install -y -qq --no-install-recommends $avail >/tmp/base-install.log 2>&1 || { tail -n 30 /tmp/base-install.log; exit 1; }
        update-ca-certificates >/dev/null 2>&1
        apt-get clean
        rm -f /tmp/base-packages.txt /tmp/base-install.log' ||
        { unmount_all "$dir"; rm -rf "$dir" "$dir.debootstrap.log"; die "installing the base packages failed"; }
    unmount_all "$dir"
    mkdir -p "$CACHE"
    tar -C "$dir" --numeric-owner -cf - . | zstd -q -T0 -o "$tarball.tmp"
    mv "$tarball.tmp" "$tarball"
    rm -rf "$dir" "$dir.debootstrap.log"
    log "base cached in $tarball"
}

# --- check --------------------------------------------------------------------------------------

mount_system() {
    local dir=$1
    # unshare --mount (the libvirt lab) fails in a chroot whose / is not a mount point.
    mount --bind "$dir" "$dir"
    mount -t proc proc "$dir/proc"
    mount --rbind /sys "$dir/sys"
    mount --make-rslave "$dir/sys"
    mount --bind /dev "$dir/dev"
    mount --bind /dev/pts "$dir/dev/pts"
    mkdir -p "$dir/dev/shm" && mount -t tmpfs tmpfs "$dir/dev/shm"
}

mount_swift() {
    local dir=$1 d
    for d in /opt/swift /opt/swift-packages /opt/wheels; do
        [ -d "$d" ] || continue
        mkdir -p "$dir$d"
        mount --bind "$d" "$dir$d"
        mount -o remount,bind,ro "$dir$d"
    done
}

# kill_inside DIR: every process whose root is DIR (what the command left running).
kill_inside() {
    local dir=$1 p root
    for p in /proc/[0-9]*; do
        root=$(readlink "$p/root" 2>/dev/null) || continue
        case "$root" in "$dir"|"$dir"/*) kill -9 "${p#/proc/}" 2>/dev/null || true ;; esac
    done
}

unmount_all() {
    local dir=$1 m
    kill_inside "$dir"
    # Deepest first.
    for m in $(findmnt -rn -o TARGET | grep -F "$dir" | awk '{print length, $0}' | sort -rn | cut -d' ' -f2-); do
        umount -l "$m" 2>/dev/null || true
    done
    if findmnt -rn -o TARGET | grep -qF "$dir"; then
        die "mounts under $dir remain: $(findmnt -rn -o TARGET | grep -F "$dir" | tr '\n' ' ')"
    fi
}

check() {
    local cmd=$1 deb=${2:-} tarball dir start rc
    [ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mounts)"
    tarball=$CACHE/base-$(base_key).tar.zst
    [ -f "$tarball" ] || build_base "$tarball"
    dir=$(mktemp -d /var/tmp/tether-fresh.XXXXXX)
    # shellcheck disable=SC2064
    trap "unmount_all '$dir'; rm -rf '$dir'" EXIT
    zstd -q -d -c "$tarball" | tar -C "$dir" --numeric-owner -xf -
    mount_system "$dir"
    mount_swift "$dir"
    git clone -q "$ROOT" "$dir/src/tether"
    [ -z "$deb" ] || cp "$deb" "$dir/tmp/"
    log "running '$cmd' in a new root ($dir) at $(git -C "$ROOT" rev-parse --short HEAD)"
    start=$(date +%s)
    set +e
    chroot "$dir" env -i HOME=/root TERM=dumb PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        bash -lc "cd /src/tether && $cmd" </dev/null
    rc=$?
    set -e
    echo "fresh-check: $cmd: exit $rc in $(( $(date +%s) - start )) s"
    return "$rc"
}

[ "${TETHER_FRESH_INNER:-}" = 1 ] || {
    # A private mount namespace: whatever happens, no mount outlives the check.
    export TETHER_FRESH_INNER=1
    exec unshare --mount --propagation private -- "$0" "$@"
}

case "${1:-}" in
    demo) check scripts/demo.sh ;;
    test) check scripts/test.sh ;;
    run) check "${2:?usage: fresh-check.sh run CMD}" ;;
    deb)
        deb=${2:-}
        [ -n "$deb" ] || deb=$("$ROOT/scripts/package.sh" | tail -n 1)
        check "scripts/deb-check.sh /tmp/$(basename "$deb")" "$deb" ;;
    base) tarball=$CACHE/base-$(base_key).tar.zst; [ -f "$tarball" ] || build_base "$tarball"; echo "$tarball" ;;
    *) echo "usage: scripts/fresh-check.sh demo | test | deb [DEB] | run CMD | base" >&2; exit 64 ;;
esac
