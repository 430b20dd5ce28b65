#!/usr/bin/env bash
# Benchmark: network-mode iSCSI attach/detach latency (median, p99) through tetherd against a
# private tgtd, and tetherd's idle RSS. Release build, private network namespace.
#   scripts/bench.sh [RUNS]     (default 100)
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=/opt/swift/usr/bin/swift
scripts/lab.sh install
"$SWIFT" build -c release --product tetherd
"$SWIFT" build -c release --product tether-bench
BIN=$("$SWIFT" build -c release --show-bin-path)
exec unshare --net -- bash -c 'ip link set lo up && exec "$0" "$@"' "$BIN/tether-bench" "${1:-100}"
