# Sourced by scripts/guest-lab.sh (needs its ROOT, GUEST, NET, log, die, build, net_up, net_down,
# python_has_osbrick): `selftest`, `ci` and `bench`, each scenario a `run` of its own.

# --- selftest ---------------------------------------------------------------------------------

# start_clusters WORK: the bridge and two lab Ceph clusters, WORK/ceph-a and WORK/ceph-b, whose mons
# advertise the bridge's address, started side by side; prints a failed start's log.
start_clusters() {
    local work=$1 start=$SECONDS a b rc=0
    net_up
    CEPH_LAB_ADDR=${NET%/*} "$ROOT/scripts/ceph-lab.sh" start "$work/ceph-a" ceph-a 21000 >"$work/a.log" 2>&1 &
    a=$!
    CEPH_LAB_ADDR=${NET%/*} "$ROOT/scripts/ceph-lab.sh" start "$work/ceph-b" ceph-b 21200 >"$work/b.log" 2>&1 &
    b=$!
    wait $a || { cat "$work/a.log"; rc=1; }
    wait $b || { cat "$work/b.log"; rc=1; }
    log "two Ceph clusters up in $((SECONDS - start)) s"
    return $rc
}

selftest() {
    local extra=()
    case ${1:-} in
        --tether) extra=(--tether "$(cd "${2:?--tether BINDIR}" && pwd)") ;;
        "") ;;
        *) die "selftest: unknown argument $1" 64 ;;
    esac
    build "${extra[@]}" >/dev/null
    exec unshare -n "$0" selftest-in-netns "${extra[@]}"
}

selftest_in_netns() {
    ip link set lo up
    local passed=0 failed=0 work s start tether=("$@")
    work=$(mktemp -d "${TMPDIR:-/tmp}/tether-guest-selftest.XXXXXX")
    SELFTEST_DIR=$work
    trap selftest_cleanup EXIT
    one() {
        start=$SECONDS
        if "$0" run "$@" ${tether[@]+"${tether[@]}"}; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
        log "$1: $((SECONDS - start)) s"
    }
    # disk-shell: the persistent disk over two boots (`run --disk`, `--boots`).
    for s in smoke iscsi-shell disk-shell; do one "$s"; done
    if command -v ceph-mon >/dev/null; then
        if start_clusters "$work"; then
            one krbd-shell --ceph "$work/ceph-a" --ceph "$work/ceph-b"
        else
            log "krbd-shell: the Ceph clusters did not start"
            failed=$((failed + 1))
        fi
    else
        log "krbd-shell skipped: no ceph-mon (scripts/guest-lab.sh install)"
    fi
    echo "guest-lab: $passed passed, $failed failed"
    [ $failed = 0 ]
}

# --- ci ---------------------------------------------------------------------------------------

# Builds Tether (release, static Swift stdlib, scratch path $TETHER_GUEST_BUILD, default
# .build-guest), then runs every scenario in its own network namespace: one line per scenario.
ci() {
    [ $# = 0 ] || die "ci: no arguments" 64
    local scratch=${TETHER_GUEST_BUILD:-.build-guest} swift=${SWIFT:-/opt/swift/usr/bin/swift} p bindir start=$SECONDS
    # TETHER_GUEST_BINDIR: binaries built already (CI's debug build): no second build.
    if [ -n "${TETHER_GUEST_BINDIR:-}" ]; then
        bindir=$(cd "$TETHER_GUEST_BINDIR" && pwd)
        build --tether "$bindir" >/dev/null
        exec unshare -n "$0" ci-in-netns --tether "$bindir"
    fi
    for p in tetherd tether; do
        (cd "$ROOT" && "$swift" build -c release --static-swift-stdlib --scratch-path "$scratch" --product "$p") >&2 ||
            die "ci: building $p failed"
    done
    bindir=$(cd "$ROOT" && "$swift" build -c release --static-swift-stdlib --scratch-path "$scratch" --show-bin-path)
    log "built tetherd and tether in $((SECONDS - start)) s: $bindir"
    build --tether "$bindir" >/dev/null
    exec unshare -n "$0" ci-in-netns --tether "$bindir"
}

# Every scenario runs; TETHER_GUEST_SKIP="name ..." leaves some out by hand (never in CI).
ci_wanted() {
    case " ${TETHER_GUEST_SKIP:-} " in
        *" $1 "*) return 1 ;;
        *) return 0 ;;
    esac
}

ci_in_netns() {
    ip link set lo up
    local passed=0 failed=0 work s ceph_scenarios=(krbd-shell)
    CI_TETHER=("$@")
    work=$(mktemp -d "${TMPDIR:-/tmp}/tether-guest-ci.XXXXXX")
    SELFTEST_DIR=$work
    trap selftest_cleanup EXIT
    for s in smoke iscsi-shell; do ci_one "$work" "$s" || failed=$((failed + 1)); done
    # tether-* and cinder-*: the others are run by hand (bench, profile, shells).
    for s in "$GUEST"/scenarios/tether-*.sh "$GUEST"/scenarios/cinder-*.sh; do
        s=$(basename "$s" .sh)
        ci_wanted "$s" || { log "$s skipped (TETHER_GUEST_SKIP)"; continue; }
        if grep -q ceph_clusters "$GUEST/scenarios/$s.sh" ||
            { [ -f "$GUEST/scenarios/$s.host" ] && grep -q GUEST_CEPH_DIRS "$GUEST/scenarios/$s.host"; }; then
            ceph_scenarios+=("$s")
            continue
        fi
        ci_one "$work" "$s" || failed=$((failed + 1))
    done
    if ! command -v ceph-mon >/dev/null; then
        for s in "${ceph_scenarios[@]}"; do echo "guest-lab: $s FAILED: no ceph-mon (scripts/guest-lab.sh install)"; done
        failed=$((failed + ${#ceph_scenarios[@]}))
    elif ! start_clusters "$work"; then
        for s in "${ceph_scenarios[@]}"; do echo "guest-lab: $s FAILED: the Ceph clusters did not start"; done
        failed=$((failed + ${#ceph_scenarios[@]}))
    else
        for s in "${ceph_scenarios[@]}"; do
            ci_one "$work" "$s" --ceph "$work/ceph-a" --ceph "$work/ceph-b" || failed=$((failed + 1))
        done
    fi
    passed=$(grep -c . "$work/passed" 2>/dev/null || true)
    echo "guest-lab: ${passed:-0} passed, $failed failed"
    [ $failed = 0 ]
}

# ci_one WORK SCENARIO [run arguments]: runs it with its output in WORK, one line (the output on
# failure); names a passed scenario in WORK/passed.
ci_one() {
    local work=$1 name=$2 start=$SECONDS rc=0 ok bad
    shift
    "$0" run "$@" ${CI_TETHER[@]+"${CI_TETHER[@]}"} --timeout "${TETHER_GUEST_TIMEOUT:-420}" >"$work/$name.out" 2>&1 || rc=$?
    ok=$(grep -c '^TETHER-RESULT ok' "$work/$name.out" || true)
    bad=$(grep -c '^TETHER-RESULT fail' "$work/$name.out" || true)
    if [ -n "${TETHER_GUEST_LOGS:-}" ]; then mkdir -p "$TETHER_GUEST_LOGS"; cp "$work/$name.out" "$TETHER_GUEST_LOGS/$name.out"; fi
    [ "${CI_SHOW:-0}" = 0 ] || [ $rc != 0 ] || sed 's/^/    /' "$work/$name.out"
    if [ $rc = 0 ]; then
        echo "$name" >>"$work/passed"
        echo "guest-lab: $name passed in $((SECONDS - start)) s ($ok ok, $bad failed)"
        return 0
    fi
    echo "guest-lab: $name FAILED (rc $rc) in $((SECONDS - start)) s ($ok ok, $bad failed)"
    sed 's/^/    /' "$work/$name.out"
    return 1
}

# `lab SCENARIO... [-- RUN ARGUMENTS]`: the named scenarios as ci runs its Ceph ones (a network
# namespace of their own, the bridge, two Ceph clusters on it, `run SCENARIO --ceph A --ceph B
# RUN ARGUMENTS`), each one's whole output printed; e.g. `lab tether-reboot -- --tether BINDIR`.
lab() {
    exec unshare -n "$0" lab-in-netns "$@"
}

lab_in_netns() {
    ip link set lo up
    local work s scenarios=() failed=0
    while [ $# -gt 0 ]; do
        case $1 in --) shift; break ;; *) scenarios+=("$1"); shift ;; esac
    done
    [ ${#scenarios[@]} -gt 0 ] || die "usage: guest-lab.sh lab SCENARIO... [-- RUN ARGUMENTS]" 64
    CI_TETHER=("$@") CI_SHOW=1
    work=$(mktemp -d "${TMPDIR:-/tmp}/tether-guest-lab.XXXXXX")
    SELFTEST_DIR=$work
    trap selftest_cleanup EXIT
    start_clusters "$work" || die "the Ceph clusters did not start"
    for s in "${scenarios[@]}"; do
        ci_one "$work" "$s" --ceph "$work/ceph-a" --ceph "$work/ceph-b" || failed=$((failed + 1))
    done
    echo "guest-lab: $(grep -c . "$work/passed" 2>/dev/null || echo 0) passed, $failed failed"
    [ $failed = 0 ]
}

selftest_cleanup() {
    "$ROOT/scripts/ceph-lab.sh" stop "$SELFTEST_DIR/ceph-a" 2>/dev/null || true
    "$ROOT/scripts/ceph-lab.sh" stop "$SELFTEST_DIR/ceph-b" 2>/dev/null || true
    net_down
    rm -rf "$SELFTEST_DIR"
}

# --- bench ------------------------------------------------------------------------------------

# `scripts/guest-lab.sh bench [RUNS]`: the kernel path's attach/detach latency, one table from one
# guest run of scenario bench-kernel (RUNS attach+detach cycles each, default 20): iSCSI over one
# path (Tether, the same steps by hand with iscsiadm, os-brick's ISCSIConnector), over two paths
# with multipath (Tether, os-brick), and krbd (Tether, the bare sysfs write, `rbd map`, os-brick's
# RBDConnector) against a Ceph lab cluster on the bridge, in a network namespace of its own. The
# os-brick columns and `rbd map` need python3-os-brick on the host (`run --python` packs it with
# the rbd CLI); the krbd rows need ceph-mon. Binaries from $TETHER_GUEST_BINDIR (default
# .build/debug). Ends with `target NAME: RATIO (goal G) met|missed` lines; the whole output if the
# run failed. Not run by `ci`. (Documented here, not in the usage comment at the top: that is
# part of the base's cache key.)
bench() {
    local runs=${1:-20} bindir=${TETHER_GUEST_BINDIR:-.build/debug}
    [ $# -le 1 ] && [ "$runs" -gt 0 ] 2>/dev/null || die "usage: guest-lab.sh bench [RUNS]" 64
    bindir=$(cd "$ROOT" && cd "$bindir" && pwd) || die "bench: no $bindir"
    build --tether "$bindir" >/dev/null
    exec unshare -n "$0" bench-in-netns "$runs" "$bindir"
}

bench_in_netns() {
    local runs=$1 bindir=$2 out rc=0 python=() ceph=() work
    ip link set lo up
    if python_has_osbrick; then
        python=(--python)
    else
        log "bench: no python3-os-brick on this host: no os-brick or rbd map columns"
    fi
    work=$(mktemp -d "${TMPDIR:-/tmp}/tether-guest-bench.XXXXXX")
    SELFTEST_DIR=$work
    trap selftest_cleanup EXIT
    if ! command -v ceph-mon >/dev/null; then
        log "bench: no ceph-mon (scripts/guest-lab.sh install): no krbd rows"
    elif net_up && CEPH_LAB_ADDR=${NET%/*} "$ROOT/scripts/ceph-lab.sh" start "$work/ceph-a" ceph-a 21000 >"$work/a.log" 2>&1; then
        ceph=(--ceph "$work/ceph-a")
    else
        cat "$work/a.log"; log "bench: the Ceph cluster did not start: no krbd rows"
    fi
    out=$work/bench.out
    "$0" run bench-kernel --append "tether.runs=$runs" --tether "$bindir" ${python[@]+"${python[@]}"} ${ceph[@]+"${ceph[@]}"} \
        --timeout "${TETHER_GUEST_TIMEOUT:-$((600 + runs * 150))}" >"$out" 2>&1 || rc=$?
    if [ $rc != 0 ]; then cat "$out"; log "bench: run failed (rc $rc)"; fi
    bench_table "$runs" <"$out"
    return $rc
}

# bench_table RUNS: the scenario's `TETHER-BENCH ROW WHO median X p99 Y n N` lines on stdin as one
# table (median / p99 in ms per cell), then a line per target. Tether's cells are tetherd's own
# time (its log's `elapsed`), like os-brick's in-process calls; "CLI" adds the tether process.
bench_table() {
    awk -v runs="$1" '
        $1 == "TETHER-BENCH" && $4 == "median" { med[$2, $3] = $5; p99[$2, $3] = $7; n[$2, $3] = $9 }
        function cell(row, who) { return ((row, who) in med) ? sprintf("%s / %s", med[row, who], p99[row, who]) : "-" }
        function ratio(a, b) { return (b > 0) ? a / b : -1 }
        function target(name, r, goal) {
            if (r < 0) { printf "target %s: no figures (goal %s) missed\n", name, goal; return }
            printf "target %s: %.2f (goal %s) %s\n", name, r, goal, (r <= goal) ? "met" : "missed"
        }
        END {
            printf "kernel path in the guest (QEMU TCG), %d cycles per row; median / p99 in ms\n", runs
            printf "%-26s %-13s %-13s %-15s %-13s %-13s\n", "work", "Tether", "Tether CLI", "bare (by hand)", "rbd map", "os-brick"
            split("iscsi-attach iscsi-detach multipath-attach multipath-detach krbd-map krbd-unmap", rows, " ")
            label["iscsi-attach"] = "iSCSI attach, 1 path"; label["iscsi-detach"] = "iSCSI detach, 1 path"
            label["multipath-attach"] = "multipath attach, 2 paths"; label["multipath-detach"] = "multipath detach, 2 paths"
            label["krbd-map"] = "krbd map"; label["krbd-unmap"] = "krbd unmap"
            for (i = 1; i <= 6; i++) {
                r = rows[i]
                printf "%-26s %-13s %-13s %-15s %-13s %-13s\n", label[r], cell(r, "tetherd"), cell(r, "tether-cli"), cell(r, "bare"), cell(r, "rbd-cli"), cell(r, "os-brick")
            }
            print "bare: iSCSI = iscsiadm in os-brick'"'"'s steps (record, 5 updates, login, targeted scan); krbd = the one sysfs add write"
            target("kernel-iscsi-attach-vs-iscsiadm", ratio(med["iscsi-attach", "tetherd"], med["iscsi-attach", "bare"]), 0.9)
            target("kernel-iscsi-attach-vs-os-brick", ratio(med["iscsi-attach", "tetherd"], med["iscsi-attach", "os-brick"]), 0.25)
            target("multipath-attach-vs-one-path", ratio(med["multipath-attach", "tetherd"], med["iscsi-attach", "tetherd"]), 1.3)
        }'
}
