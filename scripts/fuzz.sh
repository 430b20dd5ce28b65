#!/usr/bin/env bash
# Fuzzes Tether's input parsers with libFuzzer (Swift's -sanitize=fuzzer):
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# builds every fuzz target (or those named) in .build-fuzz, then runs each for SECONDS (default
# 60) from its committed corpus in Fuzz/Corpus/<target>/. Targets:
#
#   connection-info   connection_info in its three shapes (nested, flat, wrapped), iSCSI and RBD
#                     data, Ceph cluster resolution
#   connector         os-brick connector properties
#   config            tether.toml (with [cinder]) and clusters.d/<name>.toml, the TOML reader
#   request           the agent's router and services in process (fake peers): any request line
#                     and body; a 500 counts as a crash
#
# TETHER_FUZZ_SEED=N and TETHER_FUZZ_RUNS=N make a run reproducible: libFuzzer's random seed and
# a number of inputs instead of SECONDS, so the same inputs are tried on any machine at any load
# (scripts/test.sh runs that way: CI must not fail on a crash that another run would not meet;
# open-ended fuzzing is for `scripts/fuzz.sh SECONDS` by hand).
#
# Any crash fails the script and leaves the input in the printed path; reproduce it with the
# printed command, or in a normal build with `swift run FuzzRequest FILE` (the targets replay
# files when built without the fuzzer). New inputs libFuzzer finds go to .build-fuzz/corpus/,
# not to the committed corpus; copy the useful ones into Fuzz/Corpus/ by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=/opt/swift/usr/bin/swift
SCRATCH=.build-fuzz

seconds=${1:-60}
shift || true
all=(connection-info connector config request)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

product() {
    case "$1" in
        connection-info) echo FuzzConnectionInfo ;;
        connector) echo FuzzConnector ;;
        config) echo FuzzConfig ;;
        request) echo FuzzRequest ;;
        *) echo "fuzz: unknown target '$1' (${all[*]})" >&2; exit 64 ;;
    esac
}

# Debug: FuzzRequest reaches the agent's internal routes through -enable-testing.
flags=(-c debug --scratch-path "$SCRATCH" -Xswiftc -sanitize=fuzzer -Xswiftc -DTETHER_FUZZ)
started=$(date +%s)
for target in "${targets[@]}"; do
    "$SWIFT" build "${flags[@]}" --product "$(product "$target")"
done
echo "fuzz: build took $(( $(date +%s) - started )) s"
bin=$("$SWIFT" build "${flags[@]}" --show-bin-path)

failed=()
for target in "${targets[@]}"; do
    corpus=Fuzz/Corpus/$target
    found=$SCRATCH/corpus/$target
    artifacts=$SCRATCH/artifacts/$target
    log=$SCRATCH/logs/$target.log
    rm -rf "$artifacts"
    mkdir -p "$found" "$artifacts" "$(dirname "$log")"
    [ -d "$corpus" ] || { echo "fuzz: no corpus $corpus" >&2; exit 1; }
    budget=(-max_total_time="$seconds")
    [ -n "${TETHER_FUZZ_RUNS:-}" ] && budget=(-runs="$TETHER_FUZZ_RUNS")
    [ -n "${TETHER_FUZZ_SEED:-}" ] && budget+=(-seed="$TETHER_FUZZ_SEED")
    echo "fuzz: $target ${budget[*]}"
    # Swift's own backtracer would catch the trap first and exit without libFuzzer saving the
    # input; libFuzzer's handler writes it to $artifacts. New inputs go to the first corpus dir.
    if SWIFT_BACKTRACE=enable=no "$bin/$(product "$target")" \
        "${budget[@]}" -timeout=20 -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "$found" "$corpus" >"$log" 2>&1; then
        grep -E '^(stat::number_of_executed_units|stat::new_units_added)' "$log" | sed "s/^/fuzz: $target /" || true
    else
        failed+=("$target")
        echo "fuzz: $target FAILED; the end of $log:" >&2
        grep -v '^INFO:\|^#[0-9]' "$log" | tail -25 >&2
        for input in "$artifacts"/*; do
            [ -e "$input" ] || continue
            echo "fuzz: crashing input: $input" >&2
            echo "fuzz: reproduce: SWIFT_BACKTRACE=enable=no $bin/$(product "$target") $input" >&2
        done
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: crashes in: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${budget[*]} each, no crash"
