#!/bin/bash
# The matvec sweep segment (issue 14 item 5), at most 90 s: bench/matvec-sweep.ts times every candidate matvec shape
# (engine/decode/variants.ts MATVEC_CANDIDATES) x case (14336x4096, 128256x2048 and the 1B / 135M decode matvecs) x
# format (int4, int8, f16, f32) with GPU timestamps against read-bandwidth.wgsl in the same run, checks each against
# the CPU reference on sampled rows, picks one per format, then times 1B and 135M GPU-greedy decode steps with
# the engine's GPU variant, the 2026-12-03 shape where it differs, and the pick; between them, the prefill GEMM's register
# tiles (engine/prefill GEMM_TILE_CANDIDATES) on the 1B and 135M products in int4, f16, f32 (TFLOPS, checked).
# Results: $RES/matvec-sweep.json (rewritten after every group), $RES/summary.txt (the table).
set -u
T0=$(date +%s)
# Run 2 of 2026-12-04: today's variant, run 1's winners (bench/results/h200-2026-12-04-run1/matvec) and the
# staged-input candidates, then the GEMM tiles and the decode steps.
CANDIDATES=128x32x4-subgroup-exponent,128x8x8-subgroup-exponent,256x16x8-subgroup-exponent,256x32x2-subgroup,256x16x4-subgroup
CANDIDATES=$CANDIDATES,256x32x4-subgroup-staged-exponent,128x32x4-subgroup-staged-exponent,256x32x8-subgroup-staged-exponent
CANDIDATES=$CANDIDATES,256x16x8-subgroup-staged-exponent,256x32x2-subgroup-staged-exponent,256x32x4-tree-staged-convert
ARGS=(--candidates "$CANDIDATES"); [ "${SIEVE_H200_DRY:-0}" = 1 ] && ARGS=(smoke)
# The bench checks its budget before each group and decode row; timeout is the backstop.
(cd "$KIT/node-bench" && timeout -k 3 $((BUDGET_S - 3)) taskset -c "$CPUS" "$NODE" matvec-sweep.mjs "${ARGS[@]}" \
  --out "$RES/matvec-sweep.json" --summary "$RES/summary.txt" --budget-s $((BUDGET_S - 12))) 2>&1 | grep -v '^{"case' | tail -n 60 | cut -c1-400
rc=${PIPESTATUS[0]}
echo "matvec-sweep rc $rc after $(( $(date +%s) - T0 )) s" >> "$RES/summary.txt"
cat "$RES/summary.txt"
exit $rc
