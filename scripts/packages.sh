#!/usr/bin/env bash
# The one place that knows which Debian packages Tether needs. Every script installs through it.
#
#   scripts/packages.sh list GROUP...      prints the packages of those groups, one a line
#   scripts/packages.sh install GROUP...   installs those that are missing (apt; idempotent)
#   scripts/packages.sh check              fails when Package.swift's system libraries name an apt
#                                          package that the build group lacks
#
# Groups:
#   build    what `swift build` compiles and links against: pkg-config and the -dev packages of
#            the C libraries (libiscsi, librbd/librados, libudev, libvirt, SQLite for GRDB)
#   demo     scripts/demo.sh: build + a private tgtd, qemu-io as the independent client
#   tgt      scripts/lab.sh: tgtd with libiscsi's tools
#   ceph     scripts/ceph-lab.sh: a mon and a memstore OSD per cluster
#   libvirt  scripts/libvirt-lab.sh: a private libvirtd running QEMU (TCG) domains
#   cinder   scripts/cinder-lab.sh: Cinder api/scheduler/volume, PostgreSQL, RabbitMQ, os-brick
#   guest    scripts/guest-lab.sh: QEMU and the host programs copied into the kernel-path guest
#   package  scripts/package.sh: strip, gzip, dpkg-deb
#   fresh    scripts/fresh-check.sh: debootstrap and what it caches the base root with
#   deb      scripts/deb-test.sh: debootstrap, zstd, systemd-nspawn (systemd-container) to boot the
#            package's test root with systemd as PID 1
#   api      scripts/api-check.sh: build + tgt, socat (TCP to the agent's socket), a venv for schemathesis
#   metrics  Prometheus' promtool, which checks a live agent's /v1/metrics (AgentMetricsTests)
#   tls      openssl, which makes the CAs and certificates of the TLS listener's tests (AgentTLSTests)
#   toml     Python's tomli_w, which writes the tether.toml TOMLFileTests loads
#   test     everything scripts/test.sh runs
#
# Every group that runs a Tether build includes build, so no script can need less than the build.
set -euo pipefail

group() {
    case "$1" in
        build) echo pkg-config libiscsi-dev librbd-dev librados-dev libudev-dev libvirt-dev libsqlite3-dev ;;
        tgt) echo tgt libiscsi-bin iproute2 procps util-linux ;;
        qemu-io) echo qemu-utils qemu-block-extra ;;
        demo) group build; group tgt; group qemu-io; echo python3 ;;
        ceph) group build; echo ceph-mon ceph-osd ceph-common uuid-runtime iproute2 procps ;;
        libvirt) group build; group qemu-io
            echo libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients libxml2-utils qemu-system-x86 binutils ;;
        cinder) group build; group ceph
            echo cinder-api cinder-scheduler cinder-volume python3-cinderclient python3-os-brick \
                rabbitmq-server postgresql-15 python3-psycopg2 python3-rbd python3-rados curl keystone ;;
        guest) group build; group ceph
            echo qemu-system-x86 busybox-static open-iscsi multipath-tools kpartx dmsetup sg3-utils \
                sg3-utils-udev udev kmod cpio zstd xz-utils iproute2 util-linux coreutils ;;
        package) echo binutils gzip dpkg ;;
        fresh) echo debootstrap zstd util-linux git ;;
        deb) echo debootstrap zstd systemd-container ;;
        api) group build; group tgt; echo socat python3 python3-venv ;;
        metrics) echo prometheus ;;
        tls) echo openssl ;;
        toml) echo python3 python3-tomli-w ;;
        test) group demo; group ceph; group libvirt; group cinder; group guest; group api; group metrics
            group tls; group toml; group package; group deb ;;
        *) echo "packages: unknown group '$1' (build demo tgt qemu-io ceph libvirt cinder guest package fresh deb api metrics tls toml test)" >&2
           return 64 ;;
    esac
}

list() {
    local g
    for g in "$@"; do group "$g"; done | tr ' ' '\n' | sed '/^$/d' | sort -u
}

install() {
    local missing=() p
    # The list is computed first: an unknown group fails before apt runs.
    local wanted
    wanted=$(list "$@")
    for p in $wanted; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "packages: installing ${missing[*]}" >&2
    # Another apt may hold the lock (unattended upgrades, a parallel job): wait for it.
    for _ in $(seq 1 120); do
        fuser /var/lib/dpkg/lock-frontend >/dev/null 2>&1 || break
        sleep 1
    done
    apt-get update -qq
    # keystone's postinst would make a database of its own (dbconfig-common); the Cinder lab makes its own.
    if printf '%s\n' "${missing[@]}" | grep -qx keystone; then
        echo "keystone keystone/dbconfig-install boolean false" | debconf-set-selections
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Package.swift's `providers: [.apt([...])]` are what SwiftPM suggests when a library is missing;
# they must all be in the build group, or a fresh machine finds out at compile time.
check() {
    local root wanted p bad=0
    root=$(cd "$(dirname "$0")/.." && pwd)
    wanted=$(list build)
    for p in $(grep -o '\.apt(\[[^]]*\])' "$root/Package.swift" | grep -o '"[^"]*"' | tr -d '"'); do
        if ! grep -qx "$p" <<<"$wanted"; then
            echo "packages: Package.swift names $p, which the build group of scripts/packages.sh lacks" >&2
            bad=1
        fi
    done
    return "$bad"
}

case "${1:-}" in
    list) shift; list "$@" ;;
    install) shift; install "$@" ;;
    check) check ;;
    *) echo "usage: scripts/packages.sh list GROUP... | install GROUP... | check" >&2; exit 64 ;;
esac
