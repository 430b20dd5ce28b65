#!/usr/bin/env bash
# The test lab: installs what Tether's tests and demo need, and runs a private tgtd.
#
#   scripts/lab.sh install          apt packages (idempotent; the list is in scripts/packages.sh)
#   scripts/lab.sh start DIR        tgtd on 127.0.0.1:PORT and 127.0.0.2:PORT, own control socket;
#                                   writes DIR/lab.env (TGT_SOCKET, TGT_CONTROL_PORT, PORT, TGTD_PID)
#   scripts/lab.sh stop DIR         kills that tgtd by PID and removes DIR
#
# Run start/stop inside a private network namespace (`unshare -n`): ports and 127.0.0.2 are then
# the test's own. tgtd ignores SIGTERM and keeps its configuration in memory only.
set -euo pipefail

install() {
    "$(dirname "$0")/packages.sh" install build tgt
}

start() {
    local dir=$1
    mkdir -p "$dir"
    chmod 700 "$dir"
    ip link set lo up 2>/dev/null || true
    local control=$(( (RANDOM % 800) + 100 ))
    local port=${LAB_PORT:-3260}
    TGT_IPC_SOCKET="$dir/tgtd.sock" tgtd -f -C "$control" --iscsi "portal=127.0.0.1:$port" >"$dir/tgtd.log" 2>&1 &
    local pid=$!
    for _ in $(seq 1 100); do
        if TGT_IPC_SOCKET="$dir/tgtd.sock" tgtadm -C "$control" --lld iscsi --op show --mode sys >/dev/null 2>&1; then
            break
        fi
        sleep 0.05
    done
    TGT_IPC_SOCKET="$dir/tgtd.sock" tgtadm -C "$control" --lld iscsi --op new --mode portal --param "portal=127.0.0.2:$port"
    # tgtd only logs a portal it cannot bind and falls back to [::]:3260: check both listen.
    for host in 127.0.0.1 127.0.0.2; do
        if ! ss -ltn "src $host:$port" | grep -q LISTEN; then
            echo "lab: tgtd does not listen on $host:$port (see $dir/tgtd.log)" >&2
            kill -9 "$pid"
            exit 1
        fi
    done
    cat >"$dir/lab.env" <<ENV
TGT_SOCKET=$dir/tgtd.sock
TGT_CONTROL_PORT=$control
PORT=$port
TGTD_PID=$pid
ENV
}

stop() {
    local dir=$1
    if [ -f "$dir/lab.env" ]; then
        # shellcheck disable=SC1091
        . "$dir/lab.env"
        kill -9 "$TGTD_PID" 2>/dev/null || true
        wait "$TGTD_PID" 2>/dev/null || true
    fi
    rm -rf "$dir"
}

case "${1:-}" in
    install) install ;;
    start) start "${2:?usage: lab.sh start DIR}" ;;
    stop) stop "${2:?usage: lab.sh stop DIR}" ;;
    *) echo "usage: scripts/lab.sh install | start DIR | stop DIR" >&2; exit 64 ;;
esac
