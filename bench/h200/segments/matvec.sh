#!/bin/bash
# The matvec sweep segment (issue 14 item 5), at most 90 s: bench/matvec-sweep.ts times every candidate matvec shape
# (engine/decode/variants.ts MATVEC_CANDIDATES) x case (14336x4096, 128256x2048 and the 1B / 135M decode matvecs) x
# format (int4, int8, f16, f32) with GPU timestamps against read-bandwidth.wgsl in the same run, checks each against
# the CPU reference on sampled rows, picks one per format, then times 1B and 135M GPU-greedy decode steps with
# today's variant, the pick, and the pick without the 264-workgroup rule.
# Results: $RES/matvec-sweep.json (rewritten after every group), $RES/summary.txt (the table).
set -u
T0=$(date +%s)
ARGS=(); [ "${SIEVE_H200_DRY:-0}" = 1 ] && ARGS=(smoke)
# The bench checks its budget before each group and decode row; timeout is the backstop.
(cd "$KIT/node-bench" && timeout -k 3 $((BUDGET_S - 3)) taskset -c "$CPUS" "$NODE" matvec-sweep.mjs "${ARGS[@]}" \
  --out "$RES/matvec-sweep.json" --summary "$RES/summary.txt" --budget-s $((BUDGET_S - 12))) 2>&1 | grep -v '^{"case' | tail -n 60 | cut -c1-400
rc=${PIPESTATUS[0]}
echo "matvec-sweep rc $rc after $(( $(date +%s) - T0 )) s" >> "$RES/summary.txt"
cat "$RES/summary.txt"
exit $rc
