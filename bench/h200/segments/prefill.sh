#!/bin/bash
# H200 segment of issue 18 (prefill), 50 s: bench/node-prefill (the engine's WGSL prefill; each weight format a
# variant with its own model, interleaved in the same rounds). The run of 2026-12-03 also measured the ORT segment
# path (gone since) and split-K on and off at 8K (1661 against 1637 tok/s: bench/results/h200-2026-12-03/prefill).
# Steps in order of what the issue needs most, each under its own timeout (a step cut short keeps the rows it wrote):
#   1. SmolLM2-135M shape f32 and f16, chunk 512, at 128, 512, 2048 tokens               (target >= 20,000 tok/s at 2K)
#   1b. the same at 2048 in one chunk of 2048
#   2. Llama-3.2-1B shape int4 and f16, all 16 layers, chunk 512, at 2048                (target >= 5,000 at 2K)
#   3. the same at 8192                                                                  (target >= 2,000 at 8K;
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
  step smollm2 10 node-prefill.mjs --model tiny --layers 1 --paths wgsl --quantization f32,f16 --lengths 40 --chunk 32 --rounds 1
  step smollm2-chunk2048 5 node-prefill.mjs --model tiny --layers 1 --paths wgsl --quantization f32,f16 --lengths 40 --chunk 64 --rounds 1
  step llama1b-2k 11 node-prefill.mjs --model tiny --quantization int4,f16 --layers 1 --paths wgsl --lengths 40 --chunk 32 --rounds 1
  step llama1b-8k 22 node-prefill.mjs --model tiny --quantization int4,f16 --layers 1 --paths wgsl --lengths 70 --chunk 32 --rounds 1 --warmup-length 16
else
  step smollm2 10 node-prefill.mjs --model smollm2 --paths wgsl --quantization f32,f16 --lengths 128,512,2048 --chunk 512 --rounds 3
  step smollm2-chunk2048 5 node-prefill.mjs --model smollm2 --paths wgsl --quantization f32,f16 --lengths 2048 --chunk 2048 --rounds 3
  step llama1b-2k 11 node-prefill.mjs --model llama1b --quantization int4,f16 --paths wgsl --lengths 2048 --chunk 512 --rounds 3
  step llama1b-8k 22 node-prefill.mjs --model llama1b --quantization int4,f16 --paths wgsl --lengths 8192 --chunk 512 --rounds 2 --warmup-length 512
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
