#!/bin/bash
# Cold load with quantization on the GPU (issue 17's q4 load cell): bench/streaming-load.ts on the Llama-3.2-1B shape
# (random weights, a 2.5 GB f16 safetensors file written to $WORK first), the engine's streaming path, int4 then f16
# then int8, one load each: loadMs (the whole load: weights, kernels, KV pool), weightsMs (until the weights are on
# the GPU and accepted: parse, quantize, upload) and the JS / RSS peaks above the pre-load baseline. Before the GPU
# quantizer, the yardstick's Llama-3.2-1B q4 cold load was 24.7 s against f16's 4.4 s (run 2 of 2026-12-04).
# Results: $RES/streaming-load-<format>.json, their log, $RES/summary.txt.
set -u
if [ "${SIEVE_H200_DRY:-0}" = 1 ]; then SHAPE=small; else SHAPE=llama1b; fi
T0=$(date +%s)
: > "$RES/summary.txt"
for q in int4 f16 int8; do
  left=$((BUDGET_S - ($(date +%s) - T0) - 3))
  [ "$left" -lt 10 ] && { echo "$q: no time left ($left s)" >> "$RES/summary.txt"; continue; }
  (cd "$KIT/node-bench" && timeout -k 2 "$left" taskset -c "$CPUS" "$NODE" --expose-gc --max-old-space-size=8192 streaming-load.mjs \
    --shape $SHAPE --scratch "$WORK" --quantization $q --paths streaming --tokens 2 --out "$RES/streaming-load-$q.json") >> "$RES/streaming-load.log" 2>&1
  echo "$q: rc $? at $(( $(date +%s) - T0 )) s" >> "$RES/summary.txt"
  [ -f "$RES/streaming-load-$q.json" ] && "$NODE" -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    for (const x of r.rows) console.log(`${r.quantization} (quantized on the ${x.quantizeOn ?? "-"}): load ${(x.loadMs / 1000).toFixed(2)} s, weights ${(x.weightsMs / 1000).toFixed(2)} s, ${(x.weightBytes / 2 ** 20).toFixed(0)} MiB of weights, JS peak +${x.peakAboveBaseline.jsMiB.toFixed(0)} MiB, RSS peak +${x.peakAboveBaseline.rssMiB.toFixed(0)} MiB, ${x.generated} tokens`);
  ' "$RES/streaming-load-$q.json" >> "$RES/summary.txt" 2>&1
done
tail -n 3 "$RES/streaming-load.log" >> "$RES/summary.txt"
cat "$RES/summary.txt"
true
