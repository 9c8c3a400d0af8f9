#!/bin/bash
# The matvec sweep segment (issue 14 item 5), 200 s (90 s would cut the Qwen cases and the decode rows):
# bench/matvec-sweep.ts times every candidate matvec shape (engine/decode/variants.ts MATVEC_CANDIDATES) x case (14336x4096, 128256x2048 and the 1B / 135M decode matvecs) x
# format (int4, int8, f16, f32) with GPU timestamps against read-bandwidth.wgsl in the same run, checks each against
# the CPU reference on sampled rows, picks one per format, then times 1B and 135M GPU-greedy decode steps with
# the engine's GPU variant, the 2026-12-03 shape where it differs, and the pick; between them, the prefill GEMM's register
# tiles (engine/prefill GEMM_TILE_CANDIDATES) on the 1B and 135M products in int4, f16, f32 (TFLOPS, checked).
# Results: $RES/matvec-sweep.json (rewritten after every group), $RES/summary.txt (the table, the per-format picks,
# and the per-case picks as entries for engine/decode/variants.ts GPU_VARIANT.matvecPicks, with a decode row that
# runs the engine with them).
set -u
T0=$(date +%s)
# Today's variant, run 1's picks and winners (bench/results/h200-2026-12-04-run1/matvec) and the staged-input
# candidates (run 2's list; run 2 did not reach this segment), and the narrow lane slices (-w1, -w2:
# engine/decode/variants.ts says why); then the GEMM tiles and the decode steps.
CANDIDATES=128x32x4-subgroup-exponent,128x8x8-subgroup-exponent,256x16x8-subgroup-exponent,256x32x2-subgroup,256x16x4-subgroup
CANDIDATES=$CANDIDATES,256x32x4-subgroup-staged-exponent,128x32x4-subgroup-staged-exponent,256x32x8-subgroup-staged-exponent
CANDIDATES=$CANDIDATES,256x16x8-subgroup-staged-exponent,256x32x2-subgroup-staged-exponent,256x32x4-tree-staged-convert
CANDIDATES=$CANDIDATES,256x32x4-subgroup-w1-exponent,256x32x8-subgroup-w1-exponent,128x32x8-subgroup-w1-exponent
CANDIDATES=$CANDIDATES,256x32x4-subgroup-w2-exponent,256x32x8-subgroup-w2-exponent,256x16x8-subgroup-w2-exponent
CANDIDATES=$CANDIDATES,256x32x8-subgroup-staged-w1-exponent,256x32x8-subgroup-staged-w2-exponent
ARGS=(--candidates "$CANDIDATES"); [ "${SIEVE_H200_DRY:-0}" = 1 ] && ARGS=(smoke)
# The bench checks its budget before each group and decode row; timeout is the backstop.
(cd "$KIT/node-bench" && timeout -k 3 $((BUDGET_S - 3)) taskset -c "$CPUS" "$NODE" matvec-sweep.mjs "${ARGS[@]}" \
  --out "$RES/matvec-sweep.json" --summary "$RES/summary.txt" --budget-s $((BUDGET_S - 12))) 2>&1 | grep -v '^{"case' | tail -n 60 | cut -c1-400
rc=${PIPESTATUS[0]}
echo "matvec-sweep rc $rc after $(( $(date +%s) - T0 )) s" >> "$RES/summary.txt"
cat "$RES/summary.txt"
exit $rc
