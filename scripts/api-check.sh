#!/usr/bin/env bash
# Runs schemathesis (PyPI) against a live tetherd with docs/openapi.json:
#
#   scripts/api-check.sh [EXAMPLES] [SECONDS]   at most EXAMPLES per operation and case (default
#                                               25), for SECONDS in all (default 120)
#
# Installs what it needs (scripts/packages.sh group api; schemathesis into .build-api/venv),
# builds tetherd (unless TETHER_BIN names a build directory that has it), then in private network and mount namespaces: the whole filesystem read-only
# but a tmpfs for the run (any path or name schemathesis invents can touch nothing else), a
# private tgtd (scripts/lab.sh), tetherd with everything under that tmpfs, and socat bridging
# 127.0.0.1:8080 to the agent's unix socket. Fails on any 500 (or other 5xx than the documented
# 502/503/504 for failed, unconfigured or unreachable peers: scripts/api-check.toml) and on any
# answer outside the documented schemas.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SWIFT=/opt/swift/usr/bin/swift
SCHEMATHESIS_VERSION=4.32.5

if [ -z "${TETHER_API_CHECK_INNER:-}" ]; then
    cd "$ROOT"
    scripts/packages.sh install api
    venv=$ROOT/.build-api/venv
    if ! "$venv/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
    fi
    # scripts/test.sh passes the build it tested (TETHER_BIN); alone, this builds tetherd.
    if [ -z "${TETHER_BIN:-}" ]; then
        "$SWIFT" build --product tetherd
        TETHER_BIN=$("$SWIFT" build --show-bin-path)
    fi
    # Made out here: inside, the filesystem is read-only and the directory could not be removed.
    TETHER_API_WORK=$(mktemp -d /tmp/tether-api.XXXXXX)
    export TETHER_API_CHECK_INNER=1 TETHER_BIN TETHER_ST="$venv/bin/st" TETHER_API_WORK
    status=0
    unshare --net --mount -- "$0" "$@" || status=$?
    rmdir "$TETHER_API_WORK"
    exit "$status"
fi

examples=${1:-25}
seconds=${2:-120}
ip link set lo up
work=$TETHER_API_WORK
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    [ -f "$work/lab/lab.env" ] && "$ROOT/scripts/lab.sh" stop "$work/lab"
    cd /
    # Only mounted once the filesystem is read-only; the namespace unmounts it anyway on exit.
    if mountpoint -q "$work"; then umount "$work"; fi
}
trap cleanup EXIT

# Read-only everywhere in this mount namespace (the rest of the machine keeps its mounts), except
# the kernel's pseudo filesystems, then a private tmpfs for the run.
mount --make-rprivate /
while read -r target; do
    case "$target" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
    target=$(printf '%b' "$target")
    mount -o remount,bind,ro "$target" || echo "api-check: could not make $target read-only" >&2
done < <(findmnt -rno TARGET)
for probe in / /tmp /etc /var "$ROOT"; do
    if touch "$probe/.tether-api-probe" 2>/dev/null; then
        rm -f "$probe/.tether-api-probe"
        echo "api-check: $probe is still writable; refusing to let schemathesis drive an agent there" >&2
        exit 1
    fi
done
mount -t tmpfs -o mode=0700,size=512m tmpfs "$work"
cd "$work"

LAB_PORT=3260 "$ROOT/scripts/lab.sh" start "$work/lab"
# shellcheck disable=SC1091
. "$work/lab/lab.env"
mkdir -p "$work/root/etc/iscsi" "$work/registry" "$work/ceph"
cat >"$work/tether.toml" <<TOML
socket = "$work/tetherd.sock"
state_dir = "$work/state"
system_root = "$work/root"
[node]
host = "api-check"
ip = "127.0.0.1"
[iscsi]
initiator = "iqn.2026-12.io.tether:api-check"
initiator_file = "$work/root/etc/iscsi/initiatorname.iscsi"
connect_timeout = 1
login_timeout = 2
command_timeout = 2
[target]
portals = ["127.0.0.1:$PORT", "127.0.0.2:$PORT"]
tgt_socket = "$TGT_SOCKET"
tgt_control_port = $TGT_CONTROL_PORT
[ceph]
registry_dir = "$work/registry"
ceph_dir = "$work/ceph"
connect_timeout = 1
[libvirt]
uri = ""
TOML
"$TETHER_BIN/tetherd" --config "$work/tether.toml" >"$work/tetherd.log" 2>&1 &
agent=$!
pids+=("$agent")
for _ in $(seq 1 100); do [ -S "$work/tetherd.sock" ] && break; sleep 0.1; done
[ -S "$work/tetherd.sock" ] || { echo "api-check: tetherd did not start:" >&2; cat "$work/tetherd.log" >&2; exit 1; }
socat TCP-LISTEN:8080,bind=127.0.0.1,fork,reuseaddr "UNIX-CONNECT:$work/tetherd.sock" &
pids+=($!)
for _ in $(seq 1 50); do ss -ltn 'sport = :8080' | grep -q LISTEN && break; sleep 0.1; done

status=0
"$TETHER_ST" --config-file "$ROOT/scripts/api-check.toml" run "$ROOT/docs/openapi.json" --url http://127.0.0.1:8080 \
    --checks not_a_server_error,response_schema_conformance \
    --max-examples "$examples" --workers 1 --request-timeout 30 --max-time "$seconds" \
    --generation-database none --no-color ${TETHER_API_SEED:+--seed "$TETHER_API_SEED"} || status=$?

if ! kill -0 "$agent" 2>/dev/null; then
    echo "api-check: tetherd died during the run" >&2
    status=1
fi
# What the agent refused, by error code: the 5xx among them are the documented peer failures.
echo "api-check: error codes the agent answered:"
grep -ao 'code=[^ ]*' "$work/tetherd.log" | sort | uniq -c | sort -rn || echo "    none"
if grep -aq 'internal error' "$work/tetherd.log"; then
    echo "api-check: tetherd logged internal errors:" >&2
    grep -a 'internal error' "$work/tetherd.log" | head -20 >&2
    status=1
fi
[ "$status" -eq 0 ] && echo "api-check: no 5xx outside 502/503/504 and no schema violation in $examples examples per operation"
exit "$status"
