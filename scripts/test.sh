#!/usr/bin/env bash
# Runs every test: installs the lab's packages, builds, runs `swift test` inside a private network
# namespace (the real tgtd, Ceph clusters and Cinder the integration tests start own its ports),
# then the fuzz targets (scripts/fuzz.sh, seeded, 20,000 inputs each), schemathesis against a live agent
# (scripts/api-check.sh), and the kernel-path scenarios in a Debian-kernel guest under QEMU
# (scripts/guest-lab.sh ci) with the same build of tetherd and tether; last the Debian package, made
# from that build (scripts/package.sh --debug), installed, started and purged under systemd
# (scripts/deb-test.sh).
#
# WHAT IT DOES TO THIS MACHINE (run it as root, on a machine you may change):
# - installs, with apt, the missing packages of group `test` (`scripts/packages.sh list test`
#   prints all ~50; ~350 MB are Cinder's): the build's -dev libraries, tgt and libiscsi-bin,
#   qemu-utils/qemu-block-extra/qemu-system-x86, Ceph (ceph-mon, ceph-osd, ceph-common,
#   python3-rbd, python3-rados), libvirt (libvirt-daemon, -driver-qemu, libvirt-clients), Cinder
#   (cinder-api, cinder-scheduler, cinder-volume, python3-os-brick, rabbitmq-server,
#   postgresql-15), socat and python3-venv (schemathesis, from PyPI, into .build-api), and the guest's tools (open-iscsi, multipath-tools, udev, busybox-static, ...);
#   scripts/guest-lab.sh downloads a Debian kernel package into /var/cache/tether-guest;
#   for the package: binutils, dpkg, debootstrap, systemd-container (systemd-nspawn), and
#   scripts/deb-test.sh caches a small Debian root with systemd in /var/cache/tether-deb.
#   Installing starts no service (policy-rc.d on this kind of machine).
# - starts, as child processes in private network (and, for libvirtd, mount) namespaces, with
#   their files in temporary directories, and stops by PID when done: tgtd, Ceph mons and OSDs,
#   libvirtd, PostgreSQL, RabbitMQ (with epmd), cinder-api/-scheduler/-volume, tetherd, and QEMU
#   (the kernel-path guest); and a systemd-nspawn container (systemd as its PID 1, which starts
#   tetherd from the package) on a copy of the cached root, removed when done. It installs no
#   service on this machine (the package goes into the container only) and leaves no daemon running.
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=/opt/swift/usr/bin/swift

echo "test.sh: installs the missing packages of group test (scripts/packages.sh list test: tgt, Ceph," \
    "libvirt, Cinder with PostgreSQL and RabbitMQ, QEMU, open-iscsi, multipath-tools, ...) and starts, in" \
    "private namespaces, then stops: tgtd, ceph-mon/osd, libvirtd, PostgreSQL, RabbitMQ, Cinder, tetherd, QEMU;" \
    "builds the .deb and boots a systemd container (debootstrap root cached in /var/cache/tether-deb) to test it" >&2

scripts/packages.sh check
scripts/packages.sh install test
"$SWIFT" build --build-tests "$@"
# A missing lab peer must fail CI, not skip its suites: proved once, cheaply, with tgtd hidden.
scripts/lab-honesty.sh
# The labs take fixed port ranges (Ceph 20000-43999, Cinder 44100-44199, tgtd 45000-60000), which
# overlap the kernel's ephemeral range: reserve them in the namespace, so no client socket takes a
# port a lab is about to bind (RabbitMQ once found its port taken that way).
unshare --net -- bash -c 'ip link set lo up &&
    echo "1024 65000" >/proc/sys/net/ipv4/ip_local_port_range &&
    echo "20000-44199,45000-60000" >/proc/sys/net/ipv4/ip_local_reserved_ports &&
    exec "$0" test --skip-build "$@"' "$SWIFT" "$@"
# Every fuzz target from its corpus (a crash fails), then schemathesis against a live agent with
# docs/openapi.json (a 500 or an answer outside the schema fails). Both with fixed seeds and the
# fuzzers with a fixed number of inputs: CI tries the same inputs on every run, so it cannot fail
# on a crash a previous run never met (open-ended fuzzing: scripts/fuzz.sh SECONDS by hand).
TETHER_FUZZ_SEED=1 TETHER_FUZZ_RUNS=20000 scripts/fuzz.sh
TETHER_API_SEED=1 TETHER_BIN=$("$SWIFT" build --show-bin-path "$@") scripts/api-check.sh
TETHER_GUEST_BINDIR=$("$SWIFT" build --show-bin-path "$@") scripts/guest-lab.sh ci
# The package from this build (only the two executables linked again, statically: ~1 min where a
# release build takes 5-8), installed, started by systemd and purged in a container.
deb=$(scripts/package.sh --debug | tail -n 1)
scripts/deb-test.sh "$deb"
