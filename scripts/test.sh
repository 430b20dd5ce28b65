#!/usr/bin/env bash
# Runs every test: installs the lab's packages, builds, runs `swift test` inside a private network
# namespace (the real tgtd, Ceph clusters and Cinder the integration tests start own its ports),
# then the kernel-path scenarios in a Debian-kernel guest under QEMU (scripts/guest-lab.sh ci) with
# the same build of tetherd and tether.
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=/opt/swift/usr/bin/swift

scripts/lab.sh install
scripts/ceph-lab.sh install
scripts/libvirt-lab.sh install
scripts/cinder-lab.sh install
scripts/guest-lab.sh install
"$SWIFT" build --build-tests "$@"
unshare --net -- bash -c 'ip link set lo up && exec "$0" test --skip-build "$@"' "$SWIFT" "$@"
TETHER_GUEST_BINDIR=$("$SWIFT" build --show-bin-path "$@") scripts/guest-lab.sh ci
