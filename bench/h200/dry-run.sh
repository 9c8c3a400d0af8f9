#!/bin/bash
# The H200 runner on this machine: `bash bench/h200/dry-run.sh [segment...] [--total S] [--no-build]`.
# Builds the carry (make-carry.mjs; node's xz is cached in /tmp/sieve-h200-cache), then runs bench/h200/run.sh from
# it with SIEVE_H200_DRY=1: SwiftShader through Dawn, segments on tiny shapes (they read SIEVE_H200_DRY), the same
# budgets as on the device, all cores. Only the named segments run (all when none is named). At the end it lists
# what results.tar.xz holds; the files are in /tmp/h200-dry/out and unpacked in /tmp/h200-dry/results.
set -u
cd "$(dirname "$0")/../.."
SEGS=(); TOTAL=900; BUILD=1
while [ $# -gt 0 ]; do
  case $1 in --total) TOTAL=$2; shift;; --no-build) BUILD=0;; *) SEGS+=("$1");; esac; shift
done
D=${SIEVE_H200_DRY_DIR:-/tmp/h200-dry-$(basename "$(pwd)")}
if [ $BUILD = 1 ] || [ ! -d .carry/h200 ]; then node bench/h200/make-carry.mjs || { echo "make-carry failed"; exit 1; }; fi
rm -rf "$D"; mkdir -p "$D/out" "$D/results"
HEAVY=; command -v sieve-heavy >/dev/null && HEAVY=sieve-heavy
OUT=$D/out SIEVE_H200_DRY=1 SIEVE_H200_BASE=$D/base SIEVE_H200_SEGMENTS="${SEGS[*]}" $HEAVY bash bench/h200/run.sh "$TOTAL"
rc=$?
tar -C "$D/results" -xJf "$D/out/results.tar.xz" && (cd "$D/results" && find . -type f | sort | xargs ls -la | awk '{print $5, $9}')
echo "dry run rc $rc; files in $D/out (results unpacked in $D/results)"
ls -la "$D/out"
exit $rc
