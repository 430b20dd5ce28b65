# Sourced by scripts/guest-lab.sh (needs its CACHE, GUEST, log, die, pack and stage_libs): the host's Python
# and os-brick as an initrd part of their own for `run --python`, so that bench-kernel can time
# os-brick's ISCSIConnector in the guest. Kept out of the base: ~15 MB packed (~60 MiB unpacked, 1-3 s
# more boot under TCG) that only the bench wants, and an apt upgrade of a Python package must not
# rebuild the base.
#
# The archive holds /usr/bin/python3.X (+ python3), /usr/bin/rbd (the bench's krbd rows), the stdlib without what nothing here imports
# (tests, Tk, lib2to3, the static libpython, curses, sqlite), the dist-packages that
# scripts/guest/osbrick-bench.py imports — whole top-level packages and their metadata, found by
# importing that script's modules on the host — with their compiled bytecode (compiling them
# doubles the imports' time: ~6 s with it under TCG), the few data files those imports read, and
# every shared library of the interpreter and of the extension modules that the base lacks.

PYTHON=/usr/bin/python3
PY_DIST=/usr/lib/python3/dist-packages

python_has_osbrick() {
    [ -x "$PYTHON" ] && "$PYTHON" -S -c "import sys; sys.path.append('$PY_DIST'); import os_brick" 2>/dev/null
}

# Prints the path of the Python archive for BASE (CACHE/python-KEY.cpio.zst; .mib holds the
# unpacked size), packing it unless cached. Keyed by the base (its library list decides what is
# left out), this file, the driver (its imports decide the closure) and the versions of the host's
# Python packages and of the libraries the extension modules link.
python_archive() {
    local base=$1 key out stage
    python_has_osbrick || die "--python: no os-brick for $PYTHON (apt-get install python3-os-brick)"
    key=$( {
        echo "$base"
        sha256sum "$GUEST/python-pack.sh" "$GUEST/osbrick-bench.py"
        dpkg-query -W -f='${Package} ${Version}\n' 'python3*' 'libpython3*' libc6 'libssl*' 'libffi*' \
            zlib1g libexpat1 'libmpdec*' liblzma5 libbz2-1.0 'libsqlite3*' libuuid1 ceph-common librbd1 2>/dev/null || true
    } | sha256sum | cut -c1-16)
    out=$CACHE/python-$key.cpio.zst
    if [ ! -f "$out" ] || [ ! -f "$out.mib" ]; then
        local start=$SECONDS
        # A stage left by an interrupted pack an hour ago is garbage; a younger one may be another run's.
        find "$CACHE" -maxdepth 1 -name 'python-stage.*' -mmin +60 -exec rm -rf {} +
        stage=$(mktemp -d "$CACHE/python-stage.XXXXXX")
        stage_python "$stage" "$base/FILES"
        pack "$stage" | zstd -q -10 -T0 >"$out.$$"
        # The facts archive after this one is uncompressed: it must start 4-byte aligned.
        truncate -s "%512" "$out.$$"
        du -sm "$stage" | cut -f1 >"$out.mib"
        rm -rf "$stage"
        mv "$out.$$" "$out"
        ls -t "$CACHE"/python-*.cpio.zst | tail -n +3 | while read -r f; do rm -f "$f" "$f.mib"; done
        log "packed Python and os-brick in $((SECONDS - start)) s: $(cat "$out.mib") MiB unpacked, $(du -h "$out" | cut -f1) packed"
    fi
    echo "$out"
}

# Top-level entries of dist-packages (package directories, single modules, extension modules, the
# metadata of their distributions) that importing the driver's modules loads. -S: the host's .pth
# files (some import packages the guest never needs) stay out of the closure, as out of the guest.
python_closure() {
    "$PYTHON" -S - "$PY_DIST" "$GUEST/osbrick-bench.py" <<'EOF'
import importlib.util, sys
dist = sys.argv[1]
sys.path.append(dist)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
spec = importlib.util.spec_from_file_location('osbrick_bench', sys.argv[2])
spec.loader.exec_module(importlib.util.module_from_spec(spec))  # imports only: main() is guarded
top = set()
for m in list(sys.modules.values()):
    for f in [getattr(m, '__file__', None) or ''] + list(getattr(m, '__path__', None) or []):
        if f.startswith(dist + '/'):
            top.add(f[len(dist) + 1:].split('/')[0])
# And their distributions' metadata: debtcollector, for one, asks for its own version on import.
from importlib import metadata
for name, dists in metadata.packages_distributions().items():
    for d in dists if name in top or name + '.py' in top else []:
        info = str(getattr(metadata.distribution(d), '_path', ''))
        if info.startswith(dist + '/'):
            top.add(info[len(dist) + 1:])
print('\n'.join(sorted(top)))
EOF
}

stage_python() {
    local stage=$1 base_files=$2 exe ver top tops f so skip
    exe=$(readlink -f "$PYTHON")
    ver=$("$PYTHON" -S -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    tops=$(python_closure)
    [ -n "$tops" ] || die "--python: importing $GUEST/osbrick-bench.py's modules found no packages"

    mkdir -p "$stage/usr/bin" "$stage$PY_DIST"
    cp "$exe" "$stage/usr/bin/python$ver"
    ln -s "python$ver" "$stage/usr/bin/python3"
    # Symlinks stay links: netaddr's point at ieee-data (MBs the bench never reads); Debian's
    # sitecustomize.py, a link into /etc for apport, stays out. Out too: what neither os-brick nor
    # its dependencies import, above all the extension modules that would pull in krb5, ncurses,
    # Berkeley DB and SQLite.
    skip=(sitecustomize.py test tests idlelib tkinter turtledemo ensurepip lib2to3 'config-*'
          pydoc_data sqlite3 curses '*.opt-[12].pyc')
    for so in _test _ctypes_test _xx xx _curses readline _dbm nis ossaudiodev _sqlite3 audioop; do
        skip+=("lib-dynload/$so*")
    done
    tar -C / -c "${skip[@]/#/--exclude=}" "usr/lib/python$ver" | tar -x -C "$stage"
    for top in $tops; do
        tar -C / -c --exclude=tests --exclude='*.opt-[12].pyc' "${PY_DIST#/}/$top" | tar -x -C "$stage"
    done

    # Debian's pytz reads the tz database's version and zone tables on import (not the 4 MB of zones).
    for f in /usr/share/zoneinfo/tzdata.zi /usr/share/zoneinfo/*.tab /usr/share/zoneinfo/UTC; do
        [ -e "$f" ] && mkdir -p "$stage$(dirname "$f")" && cp -L "$f" "$stage$f"
    done

    # cryptography (imported by eventlet through pyOpenSSL) loads OpenSSL's legacy provider.
    for f in /usr/lib/*-linux-gnu/ossl-modules/*.so; do
        [ -e "$f" ] && mkdir -p "$stage$(dirname "$f")" && cp -L "$f" "$stage$f"
    done

    # The rbd CLI for the krbd rows: `rbd map` by hand, and os-brick's RBDConnector runs it.
    if [ -x /usr/bin/rbd ]; then
        cp -L /usr/bin/rbd "$stage/usr/bin/rbd"
        stage_libs /usr/bin/rbd "$stage" "$base_files"
    fi
    stage_libs "$exe" "$stage" "$base_files"
    find "$stage" -name '*.so' -type f | while read -r f; do stage_libs "$f" "$stage" "$base_files"; done
}
