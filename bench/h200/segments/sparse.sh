#!/bin/bash
# The sparse-decode segment on the GPU machine (issue 14's KV targets): bench/sparse-decode.ts on the Llama-3.2-1B
# shape (random weights, f16 where the adapter has shader-f16, the paged cache filled with random K/V, no prefill):
# for f16 and f32 KV at 16K, 32K and 130,048 tokens, dense attention's KV bytes per second against the measured read
# bandwidth, Quest / TidalDecode / Double Sparsity at budget 2048 against dense (attention alone, and whole decode
# steps), interleaved rounds, medians and spreads; dense attention's kernel candidates (dense[serial]: the
# one-slot-per-thread split of the 2026-12-04 runs; dense[splits=64|1024]: the default 'lanes' split with that many
# splits per KV head at most) in the same rounds, and per (KV dtype, context) the fastest ("winner").
# Budget: 90 s (run 2 took 39 s without the candidates; they add 3 attention-only rows per context).
# Results: $RES/sparse-decode.json (rewritten after every context), $RES/summary.txt (one line per row).
set -u
T0=$(date +%s)
if [ "${SIEVE_H200_DRY:-0}" = 1 ]; then ARGS=(--smoke); else ARGS=(); fi
# The bench checks its budget before each context; timeout is the backstop.
timeout -k 3 $((BUDGET_S - 3)) taskset -c "$CPUS" "$NODE" "$KIT/node-bench/sparse-decode.mjs" "${ARGS[@]}" \
  --out "$RES/sparse-decode.json" --seconds $((BUDGET_S - 12))
rc=$?
echo "sparse-decode rc $rc after $(( $(date +%s) - T0 )) s" > "$RES/summary.txt"
[ -f "$RES/sparse-decode.json" ] && "$NODE" -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`read ${r.readGBperS} GB/s; weights ${r.weights}; shader-f16 ${r.shaderF16}; ${r.seconds} s`);
  for (const x of r.rows) {
    const step = x.stepMs === undefined ? "" : `, step ${x.stepMs} ms = ${x.tokensPerS} tok/s (host ${x.stepHostMs}, spread ${x.stepSpread})`;
    const head = `${x.kv} ${x.context} ${x.policy}: attention ${x.attentionMs} ms (host ${x.attentionHostMs}, spread ${x.attentionSpread})${step}`;
    const dense = x.policy.startsWith("dense");
    console.log(dense ? `${head}; KV ${x.kvGB} GB at ${x.kvGBperS} GB/s = ${x.ofReadBandwidth} of read${x.attentionRatioToDense === undefined ? "" : `; ${x.attentionRatioToDense}x dense`}` : `${head}; attention ${x.attentionRatioToDense}x dense (its ${r.model.numLayers - (x.denseLayers ?? 0)} selecting layers ${x.selectingLayersRatioToDense}x), step ${x.stepSpeedupOverDense}x faster`);
  }
  for (const w of r.denseWinners ?? []) console.log(`winner ${w.kv} ${w.context}: ${w.winner} (${w.attentionMs} ms) of ${w.candidates.join(", ")}`);
  for (const e of r.errors) console.log(`error: ${e.slice(0, 300)}`);
' "$RES/sparse-decode.json" >> "$RES/summary.txt"
cat "$RES/summary.txt"
exit $rc
