#!/usr/bin/env bash
# Runs every test: installs the lab's packages, builds, then runs `swift test` inside a private
# network namespace so the real tgtd the integration tests start owns its ports.
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=/opt/swift/usr/bin/swift

scripts/lab.sh install
scripts/ceph-lab.sh install
scripts/libvirt-lab.sh install
scripts/cinder-lab.sh install
"$SWIFT" build --build-tests "$@"
exec unshare --net -- bash -c 'ip link set lo up && exec "$0" test --skip-build "$@"' "$SWIFT" "$@"
