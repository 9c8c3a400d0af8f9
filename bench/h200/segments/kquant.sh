#!/bin/bash
# The K-quant segment on the GPU machine (issue 12): bench/wgsl-decode-shapes.ts on the Llama-3.2-1B shape (random
# weights) in int4 (the load option's blocks), int8 and q4km (llama-quantize's Q4_K_M mix as the GGUF loader stores
# it: int4/32 with f32 mins, int8/16 for the embedding and the Q6_K layers' v/down): ms/token of GPU greedy decode,
# in the same run; then the matvecs at 14336x4096, 128256x2048 and the gated 8192x2048 in int4, int4m (with mins,
# Q4_K), int8, int8m (Q5_K) and int8b16 (Q6_K) against the measured read bandwidth: what the min costs.
# Results: $RES/kquant.json (rewritten after every row), $RES/summary.txt (one line per row).
set -u
T0=$(date +%s)
if [ "${SIEVE_H200_DRY:-0}" = 1 ]; then
  ARGS=(smoke int4,q4km,int4m,int8b16)
else
  ARGS=(Llama-3.2-1B int4,q4km,int8,int4m,int8m,int8b16)
fi
# The bench checks its budget before each row (a model row takes 2-6 s, a matvec row under 1 s); timeout is the backstop.
timeout -k 3 $((BUDGET_S - 3)) taskset -c "$CPUS" "$NODE" "$KIT/node-bench/wgsl-decode-shapes.mjs" "${ARGS[@]}" \
  "$RES/kquant.json" $((BUDGET_S - 10))
rc=$?
echo "kquant (wgsl-decode-shapes) rc $rc after $(( $(date +%s) - T0 )) s" > "$RES/summary.txt"
[ -f "$RES/kquant.json" ] && "$NODE" -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const y = r.yardstick;
  if (y) console.log(`read ${y.readGBperS} GB/s, empty dispatch ${(y.emptyDispatchMs * 1000).toFixed(1)} us`);
  for (const m of r.models) console.log(`${m.model} ${m.format}: ${m.msPerTokenGpuGreedy} ms/token (${m.tokensPerSGpuGreedy} tok/s, spread ${m.greedySpread}); ${m.dispatchesPerToken} dispatches; floor ${m.floorMs} ms, ${m.overFloor}x`);
  for (const m of r.matvec) console.log(`matvec ${m.matvec} ${m.format} ${m.mode}: ${m.us} us, ${m.GBperS} GB/s (${m.ofReadBandwidth} of read)`);
  for (const e of r.errors) console.log(`error: ${e.slice(0, 200)}`);
' "$RES/kquant.json" >> "$RES/summary.txt"
cat "$RES/summary.txt"
exit $rc
