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
#                                     [--append "k=v ..."]
#                                                boots the guest with scripts/guest/scenarios/SCENARIO.sh,
#                                                prints its output, exits 0 only if it reported
#                                                `TETHER-DONE 0` and no failed result: 1 failed,
#                                                2 no verdict (boot failure, panic), 124 timeout
#   scripts/guest-lab.sh net-up [ADDR/24]        bridge $TETHER_GUEST_BRIDGE (default tether-br0) with
#                                                ADDR (default 10.0.3.1/24) for guests and Ceph
#   scripts/guest-lab.sh net-down                removes it and any tap left on it
#   scripts/guest-lab.sh selftest [--tether BINDIR]
#                                                in its own network namespace: smoke, iscsi-shell and,
#                                                with two ceph-lab clusters on the bridge, krbd-shell;
#                                                ends with "guest-lab: N passed, N failed"
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
# A scenario may have a host side, scenarios/SCENARIO.host, run as `SCENARIO.host pre|post` before
# boot and after power-off with GUEST_SHARE (a directory the guest sees as /tether/share),
# GUEST_CEPH_DIRS and, for post, GUEST_LOG; its TETHER-RESULT lines count like the guest's.
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
          /usr/sbin/blockdev /usr/bin/lsblk /usr/sbin/blkid /usr/sbin/losetup /usr/bin/dd)
SCRIPTS=(/usr/lib/udev/kpartx_id /usr/bin/ceph-rbdnamer)
# Only the storage rules: fewer events to process under TCG, and no renaming of eth0.
RULES=(50-udev-default 50-rbd 55-dm 55-scsi-sg3_id 56-dm-mpath 56-dm-parts 58-scsi-sg3_symlink
       60-block 60-persistent-storage 60-persistent-storage-dm 60-multipath 60-kpartx
       68-del-part-nodes 95-dm-notify)
# Loaded by scripts/guest/boot, plus what scenarios may load; their dependencies come along.
MODULES=(crc32c_generic configfs scsi_transport_iscsi iscsi_tcp sd_mod sg scsi_dh_alua scsi_dh_emc
         scsi_dh_rdac dm_mod dm_multipath dm_round_robin dm_service_time dm_queue_length
         target_core_mod target_core_file target_core_iblock iscsi_target_mod libceph rbd nbd loop
         virtio_pci virtio_net)

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
    local work kroot root kver m f
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

    # Layout: merged /usr like the host, busybox applets where busybox puts them.
    mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib,usr/lib64,etc,proc,sys,dev,run,tmp,root,mnt,tether,var}
    ln -s usr/bin "$root/bin"; ln -s usr/sbin "$root/sbin"; ln -s usr/lib "$root/lib"; ln -s usr/lib64 "$root/lib64"
    ln -s ../run "$root/var/run"; ln -s ../run/lock "$root/var/lock"
    cp /bin/busybox "$root/usr/bin/busybox"
    for f in $(/bin/busybox --list-full); do
        f=${f#/}
        case $f in bin/*|sbin/*) f=usr/$f ;; esac
        [ -e "$root/$f" ] || ln -s /usr/bin/busybox "$root/$f"
    done
    ln -s /usr/bin/busybox "$root/init"

    # Kernel modules and their dependencies; modules.dep for busybox modprobe.
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
    kernel_image "$kroot/boot/vmlinuz-$kver" "$kroot/boot/config-$kver" "$work/kernel"

    # Host tools with their libraries; multipath's checker and prioritizer plugins.
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

    # /etc: root for iscsid, the initiator's name, Debian's iscsid.conf, multipath.conf, inittab.
    echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
    printf '%s\n' root:x:0: daemon:x:1: tty:x:5: disk:x:6: kmem:x:15: dialout:x:20: cdrom:x:24: \
        lp:x:7: tape:x:26: audio:x:29: video:x:44: input:x:105: kvm:x:106: render:x:107: sgx:x:108: \
        nogroup:x:65534: >"$root/etc/group"
    echo '127.0.0.1 localhost tether-guest' >"$root/etc/hosts"
    mkdir -p "$root/etc/iscsi/nodes" "$root/etc/iscsi/send_targets" "$root/etc/iscsi/ifaces" \
        "$root/etc/multipath" "$root/etc/udev" "$root/etc/target"
    echo 'InitiatorName=iqn.2004-10.org.tether:guest' >"$root/etc/iscsi/initiatorname.iscsi"
    sed 's/^iscsid.startup = .*/# iscsid runs already: started by the guest'"'"'s boot script/' \
        /etc/iscsi/iscsid.conf >"$root/etc/iscsi/iscsid.conf"
    cp "$GUEST/etc/multipath.conf" "$root/etc/multipath.conf"
    cp "$GUEST/etc/inittab" "$root/etc/inittab"

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
            find "$CACHE" -maxdepth 1 -name 'base-*' ! -path "$base" -exec rm -rf {} +
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
    key=$( { echo "$base ${TETHER_GUEST_STRIP:-1}"; stat -L -c '%n %s %Y' "$bindir"/tetherd "$bindir"/tether 2>/dev/null; } |
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

# --- run --------------------------------------------------------------------------------------

# python_archive: `run --python`.
. "$GUEST/python-pack.sh"

# run also takes --python: the host's Python and os-brick (scripts/guest/python-pack.sh) as one more
# initrd part, before the facts, and scripts/guest/osbrick-bench.py as /tether/osbrick-bench.py.
# (Documented here, not in the usage comment at the top: that is part of the base's cache key.)
run() {
    local scenario=${1:?usage: guest-lab.sh run SCENARIO [--tether BINDIR] [--python] [--ceph DIR]... [--net] [--timeout S] [--append ARGS]}
    shift
    local tether="" python=0 timeout=${TETHER_GUEST_TIMEOUT:-180} append="" net=0 ceph=()
    while [ $# -gt 0 ]; do
        case $1 in
            --tether) tether=${2:?--tether BINDIR}; shift 2 ;;
            --python) python=1; shift ;;
            --ceph) ceph+=("$(cd "${2:?--ceph DIR}" && pwd)"); net=1; shift 2 ;;
            --net) net=1; shift ;;
            --timeout) timeout=${2:?--timeout S}; shift 2 ;;
            --append) append=${2?--append ARGS}; shift 2 ;;
            *) die "run: unknown argument $1" 64 ;;
        esac
    done
    [ -f "$GUEST/scenarios/$scenario.sh" ] || die "no scenario $GUEST/scenarios/$scenario.sh" 64
    local base
    base=$(base_for_run)

    umask 077
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/tether-guest.XXXXXX")
    QEMU_PID="" TAP=""
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    # Per-run archive: boot script, library, scenarios, Tether, the host hook's share.
    local extra=$TMP/extra facts=$TMP/facts
    mkdir -p "$extra/tether/share" "$facts/tether/ceph"
    cp "$GUEST/boot" "$GUEST/lib.sh" "$extra/tether/"
    mkdir -p "$extra/tether/udev"
    cp "$ROOT"/udev/*.rules "$extra/tether/udev/"
    cp -r "$GUEST/scenarios" "$extra/tether/scenarios"
    [ $python = 0 ] || cp "$GUEST/osbrick-bench.py" "$extra/tether/"
    chmod -R go+rX "$extra/tether"

    # Ceph facts: readable by the guest's root only, never on a command line.
    local dir
    for dir in "${ceph[@]}"; do
        [ -f "$dir/cluster.env" ] || die "no $dir/cluster.env (scripts/ceph-lab.sh start DIR ...)"
        local NAME FSID MON_V1 MON_V2 CINDER_KEY_FILE CINDER_KEYRING
        eval "$(grep -E '^(NAME|FSID|MON_V1|MON_V2|CINDER_KEY_FILE|CINDER_KEYRING)=' "$dir/cluster.env")"
        case $MON_V1 in 127.*) die "cluster $NAME listens on $MON_V1: start it with CEPH_LAB_ADDR=<the net-up address>" ;; esac
        mkdir -p "$facts/tether/ceph/$NAME"
        printf 'NAME=%s\nFSID=%s\nMON_V1=%s\nMON_V2=%s\nUSER=cinder\n' "$NAME" "$FSID" "$MON_V1" "$MON_V2" \
            >"$facts/tether/ceph/$NAME/cluster.env"
        cp "$CINDER_KEY_FILE" "$facts/tether/ceph/$NAME/key"
        cp "$CINDER_KEYRING" "$facts/tether/ceph/$NAME/keyring"
    done
    chmod -R go-rwx "$facts/tether/ceph"

    local hook=$GUEST/scenarios/$scenario.host hook_out=$TMP/hook.out
    : >"$hook_out"
    export GUEST_SHARE=$extra/tether/share GUEST_CEPH_DIRS="${ceph[*]}" GUEST_LOG=$TMP/scenario.log
    if [ -f "$hook" ]; then
        if ! bash "$hook" pre >>"$hook_out" 2>&1; then
            cat "$hook_out"
            die "$scenario.host pre failed"
        fi
    fi

    local cmdline="console=ttyS0 panic=-1 loglevel=4 tether.scenario=$scenario"
    local netargs=(-nic none)
    if [ $net = 1 ]; then
        ip link show "$BRIDGE" >/dev/null 2>&1 || die "no bridge $BRIDGE: run scripts/guest-lab.sh net-up first"
        local hostaddr prefix n
        hostaddr=$(ip -o -4 addr show dev "$BRIDGE" | awk '{print $4}' | head -n 1)
        [ -n "$hostaddr" ] || die "bridge $BRIDGE has no IPv4 address"
        prefix=${hostaddr%.*}
        # The first free tap name is this guest's: its number is also its address.
        for n in $(seq 2 254); do
            [ "$prefix.$n/24" = "$hostaddr" ] && continue
            if ip tuntap add dev "tether-t$n" mode tap 2>/dev/null; then TAP=tether-t$n; break; fi
        done
        [ -n "$TAP" ] || die "no free tap"
        ip link set "$TAP" master "$BRIDGE"
        ip link set "$TAP" up
        netargs=(-netdev "tap,id=n0,ifname=$TAP,script=no,downscript=no"
                 -device "virtio-net-pci,netdev=n0,mac=52:54:00:74:68:$(printf %02x "$n")")
        cmdline+=" tether.net=$prefix.$n/24 tether.host=${hostaddr%/*}"
    fi
    cmdline+=" $append"

    pack "$extra" >"$TMP/extra.cpio"
    pack "$facts" >"$TMP/facts.cpio"
    # Tether's binaries in an archive of their own (a release tetherd and its libraries are ~200 MB).
    local mem=${TETHER_GUEST_MEM:-} tarchive=/dev/null
    if [ -n "$tether" ]; then
        tarchive=$(tether_archive "$tether" "$base")
        # The guest holds the packed initrd and the unpacked files at once while booting.
        [ -n "$mem" ] || mem=$((512 + $(cat "$tarchive.mib") + $(du -sm "$tarchive" | cut -f1)))
    fi
    local parchive=/dev/null
    if [ $python = 1 ]; then
        parchive=$(python_archive "$base")
        # Packed and unpacked at boot as Tether's, plus the driver's ~64 MiB RSS once os-brick is imported.
        [ -n "${TETHER_GUEST_MEM:-}" ] || mem=$((${mem:-512} + 64 + $(cat "$parchive.mib") + $(du -sm "$parchive" | cut -f1)))
    fi
    cat "$base/base.cpio.zst" "$TMP/extra.cpio" "$tarchive" "$parchive" "$TMP/facts.cpio" >"$TMP/initrd"
    rm -rf "$facts" "$TMP/facts.cpio"

    local start=$SECONDS
    log "booting $(cut -d' ' -f3 "$base/KERNEL") for scenario $scenario (${mem:-512} MiB, timeout ${timeout}s)"
    : >"$TMP/console.log"; : >"$TMP/scenario.log"
    qemu-system-x86_64 -accel tcg -cpu "${TETHER_GUEST_CPU:-max}" -m "${mem:-512}" -smp "${TETHER_GUEST_SMP:-1}" \
        -display none -monitor none -no-reboot \
        -kernel "$base/kernel" -initrd "$TMP/initrd" -append "$cmdline" \
        -serial "file:$TMP/console.log" -serial "file:$TMP/scenario.log" \
        "${netargs[@]}" </dev/null >"$TMP/qemu.out" 2>&1 &
    QEMU_PID=$!
    sleep "$timeout" &
    TIMER_PID=$!
    local status=0 timed_out=0
    wait -n "$QEMU_PID" "$TIMER_PID" || true
    if kill -0 "$TIMER_PID" 2>/dev/null; then
        kill "$TIMER_PID" 2>/dev/null; wait "$TIMER_PID" 2>/dev/null || true
    else
        timed_out=1
    fi
    TIMER_PID=""
    if [ $timed_out = 1 ]; then
        kill -9 "$QEMU_PID" 2>/dev/null || true
    fi
    wait "$QEMU_PID" 2>/dev/null || true
    QEMU_PID=""
    local elapsed=$((SECONDS - start))

    if [ -f "$hook" ]; then
        bash "$hook" post >>"$hook_out" 2>&1 || echo "TETHER-RESULT fail $scenario.host post exited non-zero" >>"$hook_out"
    fi
    tr -d '\r' <"$TMP/scenario.log"
    cat "$hook_out"
    if [ -n "${TETHER_GUEST_LOGS:-}" ]; then
        mkdir -p "$TETHER_GUEST_LOGS"
        cp "$TMP/console.log" "$TETHER_GUEST_LOGS/$scenario.console.log"
        cp "$TMP/scenario.log" "$TETHER_GUEST_LOGS/$scenario.log"
    fi

    local done_rc
    done_rc=$(tr -d '\r' <"$TMP/scenario.log" | sed -n 's/^TETHER-DONE \([0-9]*\)$/\1/p' | tail -n 1)
    if [ $timed_out = 1 ]; then
        status=124
    elif [ -z "$done_rc" ]; then
        status=2
    elif [ "$done_rc" != 0 ] || cat "$TMP/scenario.log" "$hook_out" | grep -q '^TETHER-RESULT fail'; then
        status=1
    fi
    if [ $status != 0 ] || [ "${TETHER_GUEST_VERBOSE:-0}" = 1 ]; then
        [ $status = 0 ] || log "console (last 60 lines):"
        if [ "${TETHER_GUEST_VERBOSE:-0}" = 1 ]; then tr -d '\r' <"$TMP/console.log"; else tr -d '\r' <"$TMP/console.log" | tail -n 60; fi
        cat "$TMP/qemu.out" >&2
    fi
    case $status in
        0) log "$scenario passed in ${elapsed}s" ;;
        124) log "$scenario TIMED OUT after ${elapsed}s" ;;
        2) if grep -q "Kernel panic" "$TMP/console.log"; then
               log "$scenario gave no verdict: kernel panic after ${elapsed}s"
           else
               log "$scenario gave no verdict (the guest stopped without TETHER-DONE) after ${elapsed}s"
           fi ;;
        *) log "$scenario FAILED in ${elapsed}s" ;;
    esac
    return $status
}

cleanup() {
    [ -z "${TIMER_PID:-}" ] || kill "$TIMER_PID" 2>/dev/null || true
    if [ -n "${QEMU_PID:-}" ]; then
        kill -9 "$QEMU_PID" 2>/dev/null || true
        wait "$QEMU_PID" 2>/dev/null || true
    fi
    [ -z "${TAP:-}" ] || ip link del "$TAP" 2>/dev/null || true
    [ -z "${TMP:-}" ] || rm -rf "$TMP"
}

# --- selftest ---------------------------------------------------------------------------------

# start_clusters WORK: the bridge and two lab Ceph clusters, WORK/ceph-a and WORK/ceph-b, whose mons
# advertise the bridge's address, started side by side; prints a failed start's log.
start_clusters() {
    local work=$1 start=$SECONDS a b rc=0
    net_up
    CEPH_LAB_ADDR=${NET%/*} "$ROOT/scripts/ceph-lab.sh" start "$work/ceph-a" ceph-a 21000 >"$work/a.log" 2>&1 &
    a=$!
    CEPH_LAB_ADDR=${NET%/*} "$ROOT/scripts/ceph-lab.sh" start "$work/ceph-b" ceph-b 21200 >"$work/b.log" 2>&1 &
    b=$!
    wait $a || { cat "$work/a.log"; rc=1; }
    wait $b || { cat "$work/b.log"; rc=1; }
    log "two Ceph clusters up in $((SECONDS - start)) s"
    return $rc
}

selftest() {
    local extra=()
    case ${1:-} in
        --tether) extra=(--tether "$(cd "${2:?--tether BINDIR}" && pwd)") ;;
        "") ;;
        *) die "selftest: unknown argument $1" 64 ;;
    esac
    build "${extra[@]}" >/dev/null
    exec unshare -n "$0" selftest-in-netns "${extra[@]}"
}

selftest_in_netns() {
    ip link set lo up
    local passed=0 failed=0 work s start tether=("$@")
    work=$(mktemp -d "${TMPDIR:-/tmp}/tether-guest-selftest.XXXXXX")
    SELFTEST_DIR=$work
    trap selftest_cleanup EXIT
    one() {
        start=$SECONDS
        if "$0" run "$@" ${tether[@]+"${tether[@]}"}; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
        log "$1: $((SECONDS - start)) s"
    }
    for s in smoke iscsi-shell; do one "$s"; done
    if command -v ceph-mon >/dev/null; then
        if start_clusters "$work"; then
            one krbd-shell --ceph "$work/ceph-a" --ceph "$work/ceph-b"
        else
            log "krbd-shell: the Ceph clusters did not start"
            failed=$((failed + 1))
        fi
    else
        log "krbd-shell skipped: no ceph-mon (scripts/guest-lab.sh install)"
    fi
    echo "guest-lab: $passed passed, $failed failed"
    [ $failed = 0 ]
}

# --- ci ---------------------------------------------------------------------------------------

# Builds Tether (release, static Swift stdlib, scratch path $TETHER_GUEST_BUILD, default
# .build-guest), then runs every scenario in its own network namespace: one line per scenario.
ci() {
    [ $# = 0 ] || die "ci: no arguments" 64
    local scratch=${TETHER_GUEST_BUILD:-.build-guest} swift=${SWIFT:-/opt/swift/usr/bin/swift} p bindir start=$SECONDS
    # TETHER_GUEST_BINDIR: binaries built already (CI's debug build): no second build.
    if [ -n "${TETHER_GUEST_BINDIR:-}" ]; then
        bindir=$(cd "$TETHER_GUEST_BINDIR" && pwd)
        build --tether "$bindir" >/dev/null
        exec unshare -n "$0" ci-in-netns --tether "$bindir"
    fi
    for p in tetherd tether; do
        (cd "$ROOT" && "$swift" build -c release --static-swift-stdlib --scratch-path "$scratch" --product "$p") >&2 ||
            die "ci: building $p failed"
    done
    bindir=$(cd "$ROOT" && "$swift" build -c release --static-swift-stdlib --scratch-path "$scratch" --show-bin-path)
    log "built tetherd and tether in $((SECONDS - start)) s: $bindir"
    build --tether "$bindir" >/dev/null
    exec unshare -n "$0" ci-in-netns --tether "$bindir"
}

ci_in_netns() {
    ip link set lo up
    local passed=0 failed=0 work tether=("$@") s
    work=$(mktemp -d "${TMPDIR:-/tmp}/tether-guest-ci.XXXXXX")
    SELFTEST_DIR=$work
    trap selftest_cleanup EXIT
    # SCENARIO [run arguments]: runs it with its output in $work, one line; the output on failure.
    one() {
        local name=$1 start=$SECONDS rc=0
        "$0" run "$@" ${tether[@]+"${tether[@]}"} --timeout "${TETHER_GUEST_TIMEOUT:-420}" >"$work/$name.out" 2>&1 || rc=$?
        local ok bad
        ok=$(grep -c '^TETHER-RESULT ok' "$work/$name.out" || true)
        bad=$(grep -c '^TETHER-RESULT fail' "$work/$name.out" || true)
        local results="$ok ok, $bad failed"
        if [ $rc = 0 ]; then
            passed=$((passed + 1))
            echo "guest-lab: $name passed in $((SECONDS - start)) s ($results)"
        else
            failed=$((failed + 1))
            echo "guest-lab: $name FAILED (rc $rc) in $((SECONDS - start)) s ($results)"
            sed 's/^/    /' "$work/$name.out"
        fi
        if [ -n "${TETHER_GUEST_LOGS:-}" ]; then mkdir -p "$TETHER_GUEST_LOGS"; cp "$work/$name.out" "$TETHER_GUEST_LOGS/$name.out"; fi
    }
    for s in smoke iscsi-shell; do one "$s"; done
    for s in "$GUEST"/scenarios/tether-*.sh; do
        s=$(basename "$s" .sh)
        [ -f "$GUEST/scenarios/$s.host" ] && grep -q GUEST_CEPH_DIRS "$GUEST/scenarios/$s.host" && continue
        grep -q ceph_clusters "$GUEST/scenarios/$s.sh" && continue
        one "$s"
    done
    local ceph_scenarios=(krbd-shell)
    for s in "$GUEST"/scenarios/tether-*.sh; do
        grep -q ceph_clusters "$s" && ceph_scenarios+=("$(basename "$s" .sh)")
    done
    if command -v ceph-mon >/dev/null; then
        local ok=1
        start_clusters "$work" || ok=0
        for s in "${ceph_scenarios[@]}"; do
            if [ $ok = 1 ]; then
                one "$s" --ceph "$work/ceph-a" --ceph "$work/ceph-b"
            else
                echo "guest-lab: $s FAILED: the Ceph clusters did not start"
                failed=$((failed + 1))
            fi
        done
    else
        for s in "${ceph_scenarios[@]}"; do
            echo "guest-lab: $s FAILED: no ceph-mon (scripts/guest-lab.sh install)"
            failed=$((failed + 1))
        done
    fi
    echo "guest-lab: $passed passed, $failed failed"
    [ $failed = 0 ]
}

selftest_cleanup() {
    "$ROOT/scripts/ceph-lab.sh" stop "$SELFTEST_DIR/ceph-a" 2>/dev/null || true
    "$ROOT/scripts/ceph-lab.sh" stop "$SELFTEST_DIR/ceph-b" 2>/dev/null || true
    net_down
    rm -rf "$SELFTEST_DIR"
}

# --- bench ------------------------------------------------------------------------------------

# `scripts/guest-lab.sh bench [RUNS]`: kernel-path attach/detach latency. Runs the scenario
# bench-kernel (RUNS attach+detach cycles, default 20, single-path then multipath, plus the same
# single-path attach by hand with iscsiadm and, when the host has python3-os-brick, by os-brick's
# ISCSIConnector itself: `run --python`) with the Tether binaries in $TETHER_GUEST_BINDIR
# (default .build/debug) and prints its TETHER-BENCH lines; the whole output if it failed. Not run
# by `ci`. (Documented here, not in the usage comment at the top: that is part of the base's cache key.)
bench() {
    local runs=${1:-20} bindir=${TETHER_GUEST_BINDIR:-.build/debug} out rc=0 python=()
    [ $# -le 1 ] && [ "$runs" -gt 0 ] 2>/dev/null || die "usage: guest-lab.sh bench [RUNS]" 64
    bindir=$(cd "$ROOT" && cd "$bindir" && pwd) || die "bench: no $bindir"
    if python_has_osbrick; then
        python=(--python)
    else
        log "bench: no python3-os-brick on this host: no os-brick rows"
    fi
    out=$(mktemp "${TMPDIR:-/tmp}/tether-guest-bench.XXXXXX")
    "$0" run bench-kernel --append "tether.runs=$runs" --tether "$bindir" ${python[@]+"${python[@]}"} \
        --timeout "${TETHER_GUEST_TIMEOUT:-$((300 + runs * 60))}" >"$out" 2>&1 || rc=$?
    if [ $rc != 0 ]; then cat "$out"; log "bench: run failed (rc $rc)"; fi
    grep '^TETHER-BENCH' "$out" || true
    rm -f "$out"
    return $rc
}

case "${1:-}" in
    install) install ;;
    selftest) shift; selftest "$@" ;;
    selftest-in-netns) shift; selftest_in_netns "$@" ;;
    ci) shift; ci "$@" ;;
    ci-in-netns) shift; ci_in_netns "$@" ;;
    bench) shift; bench "$@" ;;
    build) shift; build "$@" ;;
    run) shift; run "$@" ;;
    net-up) shift; net_up "$@" ;;
    net-down) net_down ;;
    *) echo "usage: scripts/guest-lab.sh install | build [--tether BINDIR] | run SCENARIO [--tether BINDIR] [--python] [--ceph DIR]... [--net] [--timeout S] [--append ARGS] | net-up [ADDR/24] | net-down | selftest [--tether BINDIR] | ci | bench [RUNS]" >&2
       exit 64 ;;
esac
