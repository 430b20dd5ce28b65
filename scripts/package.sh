#!/usr/bin/env bash
# Builds the Debian package: scripts/package.sh [--debug] [OUTDIR] -> OUTDIR/tether_<version>_amd64.deb
# (default OUTDIR: .build/deb). Release build with Swift's runtime linked statically, so the
# package depends only on Debian's libraries (computed from the binaries with ldd + dpkg -S).
# --debug: the debug configuration instead (still static, stripped): reuses what
# `swift build --build-tests` compiled, so only the two executables are linked again, in 1-2
# minutes where a release build takes 5-8 (scripts/test.sh packages it so; not for a node).
#
# Contents: /usr/sbin/tetherd, /usr/bin/tether, udev rules (/usr/lib/udev/rules.d), systemd unit
# (tetherd.service, Type=notify), tmpfiles.d (/run/tether, /var/lib/tether), sysusers.d (group
# tether), a commented /etc/tether/tether.toml (conffile), man pages tether(1) and tetherd(8)
# (swift-argument-parser's generate-manual), bash/zsh/fish completions.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SWIFT=/opt/swift/usr/bin/swift
CONFIG=release
if [ "${1:-}" = --debug ]; then CONFIG=debug; shift; fi
OUT=$(mkdir -p "${1:-$ROOT/.build/deb}" && cd "${1:-$ROOT/.build/deb}" && pwd)
cd "$ROOT"

log() { echo "package: $*" >&2; }

"$ROOT/scripts/packages.sh" install build package
LINK=()
if [ "$CONFIG" = debug ]; then
    # The debug build's modules were compiled against the toolchain's shared Foundation, whose
    # autolink entries leave out what its static archives need in turn: name those here
    # (FoundationXML for the hook's DomainXML, with its C half and Debian's libxml2).
    LINK=(-Xlinker --start-group)
    for lib in FoundationInternationalization FoundationEssentials CoreFoundation _FoundationICU \
        _FoundationCShims _FoundationCollections swiftSynchronization FoundationXML _CFXMLInterface xml2; do LINK+=(-Xlinker "-l$lib"); done
    LINK+=(-Xlinker --end-group)
fi
"$SWIFT" build -c "$CONFIG" --static-swift-stdlib --product tetherd "${LINK[@]}"
"$SWIFT" build -c "$CONFIG" --static-swift-stdlib --product tether "${LINK[@]}"
BIN=$("$SWIFT" build -c "$CONFIG" --show-bin-path)
VERSION=$("$BIN/tether" --version)

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/tether-deb.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
PKG=$STAGE/tether_${VERSION}_amd64

# put MODE SOURCE DEST: one file into the package tree.
put() { install -D -m "$1" "$2" "$PKG$3"; }

put 0755 "$BIN/tetherd" /usr/sbin/tetherd
put 0755 "$BIN/tether" /usr/bin/tether
strip --strip-unneeded "$PKG/usr/sbin/tetherd" "$PKG/usr/bin/tether"
for rules in udev/*.rules; do put 0644 "$rules" "/usr/lib/udev/rules.d/$(basename "$rules")"; done
put 0644 packaging/tetherd.service /usr/lib/systemd/system/tetherd.service
put 0644 packaging/tether.tmpfiles /usr/lib/tmpfiles.d/tether.conf
put 0644 packaging/tether.sysusers /usr/lib/sysusers.d/tether.conf
put 0644 packaging/tether.toml /etc/tether/tether.toml
# The libvirt hook; libvirtd runs every executable of qemu.d, as root.
put 0755 hooks/qemu.d/tether /etc/libvirt/hooks/qemu.d/tether

# Man pages from the commands' own help: swift-argument-parser's generate-manual tool reads each
# binary's --experimental-dump-help (its plugin would build every product in release first).
MAN=$STAGE/man
mkdir -p "$MAN"
"$SWIFT" build --product generate-manual >&2
GENERATE=$("$SWIFT" build --show-bin-path)/generate-manual
"$GENERATE" "$BIN/tether" --section 1 --authors "Tether developers" --output-directory "$MAN" >&2
"$GENERATE" "$BIN/tetherd" --section 8 --authors "Tether developers" --output-directory "$MAN" >&2
for page in "$MAN"/*.[18]; do
    section=${page##*.}
    gzip -9n -c "$page" >"$STAGE/page.gz"
    put 0644 "$STAGE/page.gz" "/usr/share/man/man$section/$(basename "$page").gz"
done

"$BIN/tether" --generate-completion-script bash >"$STAGE/tether.bash"
"$BIN/tether" --generate-completion-script zsh >"$STAGE/_tether"
"$BIN/tether" --generate-completion-script fish >"$STAGE/tether.fish"
put 0644 "$STAGE/tether.bash" /usr/share/bash-completion/completions/tether
put 0644 "$STAGE/_tether" /usr/share/zsh/vendor-completions/_tether
put 0644 "$STAGE/tether.fish" /usr/share/fish/vendor_completions.d/tether.fish
put 0644 packaging/debian/copyright /usr/share/doc/tether/copyright

# Depends: the Debian packages that hold the shared libraries the binaries load directly (their
# DT_NEEDED entries, found where ldd resolves them) and those tetherd loads on first use (dlopen:
# CRBDLoader, CVirtLoader); what those libraries need, their packages need.
DLOPENED="librbd.so.1 libvirt.so.0"
depends=$({
    for binary in "$PKG/usr/sbin/tetherd" "$PKG/usr/bin/tether"; do
        needed=$(objdump -p "$binary" | awk '/NEEDED/ {print $2}')
        ldd "$binary" | awk -v needed=" $(echo $needed) " '$2 == "=>" && index(needed, " " $1 " ") {print $3}'
    done
    for soname in $DLOPENED; do
        path=$(/sbin/ldconfig -p | awk -v soname="$soname" '$1 == soname && /x86-64/ {print $NF; exit}')
        [ -n "$path" ] || { log "$soname (loaded by tetherd on first use) is not installed"; exit 1; }
        echo "$path"
    done
    } | sort -u |
    while read -r lib; do dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib"; done |
    cut -d: -f1 | sort -u |
    while read -r p; do echo "$p (>= $(dpkg-query -W -f='${Version}' "$p" | sed 's/-[^-]*$//'))"; done |
    paste -sd, | sed 's/,/, /g')

mkdir -p "$PKG/DEBIAN"
sed -e "s/@VERSION@/$VERSION/" -e "s/@DEPENDS@/$depends/" \
    -e "s/@SIZE@/$(du -sk "$PKG" | cut -f1)/" packaging/debian/control >"$PKG/DEBIAN/control"
# Every file under /etc is a conffile, as debhelper would mark it: upgrades keep local edits.
(cd "$PKG" && find etc -type f | sed 's|^|/|' | sort) >"$PKG/DEBIAN/conffiles"
for script in postinst prerm postrm; do install -m 0755 "packaging/debian/$script" "$PKG/DEBIAN/$script"; done

# xz as Debian's own packages; the debug build's ~200 MB take xz 4 min on 2 cores, zstd seconds
# (dpkg reads zstd since Debian 12).
COMPRESS=(-Zxz)
[ "$CONFIG" = release ] || COMPRESS=(-Zzstd -z3)
dpkg-deb --root-owner-group "${COMPRESS[@]}" --build "$PKG" "$OUT/" >&2
log "built $OUT/tether_${VERSION}_amd64.deb"
echo "$OUT/tether_${VERSION}_amd64.deb"
