#!/usr/bin/env bash
# The demo: installs what it needs, builds, starts a private tgtd (two portals) and tetherd in a
# private network namespace, exports a volume, attaches it in network mode, shows the result,
# has qemu-io read the volume through the QEMU JSON Tether returned, then detaches, terminates
# and cleans up everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=/opt/swift/usr/bin/swift

if [ "${TETHER_DEMO_INNER:-}" != 1 ]; then
    echo "== installing packages and building"
    scripts/packages.sh install demo
    "$SWIFT" build --product tetherd
    "$SWIFT" build --product tether
    export TETHER_DEMO_INNER=1 TETHER_BIN=$("$SWIFT" build --show-bin-path)
    exec unshare --net -- "$0" "$@"
fi

ip link set lo up
DIR=$(mktemp -d /tmp/tether-demo.XXXXXX)
LAB=$DIR/lab
AGENT_PID=
cleanup() {
    [ -n "$AGENT_PID" ] && kill -TERM "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null || true
    scripts/lab.sh stop "$LAB"
    rm -rf "$DIR"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
export TETHER_SOCKET=$DIR/tetherd.sock
tether() { "$TETHER_BIN/tether" "$@"; }

step "starting a private tgtd on 127.0.0.1:3260 and 127.0.0.2:3260"
scripts/lab.sh start "$LAB"
# shellcheck disable=SC1091
. "$LAB/lab.env"

step "starting tetherd"
cat >"$DIR/tether.toml" <<TOML
socket = "$DIR/tetherd.sock"
state_dir = "$DIR/state"
[iscsi]
initiator = "iqn.2026-11.io.tether.demo:compute-1"
[target]
portals = ["127.0.0.1:$PORT", "127.0.0.2:$PORT"]
tgt_socket = "$TGT_SOCKET"
tgt_control_port = $TGT_CONTROL_PORT
backing_dirs = ["$DIR"]
TOML
"$TETHER_BIN/tetherd" --config "$DIR/tether.toml" 2>"$DIR/tetherd.log" &
AGENT_PID=$!
for _ in $(seq 1 200); do [ -S "$DIR/tetherd.sock" ] && break; sleep 0.05; done
tether health

step "this node's connector (os-brick connector properties)"
tether connector --json > "$DIR/connector.json"
tether connector

step "export volume demo-vol (64 MiB, created sparse) to this node: initialize_connection"
tether export create --volume-id demo-vol --path "$DIR/demo-vol.img" --size 64M \
    --connector "$DIR/connector.json" --output "$DIR/connection_info.json"
ls -l "$DIR/connection_info.json"

step "attach it in network mode from that connection_info"
tether attach --connection-info "$DIR/connection_info.json"
tether list

step "the attachment in detail: paths, libvirt disk XML, QEMU blockdev JSON"
tether show demo-vol

step "qemu-io reads and writes the volume through Tether's QEMU JSON"
tether show demo-vol --json > "$DIR/attachment.json"
python3 - "$DIR/attachment.json" >"$DIR/qemu.args" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
for o in a["qemu"]["objects"]:
    print("--object")
    print(",".join([o["qom-type"]] + ["%s=%s" % (k, v) for k, v in sorted(o.items()) if k != "qom-type"]))
print("json:" + json.dumps(a["qemu"]["blockdev"]))
PY
mapfile -t QARGS <"$DIR/qemu.args"
qemu-io "${QARGS[@]:0:${#QARGS[@]}-1}" -c 'write -P 0x5a 0 1M' -c 'read -P 0x5a 0 1M' "${QARGS[-1]}"

step "detach, then terminate the export"
tether detach demo-vol
tether export delete demo-vol
tether list
if TGT_IPC_SOCKET=$TGT_SOCKET tgtadm -C "$TGT_CONTROL_PORT" --lld iscsi --op show --mode target | grep -q Target:; then
    echo "tgtd still has targets" >&2
    exit 1
fi
echo "tgtd: no targets left"

step "done; cleaning up"
