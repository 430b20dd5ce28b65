#!/usr/bin/env bash
# Proves that CI cannot go green without its lab peers: runs one small integration suite with
# tgtd hidden (TETHER_LAB_HIDE, read by Lab.find), once as a laptop would (the suite is skipped,
# the run passes) and once under CI=true (the suite fails, naming the missing peer). Nothing of
# the suite runs either way, so this takes only the test runner's start-up. Needs a build
# (swift build --build-tests).
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=/opt/swift/usr/bin/swift
SUITE=AgentDiscoveryTests
out=$(mktemp)
trap 'rm -f "$out"' EXIT

if ! env -u CI TETHER_LAB_HIDE=tgtd "$SWIFT" test --skip-build --filter "$SUITE" >"$out" 2>&1; then
    cat "$out"
    echo "lab-honesty: FAILED: with tgtd hidden and CI unset, $SUITE should be skipped and pass" >&2
    exit 1
fi
grep -q "skipped" "$out" || { cat "$out"; echo "lab-honesty: FAILED: $SUITE was not reported skipped" >&2; exit 1; }

if CI=true TETHER_LAB_HIDE=tgtd "$SWIFT" test --skip-build --filter "$SUITE" >"$out" 2>&1; then
    cat "$out"
    echo "lab-honesty: FAILED: with tgtd hidden under CI=true, $SUITE passed" >&2
    exit 1
fi
grep -q "peer tgtd missing under CI=true" "$out" || { cat "$out"; echo "lab-honesty: FAILED: the failure does not name the missing peer" >&2; exit 1; }
echo "lab-honesty: a hidden tgtd fails $SUITE under CI=true and skips it elsewhere"
