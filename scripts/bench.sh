#!/usr/bin/env bash
# Benchmarks, release build, private network namespace:
#   scripts/bench.sh [RUNS]        network-mode iSCSI attach/detach latency (median, p99) through
#                                  tetherd against a private tgtd, and tetherd's idle RSS
#   scripts/bench.sh rbd [RUNS]    network-mode RBD against two Ceph clusters, 64 attaches at once,
#                                  and os-brick's RBDConnector on the same volumes when installed
#   scripts/bench.sh cinder [RUNS] local-attach / local-detach against the lab Cinder (scripts/cinder-lab.sh),
#                                  with the time spent in Cinder's API shown apart
#   scripts/bench.sh compare [--samples N] [--profile]
#                                  one run, one table: Tether beside the bare-librbd/libiscsi floors and
#                                  os-brick on the same volumes (cold/warm RBD, network iSCSI, 64/256 at
#                                  once, CPU per operation, idle memory, GET with 1,000 records, reconcile),
#                                  then one line per target of issue #17; --profile: where an attach's time goes
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=/opt/swift/usr/bin/swift
scripts/packages.sh install demo ceph
# compare's peer: os-brick's RBDConnector (python3-os-brick, python3-rbd, python3-rados).
case "${1:-}" in cinder|compare) scripts/packages.sh install cinder ;; esac
"$SWIFT" build -c release --product tetherd
"$SWIFT" build -c release --product tether-bench
BIN=$("$SWIFT" build -c release --show-bin-path)
exec unshare --net -- bash -c 'ip link set lo up && exec "$0" "$@"' "$BIN/tether-bench" "$@"
