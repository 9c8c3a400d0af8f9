#!/bin/bash
# H200 segment of issue 18 (prefill), 60 s: bench/node-prefill (the engine's WGSL prefill; with split-K on and off at
# 8K, interleaved rounds). The run of 2026-12-03 also measured the ORT segment path and one ORT product against ours
# (bench/results/node-prefill-h200.json): the ORT path is gone since.
# Steps in order of what the issue needs most, each under its own timeout (a step cut short keeps the rows it wrote):
#   1. SmolLM2-135M shape f32, chunk 512, at 128, 512, 2048 tokens                       (target >= 20,000 tok/s at 2K)
#   1b. the same at 2048 in one chunk of 2048
#   2. Llama-3.2-1B shape int4, all 16 layers, chunk 512, at 2048                        (target >= 5,000 at 2K)
#   3. the same at 8192, split-K on and off                                              (target >= 2,000 at 8K;
#      ms per chunk <= ~100; GPU memory of the 8K prefill from the model's memoryStats = engine.stats().model)
# Env (bench/h200/run.sh): NODE, KIT, RES, BUDGET_S, CPUS, SIEVE_H200_DRY (1: tiny shapes on SwiftShader).
set -u
DRY=${SIEVE_H200_DRY:-0}
B=$KIT/node-bench
END=$(( $(date +%s) + ${BUDGET_S:-60} - 2 ))
left() { echo $(( END - $(date +%s) )); }
# step NAME SECONDS ARGS...: runs one bench under min(SECONDS, what is left), its JSON into $RES/NAME.json.
step() {
  local name=$1 want=$2; shift 2
  local t; t=$(left); [ "$want" -lt "$t" ] && t=$want
  if [ "$t" -lt 4 ]; then echo "[$name] skipped: $(left) s left"; return; fi
  echo "[$name] up to $t s: $*"
  (cd "$B" && timeout -k 2 "$t" taskset -c "${CPUS:-0-3}" "$NODE" "$@" --budget-s $((t * 2 / 3)) --out "$RES/$name.json") 2>&1 | tail -n 40 | cut -c1-400
  echo "[$name] rc ${PIPESTATUS[0]}"
}
if [ "$DRY" = 1 ]; then
  step smollm2 14 node-prefill.mjs --model tiny --layers 1 --paths wgsl --lengths 40 --chunk 32 --rounds 1
  step smollm2-chunk2048 6 node-prefill.mjs --model tiny --layers 1 --paths wgsl --lengths 40 --chunk 64 --rounds 1
  step llama1b-int4-2k 14 node-prefill.mjs --model tiny --quantization int4 --layers 1 --paths wgsl --lengths 40 --chunk 32 --rounds 1
  step llama1b-int4-8k 14 node-prefill.mjs --model tiny --quantization int4 --layers 1 --paths wgsl,wgsl-nosplit --lengths 70 --chunk 32 --rounds 1 --warmup-length 16
else
  step smollm2 14 node-prefill.mjs --model smollm2 --paths wgsl --lengths 128,512,2048 --chunk 512 --rounds 5
  step smollm2-chunk2048 6 node-prefill.mjs --model smollm2 --paths wgsl --lengths 2048 --chunk 2048 --rounds 5
  step llama1b-int4-2k 14 node-prefill.mjs --model llama1b --quantization int4 --paths wgsl --lengths 2048 --chunk 512 --rounds 5
  step llama1b-int4-8k 14 node-prefill.mjs --model llama1b --quantization int4 --paths wgsl,wgsl-nosplit --lengths 8192 --chunk 512 --rounds 3 --warmup-length 512
fi
# summary.txt: one line per row (run.sh prints it).
"$NODE" -e '
const fs = require("fs"); const dir = process.argv[1];
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) {
  let j; try { j = JSON.parse(fs.readFileSync(dir + "/" + f, "utf8")); } catch { console.log(f + ": unreadable"); continue; }
  for (const r of j.rows ?? []) console.log(f.replace(".json", "") + ": " + (r.tokensPerS !== undefined
    ? `${r.path} ${r.model} L${r.layers} ${r.tokens} tok: ${r.tokensPerS} tok/s (median ${r.medianMs} ms of ${r.rounds}), chunks ${JSON.stringify(r.chunkMs)}`
    : `${r.path} ${r.format} M=${r.m}: ${r.ms} ms, ${r.tflops} TFLOPS`));
}' "$RES" > "$RES/summary.txt" 2>&1
cat "$RES/summary.txt"
exit 0
