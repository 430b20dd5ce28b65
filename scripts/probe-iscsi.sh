#!/usr/bin/env bash
# Usage: scripts/probe-iscsi.sh TETHERD RUNS RECORDS CLIENTS SECONDS [LOGLEVEL]
#   e.g. scripts/probe-iscsi.sh .build/release/tetherd 200 1000 8 10   (PERF_OUT=FILE: perf record the cycles)
# In a private netns: tgtd (2 portals), tetherd; network-iSCSI CHAP attach/detach cycles with
# tetherd's CPU and context switches per cycle; then RECORDS journaled attachments (rows copied
# with sqlite3 while tetherd is stopped) and GET /v1/attachments from CLIENTS clients; a reconcile.
set -euo pipefail
if [ "${IN_NETNS:-}" != 1 ]; then
  "$(dirname "$0")/packages.sh" install demo
  exec unshare --net -- env IN_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
TETHERD=$1 RUNS=$2 RECORDS=$3 CLIENTS=$4 SECONDS_=$5 LEVEL=${6:-info}
HERE=$(cd "$(dirname "$0")" && pwd)
D=$(mktemp -d /tmp/nfp.XXXX)
TGTPID= AGPID=
cleanup() { [ -n "$AGPID" ] && kill -9 $AGPID 2>/dev/null; [ -n "$TGTPID" ] && kill -9 $TGTPID 2>/dev/null; wait 2>/dev/null; rm -rf "$D"; }
trap cleanup EXIT
export TGT_IPC_SOCKET=$D/tgtd.sock
tgtd -f -C 777 --iscsi portal=127.0.0.1:3260 >"$D/tgtd.log" 2>&1 & TGTPID=$!
for _ in $(seq 100); do tgtadm -C 777 --op show --mode sys >/dev/null 2>&1 && break; sleep 0.05; done
tgtadm -C 777 --lld iscsi --op new --mode portal --param portal=127.0.0.2:3260
INIT=iqn.2026-11.io.tether.test:node1
cat >"$D/tether.toml" <<TOML
socket = "$D/t.sock"
state_dir = "$D/state"
[iscsi]
initiator = "$INIT"
[target]
portals = ["127.0.0.1:3260", "127.0.0.2:3260"]
tgt_socket = "$D/tgtd.sock"
tgt_control_port = 777
backing_dirs = ["$D"]
[libvirt]
uri = ""
TOML
start_agent() {
  "$TETHERD" --config "$D/tether.toml" --log-level "$LEVEL" >>"$D/agent.log" 2>&1 & AGPID=$!
  for _ in $(seq 400); do [ -S "$D/t.sock" ] && curl -s --unix-socket "$D/t.sock" http://x/v1/health >/dev/null && return; sleep 0.05; done
  echo "tetherd did not start"; tail "$D/agent.log"; exit 1
}
start_agent
python3 "$HERE/probe_iscsi.py" export "$D/t.sock" $AGPID probe-vol "$D/probe.img" "$INIT" >"$D/info.json"
PERFPID=
if [ -n "${PERF_OUT:-}" ]; then perf record -q -F 4000 -g -p $AGPID -o "$PERF_OUT" >/dev/null 2>&1 & PERFPID=$!; sleep 1; fi
python3 "$HERE/probe_iscsi.py" cycles "$D/t.sock" $AGPID "$D/info.json" "$RUNS"
if [ -n "$PERFPID" ]; then kill -INT $PERFPID; wait $PERFPID || true; fi
[ "$RECORDS" -gt 0 ] || exit 0
curl -s --unix-socket "$D/t.sock" -X POST -H 'Content-Type: application/json' --data "{\"connection_info\": $(cat "$D/info.json")}" http://x/v1/attachments >"$D/att.json"
ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$D/att.json")
kill -TERM $AGPID; wait $AGPID || true; AGPID=
python3 - "$D/state/journal.sqlite" "$ID" "$RECORDS" "$D/state/secrets" <<'PY'
import sqlite3, sys, uuid, shutil
db, src, n, secrets = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
c = sqlite3.connect(db)
cols = [r[1] for r in c.execute("PRAGMA table_info(attachment)")]
row = dict(zip(cols, c.execute("SELECT * FROM attachment WHERE id=?", (src,)).fetchone()))
for i in range(n - 1):
    new = str(uuid.uuid4())
    r = dict(row, id=new, volumeID=f"probe-{i}", targetKey=f"iscsi:iqn.probe:{i}:1",
             result=row["result"].replace(src, new), connectionInfo=row["connectionInfo"].replace('probe-vol', f'probe-{i}'))
    c.execute(f"INSERT INTO attachment ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})", [r[k] for k in cols])
    shutil.copy(f"{secrets}/{src}.chap", f"{secrets}/{new}.chap")
c.commit()
PY
start_agent
# The reconcile at start looks at every record: the first request waits for it (one round at a time).
python3 "$HERE/probe_iscsi.py" reconcile "$D/t.sock" $AGPID | sed 's/^/(after the start round) /'
python3 "$HERE/probe_iscsi.py" reconcile "$D/t.sock" $AGPID
python3 "$HERE/probe_iscsi.py" list "$D/t.sock" $AGPID "$CLIENTS" "$SECONDS_"
grep -c . "$D/agent.log" | sed 's/^/agent log lines: /'
