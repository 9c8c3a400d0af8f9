#!/bin/bash
# Tokens chosen on the GPU (issue 14 items 3 and 7) on the H200: bench/node-sampler.ts on the Llama-3.2-1B shape in
# int4 (random codes written straight to the GPU): dense greedy vs sampled on the GPU (temperature + top-p + top-k +
# penalties) vs sampled step by step (logits read back, CPU sampler); quest and h2o at budget 256 encoded ahead vs
# waiting for each id; interleaved rounds, medians of 5 where the budget allows (the bench stops starting rounds in
# time and writes its JSON after every round). Results: $RES/node-sampler.json, its log, $RES/summary.txt.
set -u
if [ "${SIEVE_H200_DRY:-0}" = 1 ]; then
  ARGS="--shape tiny --rounds 2 --tokens 6 --context 48 --budget 16"
else
  ARGS="--shape 1b --rounds 5 --tokens 32 --context 1024 --budget 256"
fi
: > "$RES/summary.txt"
(cd "$KIT/node-bench" && timeout -k 2 $((BUDGET_S - 1)) taskset -c "$CPUS" "$NODE" node-sampler.mjs $ARGS \
  --budget-s $((BUDGET_S - 4)) --out "$RES/node-sampler.json") > "$RES/node-sampler.log" 2>&1
rc=$?
echo "node-sampler rc $rc" >> "$RES/summary.txt"
[ -f "$RES/node-sampler.json" ] && "$NODE" -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`${r.shape} ${r.quantization}, context ${r.context}, ${r.decodeTokens} tokens, rounds ${r.roundsDone}, ids equal ${JSON.stringify(r.idsEqual)}`);
  for (const x of r.rows) console.log(`${x.mode}: ${x.msPerToken} ms/token (spread ${x.msPerTokenSpread}), ${x.tokensPerS} tok/s, x${x.vsBaseline} vs ${x.baseline}, dispatches ${x.dispatchesPerToken} (policy ${x.policyDispatchesPerToken})`);
' "$RES/node-sampler.json" >> "$RES/summary.txt" 2>&1
tail -n 3 "$RES/node-sampler.log" >> "$RES/summary.txt"
cat "$RES/summary.txt"
true
