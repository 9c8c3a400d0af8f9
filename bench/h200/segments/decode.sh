#!/bin/bash
# The decode segment on the GPU machine (issue 14): bench/wgsl-decode-shapes.ts on the SmolLM2-135M and Llama-3.2-1B
# shapes in f16, int4, f32 and int8 (random weights): ms/token and tokens/s of GPU greedy decode against
# step-by-step in interleaved rounds, dispatches and passes per token, host encode time, the floor and the ratio to
# it; then f16 weights (packed pairs, no shader-f16 needed) on the golden checkpoints and sieve-tiny against
# transformers' logits and against f32 (max |d|, perplexity, argmax); then the int/f16/f32 matvecs at 14336x4096,
# 128256x2048 and the gated 8192x2048 against the measured WGSL read bandwidth. With timestamp-query, each model row
# also says where a step's GPU time goes: the step as one pass, and every kernel in a timed pass of its own, per
# kind (embed, qkv, attention, o, gate up, down, lm_head, argmax; us per step, count x us each).
# Results: $RES/wgsl-decode-shapes.json (rewritten after every row), $RES/summary.txt (one line per row).
set -u
T0=$(date +%s)
if [ "${SIEVE_H200_DRY:-0}" = 1 ]; then
  ARGS=(smoke f32,f16,int8,int4)
else
  ARGS=("" f16,int4,f32,int8)
fi
# The bench checks its budget before each row (a row takes 2-6 s); timeout is the backstop.
timeout -k 3 $((BUDGET_S - 3)) taskset -c "$CPUS" "$NODE" "$KIT/node-bench/wgsl-decode-shapes.mjs" "${ARGS[@]}" \
  "$RES/wgsl-decode-shapes.json" $((BUDGET_S - 10))
rc=$?
echo "wgsl-decode-shapes rc $rc after $(( $(date +%s) - T0 )) s" > "$RES/summary.txt"
[ -f "$RES/wgsl-decode-shapes.json" ] && "$NODE" -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const y = r.yardstick;
  if (y) console.log(`read ${y.readGBperS} GB/s, copy ${y.copyGBperS} GB/s, empty dispatch ${(y.emptyDispatchMs * 1000).toFixed(1)} us; shader-f16 ${r.shaderF16}`);
  for (const m of r.models) console.log(`${m.model} ${m.format}: ${m.msPerTokenGpuGreedy} ms/token (${m.tokensPerSGpuGreedy} tok/s, spread ${m.greedySpread}), sync ${m.msPerTokenSync}; ${m.dispatchesPerToken} dispatches / ${m.passesPerToken} passes, host ${m.hostEncodeMsPerToken} ms (${m.hostEncodeUsPerDispatch} us/dispatch); floor ${m.floorMs} ms, ${m.overFloor}x`);
  for (const m of r.models) if (m.gpu) console.log(`  GPU ${m.model} ${m.format}: step in one pass ${m.gpu.stepOnePassUs} us, kernels in own passes ${m.gpu.kernelPassesSumUs} us: ${Object.entries(m.gpu.kernels).map(([k, e]) => `${k} ${e.usPerStep} (${e.perStep}x${e.usEach})`).join(", ")}`);
  for (const m of r.matvec) console.log(`matvec ${m.matvec} ${m.format} ${m.mode}: ${m.us} us, ${m.GBperS} GB/s (${m.ofReadBandwidth} of read)`);
  for (const g of r.f16Golden) console.log(`f16 ${g.golden}: vs transformers ${g.f16VsTransformers} (f32 ${g.f32VsTransformers}), vs f32 ${g.f16VsF32}, within ${g.bound}: ${g.withinBound}; ppl f16 ${g.f16.perplexity} f32 ${g.f32.perplexity} transformers ${g.transformers?.perplexity}, argmax = ${g.argmaxAgainst} f16 ${g.f16.argmaxAgreement} f32 ${g.f32.argmaxAgreement}`);
  for (const e of r.errors) console.log(`error: ${e.slice(0, 200)}`);
' "$RES/wgsl-decode-shapes.json" >> "$RES/summary.txt"
cat "$RES/summary.txt"
exit $rc
