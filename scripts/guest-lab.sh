#!/usr/bin/env bash
# The kernel path's lab: a Debian 12 kernel booted under QEMU TCG (this machine's own kernel has no
# iscsi_tcp, scsi, dm or rbd), with open-iscsi, dm-multipath, udev and krbd inside, an LIO iSCSI
# target on the guest's loopback, and optionally the host's Ceph lab clusters on a bridge.
#
#   scripts/guest-lab.sh install                 apt packages (idempotent)
#   scripts/guest-lab.sh build [--tether BINDIR] kernel + base initramfs into the cache, rebuilt only
#                                                when its inputs change (kernel package version, the
#                                                build part of this script, scripts/guest/etc, the host
#                                                packages copied in); prints the base's directory.
#                                                `run` builds too, but does not ask apt for a newer
#                                                kernel.
#                                                --tether also packs BINDIR's tetherd and tether (and
#                                                the shared libraries the base lacks) ahead of `run`
#   scripts/guest-lab.sh run SCENARIO [--tether BINDIR] [--ceph DIR]... [--net] [--timeout S]
#                                     [--append "k=v ..."] [--disk FILE] [--boots N]
#                                                boots the guest with scripts/guest/scenarios/SCENARIO.sh,
#                                                prints its output, exits 0 only if it reported
#                                                `TETHER-DONE 0` and no failed result: 1 failed,
#                                                2 no verdict (boot failure, panic), 124 timeout.
#                                                --disk FILE: a persistent virtio disk (ext4, /persist);
#                                                --boots N: power off and boot again N-1 times with
#                                                the same disk (scripts/guest/lab-run.sh)
#   scripts/guest-lab.sh net-up [ADDR/24]        bridge $TETHER_GUEST_BRIDGE (default tether-br0) with
#                                                ADDR (default 10.0.3.1/24) for guests and Ceph
#   scripts/guest-lab.sh net-down                removes it and any tap left on it
#   scripts/guest-lab.sh selftest [--tether BINDIR]
#                                                in its own network namespace: smoke, iscsi-shell and,
#                                                with two ceph-lab clusters on the bridge, krbd-shell;
#                                                ends with "guest-lab: N passed, N failed"
#   scripts/guest-lab.sh lab SCENARIO... [-- RUN ARGS]
#                                                each SCENARIO as ci runs its Ceph ones (own network
#                                                namespace, bridge, two Ceph clusters), whole output
#   scripts/guest-lab.sh ci                      builds Tether, then every scenario in its own
#                                                network namespace (scripts/guest/lab-ci.sh), the
#                                                reboot ones over two boots, tether-reboot-cinder
#                                                with a Cinder lab of its own;
#                                                TETHER_GUEST_SKIP="NAME ..." leaves some out
#
# Environment: TETHER_GUEST_CACHE (default /var/cache/tether-guest), TETHER_GUEST_KERNEL (a
# linux-image-6.1.0-N-amd64 package; default what linux-image-amd64 depends on), TETHER_GUEST_MEM
# (MiB; default 512, plus room for Tether's binaries with --tether), TETHER_GUEST_STRIP=0 (keep
# their symbols), TETHER_GUEST_CPU (max), TETHER_GUEST_SMP (1), TETHER_GUEST_TIMEOUT (s, 180),
# TETHER_GUEST_LOGS (a directory to keep SCENARIO.console.log and SCENARIO.log in),
# TETHER_GUEST_VERBOSE=1 (print the guest's console too).
#
# The initrd is four concatenated cpio archives: the cached base (busybox, kernel modules, glibc
# tools, udev rules, /etc; zstd); per run scripts/guest/{boot,lib.sh,scenarios} under /tether; with
# --tether, tetherd and tether under /tether/bin plus the libraries the base lacks (zstd); and the
# Ceph facts, /tether/ceph/NAME/{cluster.env,key,keyring} (keys mode 0600). So keys reach the guest
# in its RAM only, never on the kernel's or QEMU's command line, and neither a new Tether build nor
# a scenario edit rebuilds the base. The kernel is booted as the bzImage's vmlinux through its PVH
# entry: an xz bzImage decompresses itself for 5-15 s under TCG. Scenario contract: scripts/guest/lib.sh.
#
# Ceph for krbd: inside the test's network namespace (`unshare -n`), `net-up` first, then start the
# clusters with `CEPH_LAB_ADDR=10.0.3.1 scripts/ceph-lab.sh start ...` so their mons advertise the
# bridge's address, then `run ... --ceph DIR`: the guest gets a tap on the bridge and 10.0.3.N/24.
# A scenario may have a host side, scenarios/SCENARIO.host, run as `SCENARIO.host pre|between K|post`
# before the first boot, between boots and after the last power-off with GUEST_SHARE (a directory the
# guest sees as /tether/share), GUEST_CEPH_DIRS, GUEST_HOST_DIR, GUEST_HOST_ADDR and GUEST_LOG; its
# TETHER-RESULT lines count like the guest's (scripts/guest/lab-run.sh). scripts/guest/host-tgtd.sh
# gives hooks a private tgtd on the bridge: an iSCSI target outside the guest's RAM.
# Recipe and pitfalls: docs/LAB.md, "The kernel path".
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
GUEST=$ROOT/scripts/guest
CACHE=${TETHER_GUEST_CACHE:-/var/cache/tether-guest}
BRIDGE=${TETHER_GUEST_BRIDGE:-tether-br0}
NET=10.0.3.1/24  # net-up's default: the host's address on the bridge

mapfile -t PACKAGES < <("$ROOT/scripts/packages.sh" list guest)

# Host programs copied into the guest with their shared libraries.
BINARIES=(/usr/sbin/iscsiadm /usr/sbin/iscsid /usr/sbin/multipath /usr/sbin/multipathd
          /usr/sbin/dmsetup /usr/sbin/kpartx /usr/bin/udevadm /usr/lib/udev/scsi_id
          /usr/bin/sg_inq /usr/bin/sg_vpd /usr/bin/sg_readcap /usr/bin/sg_turs
          /usr/sbin/blockdev /usr/bin/lsblk /usr/sbin/blkid /usr/sbin/losetup /usr/bin/dd
         /usr/sbin/mke2fs)
SCRIPTS=(/usr/lib/udev/kpartx_id /usr/bin/ceph-rbdnamer)
# Only the storage rules: fewer events to process under TCG, and no renaming of eth0.
RULES=(50-udev-default 50-rbd 55-dm 55-scsi-sg3_id 56-dm-mpath 56-dm-parts 58-scsi-sg3_symlink
       60-block 60-persistent-storage 60-persistent-storage-dm 60-multipath 60-kpartx
       68-del-part-nodes 95-dm-notify)
# Loaded by scripts/guest/boot, plus what scenarios may load; their dependencies come along.
MODULES=(crc32c_generic configfs scsi_transport_iscsi iscsi_tcp sd_mod sg scsi_dh_alua scsi_dh_emc
         scsi_dh_rdac dm_mod dm_multipath dm_round_robin dm_service_time dm_queue_length
         target_core_mod target_core_file target_core_iblock iscsi_target_mod libceph rbd nbd loop
         virtio_pci virtio_net virtio_blk ext4)

log() { echo "guest-lab: $*" >&2; }
die() { log "$*"; exit "${2:-1}"; }

install() {
    # guest includes ceph: the host clusters krbd scenarios map from
    "$ROOT/scripts/packages.sh" install guest
}

# --- build ------------------------------------------------------------------------------------

# Prints "PACKAGE VERSION" of the guest's kernel: TETHER_GUEST_KERNEL, else what linux-image-amd64
# depends on.
kernel_package() {
    local meta=${TETHER_GUEST_KERNEL:-linux-image-amd64} show
    show=$(apt-cache show --no-all-versions "$meta" 2>/dev/null || true)
    if [ -z "$show" ]; then
        apt-get update -qq
        show=$(apt-cache show --no-all-versions "$meta")
    fi
    if [ -n "${TETHER_GUEST_KERNEL:-}" ]; then
        echo "$meta $(echo "$show" | sed -n 's/^Version: //p' | head -n 1)"
    else
        echo "$show" | sed -n 's/^Depends: .*\(linux-image-[0-9][^ ]*-amd64\) (= \([^)]*\)).*/\1 \2/p' | head -n 1
    fi
}

# What the base is made of besides the kernel: this script up to its network part, scripts/guest/etc
# and the versions of the host packages whose files are copied in. (boot, lib.sh and the scenarios are packed per run.)
local_key() {
    {
        # The build's part of this script (with the package lists above it), not run's or net's.
        sed -n '1,/^# --- network/p' "$ROOT/scripts/guest-lab.sh"
        (cd "$GUEST" && find etc -type f | LC_ALL=C sort | xargs sha256sum)
        dpkg-query -W -f='${Package} ${Version}\n' "${PACKAGES[@]}" libc6 2>/dev/null
    } | sha256sum | cut -c1-16
}

# Copies a host file to the same path under $root (following symlinks), and for an ELF file every
# library ldd names, the dynamic loader included.
copy_file() {
    local src=$1 root=$2
    mkdir -p "$root$(dirname "$src")"
    rm -f "$root$src"  # may be a busybox symlink: cp would write through it into busybox
    cp -L "$src" "$root$src"
}

copy_elf() {
    local src=$1 root=$2 lib
    copy_file "$src" "$root"
    for lib in $(ldd "$src" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
        [ -e "$root$lib" ] || copy_file "$lib" "$root"
    done
}

# The kernel QEMU boots: the bzImage's own vmlinux when the kernel has a PVH entry point (QEMU then
# loads the ELF directly and the guest skips decompressing itself: an xz bzImage takes 5-15 s to
# unpack under TCG), else the bzImage.
kernel_image() {
    local bzimage=$1 config=$2 out=$3 offset
    if grep -q '^CONFIG_PVH=y' "$config"; then
        offset=$(LC_ALL=C grep -obUa $'\xfd7zXZ' "$bzimage" | head -n 1 | cut -d: -f1)
        if [ -n "$offset" ]; then
            # xz complains about the bzImage's bytes after the stream; the ELF magic tells success.
            tail -c +$((offset + 1)) "$bzimage" | xz -dc >"$out" 2>/dev/null || true
            [ "$(head -c 4 "$out" | od -An -c | tr -d ' ')" = '177ELF' ] && return 0
        fi
        log "warning: no vmlinux in $bzimage; booting the bzImage"
    fi
    cp "$bzimage" "$out"
}

pack() {  # pack DIR > archive (newc, root-owned)
    (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet)
}

build_base() {
    local pkg=$1 version=$2 out=$3
    local work kroot root kver
    work=$(mktemp -d "$CACHE/build.XXXXXX")
    kroot=$work/deb root=$work/root
    mkdir -p "$kroot" "$root"

    local deb=$CACHE/${pkg}_${version}.deb
    if [ ! -s "$deb" ]; then
        log "downloading $pkg $version"
        (cd "$work" && apt-get download -q "$pkg=$version" 2>&1 | grep -v "unsandboxed" >&2 || true)
        mv "$work"/"${pkg}"_*.deb "$deb"
        # Only the newest kernel is kept.
        find "$CACHE" -maxdepth 1 -name 'linux-image-*.deb' ! -path "$deb" -delete
    fi
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$kroot" --wildcards './boot/vmlinuz-*' './boot/config-*' './lib/modules/*'
    kver=$(ls "$kroot/lib/modules")
    depmod -b "$kroot" "$kver"

    base_layout "$root"
    base_modules "$kroot" "$kver" "$root"
    kernel_image "$kroot/boot/vmlinuz-$kver" "$kroot/boot/config-$kver" "$work/kernel"
    base_tools "$root"
    base_etc "$root"

    (cd "$root" && find . -mindepth 1 ! -type d | sed 's|^\.||' | LC_ALL=C sort) >"$work/FILES"
    pack "$root" | zstd -q -10 -T0 >"$work/base.cpio.zst"
    # The kernel takes an uncompressed archive after this one only at a 4-byte aligned offset
    # (else "invalid magic at start of compressed archive"); it skips zeros in between.
    truncate -s "%512" "$work/base.cpio.zst"
    echo "$pkg $version $kver" >"$work/KERNEL"
    mkdir -p "$out.new"
    mv "$work/kernel" "$work/base.cpio.zst" "$work/KERNEL" "$work/FILES" "$out.new/"
    rm -rf "$work" "$out"
    mv "$out.new" "$out"
}

# Layout: merged /usr like the host, busybox applets where busybox puts them.
base_layout() {
    local root=$1 f
    mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib,usr/lib64,etc,proc,sys,dev,run,tmp,root,mnt,tether,var,persist}
    ln -s usr/bin "$root/bin"; ln -s usr/sbin "$root/sbin"; ln -s usr/lib "$root/lib"; ln -s usr/lib64 "$root/lib64"
    ln -s ../run "$root/var/run"; ln -s ../run/lock "$root/var/lock"
    cp /bin/busybox "$root/usr/bin/busybox"
    for f in $(/bin/busybox --list-full); do
        f=${f#/}
        case $f in bin/*|sbin/*) f=usr/$f ;; esac
        [ -e "$root/$f" ] || ln -s /usr/bin/busybox "$root/$f"
    done
    ln -s /usr/bin/busybox "$root/init"
}

# Kernel modules and their dependencies; modules.dep for busybox modprobe.
base_modules() {
    local kroot=$1 kver=$2 root=$3 m f
    local mroot=$root/lib/modules/$kver
    mkdir -p "$mroot"
    for m in "${MODULES[@]}"; do
        modprobe -d "$kroot" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
    done | sort -u | while read -r f; do
        mkdir -p "$root$(dirname "${f#"$kroot"}")"
        cp "$f" "$root${f#"$kroot"}"
    done
    cp "$kroot/lib/modules/$kver"/modules.{builtin,builtin.modinfo,order} "$mroot/"
    depmod -b "$root" "$kver"
}

# Host tools with their libraries; multipath's checker and prioritizer plugins; the udev rules.
base_tools() {
    local root=$1 f
    for f in "${BINARIES[@]}"; do copy_elf "$f" "$root"; done
    for f in /usr/lib/multipath/*.so; do copy_elf "$f" "$root"; done
    # glibc dlopens libgcc_s for pthread_cancel (multipathd).
    copy_file "$(ldconfig -p | awk '/libgcc_s.so.1 .*x86-64/ {print $NF; exit}')" "$root"
    for f in "${SCRIPTS[@]}"; do [ -e "$f" ] && copy_file "$f" "$root"; done
    ln -s ../bin/udevadm "$root/usr/sbin/systemd-udevd"
    mkdir -p "$root/usr/lib/udev/rules.d"
    for f in "${RULES[@]}"; do
        if [ -e "/usr/lib/udev/rules.d/$f.rules" ]; then
            cp "/usr/lib/udev/rules.d/$f.rules" "$root/usr/lib/udev/rules.d/"
        else
            log "warning: no udev rule $f.rules on this host"
        fi
    done
}

# /etc: root for iscsid, the initiator's name, Debian's iscsid.conf, multipath.conf, inittab,
# mke2fs.conf (the persistent disk).
base_etc() {
    local root=$1
    echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
    printf '%s\n' root:x:0: daemon:x:1: tty:x:5: disk:x:6: kmem:x:15: dialout:x:20: cdrom:x:24: \
        lp:x:7: tape:x:26: audio:x:29: video:x:44: input:x:105: kvm:x:106: render:x:107: sgx:x:108: \
        nogroup:x:65534: >"$root/etc/group"
    echo '127.0.0.1 localhost tether-guest' >"$root/etc/hosts"
    mkdir -p "$root/etc/iscsi/nodes" "$root/etc/iscsi/send_targets" "$root/etc/iscsi/ifaces" \
        "$root/etc/multipath" "$root/etc/udev" "$root/etc/target" "$root/etc/ceph" "$root/etc/tether" \
        "$root/var/lib/tether"
    echo 'InitiatorName=iqn.2004-10.org.tether:guest' >"$root/etc/iscsi/initiatorname.iscsi"
    sed 's/^iscsid.startup = .*/# iscsid runs already: started by the guest'"'"'s boot script/' \
        /etc/iscsi/iscsid.conf >"$root/etc/iscsi/iscsid.conf"
    cp "$GUEST/etc/multipath.conf" "$root/etc/multipath.conf"
    cp "$GUEST/etc/inittab" "$root/etc/inittab"
    [ ! -f /etc/mke2fs.conf ] || cp /etc/mke2fs.conf "$root/etc/mke2fs.conf"
}

# Prints the base's directory (kernel, base.cpio.zst, KERNEL, LOCAL_KEY), building it if needed.
build() {
    local tether=""
    while [ $# -gt 0 ]; do
        case $1 in
            --tether) tether=${2:?--tether BINDIR}; shift 2 ;;
            *) die "build: unknown argument $1" 64 ;;
        esac
    done
    mkdir -p "$CACHE"
    local pkg version lkey key base
    read -r pkg version < <(kernel_package)
    [ -n "${version:-}" ] || die "cannot resolve the kernel package (apt-get update?)"
    lkey=$(local_key)
    key=$(echo "$pkg $version $lkey" | sha256sum | cut -c1-16)
    base=$CACHE/base-$key
    if [ ! -f "$base/base.cpio.zst" ]; then
        # One builder at a time; a second one waits and then finds the base built.
        exec 9>"$CACHE/lock"
        flock -w 600 9 || die "cache $CACHE is locked"
        if [ ! -f "$base/base.cpio.zst" ]; then
            rm -rf "$CACHE"/build.*
            local start=$SECONDS
            log "building base $key ($pkg $version)"
            build_base "$pkg" "$version" "$base"
            echo "$lkey" >"$base/LOCAL_KEY"
            # Keep the three newest: other branches' scripts may want theirs at the same time.
            ls -dt "$CACHE"/base-* | tail -n +4 | xargs -r rm -rf
            log "base built in $((SECONDS - start)) s: $(du -h "$base/base.cpio.zst" | cut -f1)"
        fi
        exec 9>&-
    fi
    [ -z "$tether" ] || tether_archive "$tether" "$base" >/dev/null
    echo "$base"
}

# The base for `run`: a built one whose local inputs are unchanged (without asking apt, which takes
# seconds; `build` is what picks up a newer kernel package), else build.
base_for_run() {
    local lkey d
    lkey=$(local_key)
    for d in "$CACHE"/base-*; do
        [ -f "$d/base.cpio.zst" ] && [ -f "$d/LOCAL_KEY" ] && [ "$(cat "$d/LOCAL_KEY")" = "$lkey" ] || continue
        [ -z "${TETHER_GUEST_KERNEL:-}" ] || [ "$(cut -d' ' -f1 "$d/KERNEL")" = "$TETHER_GUEST_KERNEL" ] || continue
        echo "$d"
        return
    done
    build
}

# Prints the path of the archive of BINDIR's Tether binaries for BASE, packing it unless the cache
# has it for binaries of the same path, size and mtime (CACHE/tether-KEY.cpio.zst, .mib holds the
# unpacked size). Padded so that an uncompressed archive after it starts aligned.
tether_archive() {
    local bindir=$1 base=$2 key out stage
    bindir=$(cd "$bindir" && pwd)
    # "loaded-libs": archives packed before stage_loaded_libs lack the dlopen'ed libraries.
    key=$( { echo "$base ${TETHER_GUEST_STRIP:-1} loaded-libs"; stat -L -c '%n %s %Y' "$bindir"/tetherd "$bindir"/tether 2>/dev/null; } |
        sha256sum | cut -c1-16)
    out=$CACHE/tether-$key.cpio.zst
    if [ ! -f "$out" ] || [ ! -f "$out.mib" ]; then
        stage=$(mktemp -d "$CACHE/tether-stage.XXXXXX")
        stage_tether "$bindir" "$stage" "$base/FILES"
        pack "$stage" | zstd -q -3 -T0 >"$out.$$"
        truncate -s "%512" "$out.$$"
        du -sm "$stage" | cut -f1 >"$out.mib"
        rm -rf "$stage"
        mv "$out.$$" "$out"
        # Keep the newest four.
        ls -t "$CACHE"/tether-*.cpio.zst | tail -n +5 | while read -r f; do rm -f "$f" "$f.mib"; done
        log "packed $bindir: $(cat "$out.mib") MiB unpacked, $(du -h "$out" | cut -f1) packed"
    fi
    echo "$out"
}

# Tether's binaries into STAGE/tether/bin (stripped: a release build carries ~100 MB of symbols),
# and the shared libraries they need that the base (list BASE_FILES) lacks, at their /usr paths.
stage_tether() {
    local bindir=$1 stage=$2 base_files=$3 b found=0
    mkdir -p "$stage/tether/bin"
    for b in tetherd tether; do
        [ -x "$bindir/$b" ] || continue
        found=1
        cp -L "$bindir/$b" "$stage/tether/bin/$b"
        if [ "${TETHER_GUEST_STRIP:-1}" = 1 ] && command -v strip >/dev/null; then
            strip -s "$stage/tether/bin/$b"
        fi
        stage_libs "$bindir/$b" "$stage" "$base_files"
    done
    [ $found = 1 ] || die "no tetherd or tether in $bindir"
    stage_loaded_libs "$stage" "$base_files"
}

# The libraries tetherd loads on first use (dlopen: CRBDLoader, CVirtLoader), which ldd does not
# name, with what they need: without them every krbd attach in the guest fails with ELIBACC.
stage_loaded_libs() {
    local stage=$1 base_files=$2 soname lib dest
    for soname in librbd.so.1 libvirt.so.0; do
        lib=$(/sbin/ldconfig -p | awk -v n="$soname" '$1 == n && $NF ~ /^\// {print $NF; exit}')
        if [ -z "$lib" ]; then log "warning: $soname is not installed here: tetherd in the guest cannot load it"; continue; fi
        dest=$(readlink -f "$(dirname "$lib")")/$(basename "$lib")
        if ! grep -qxF "$dest" "$base_files" && [ ! -e "$stage$dest" ]; then
            mkdir -p "$stage$(dirname "$dest")"
            cp -L "$lib" "$stage$dest"
        fi
        stage_libs "$lib" "$stage" "$base_files"
    done
}

# Libraries that ELF file FILE needs, at their canonical /usr paths, into STAGE unless the base
# (list BASE_FILES) has them.
stage_libs() {
    local file=$1 stage=$2 base_files=$3 lib dest
    for lib in $(ldd "$file" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3}'); do
        dest=$(readlink -f "$(dirname "$lib")")/$(basename "$lib")
        grep -qxF "$dest" "$base_files" && continue
        [ -e "$stage$dest" ] && continue
        mkdir -p "$stage$(dirname "$dest")"
        cp -L "$lib" "$stage$dest"
        # librados loads its crypto and compressor plugins at run time.
        case $lib in
            */ceph/libceph-common.so*)
                cp -rL "$(dirname "$lib")/crypto" "$(dirname "$lib")/compressor" "$stage$(dirname "$dest")/" 2>/dev/null || true ;;
        esac
    done
}

# --- network ----------------------------------------------------------------------------------

net_up() {
    local addr=${1:-$NET}
    [ "${addr#*/}" = 24 ] || die "net-up: ADDR must be a /24"
    ip link set lo up
    if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
        ip link add "$BRIDGE" type bridge
    fi
    ip addr show dev "$BRIDGE" | grep -q "inet $addr " || ip addr add "$addr" dev "$BRIDGE"
    ip link set "$BRIDGE" up
}

net_down() {
    local tap
    for tap in $(ip -o link show master "$BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
        ip link del "$tap" 2>/dev/null || true
    done
    ip link del "$BRIDGE" 2>/dev/null || true
}

# --- run, selftest, ci, bench ----------------------------------------------------------------

. "$GUEST/lab-run.sh"
. "$GUEST/lab-ci.sh"

case "${1:-}" in
    install) install ;;
    selftest) shift; selftest "$@" ;;
    selftest-in-netns) shift; selftest_in_netns "$@" ;;
    ci) shift; ci "$@" ;;
    ci-in-netns) shift; ci_in_netns "$@" ;;
    lab) shift; lab "$@" ;;
    lab-in-netns) shift; lab_in_netns "$@" ;;
    bench) shift; bench "$@" ;;
    bench-in-netns) shift; bench_in_netns "$@" ;;
    build) shift; build "$@" ;;
    run) shift; run "$@" ;;
    net-up) shift; net_up "$@" ;;
    net-down) net_down ;;
    *) echo "usage: scripts/guest-lab.sh install | build [--tether BINDIR] | run SCENARIO [--tether BINDIR] [--python] [--ceph DIR]... [--net] [--timeout S] [--append ARGS] [--disk FILE] [--boots N] | net-up [ADDR/24] | net-down | selftest [--tether BINDIR] | ci | lab SCENARIO... [-- RUN ARGS] | bench [RUNS]" >&2
       exit 64 ;;
esac
