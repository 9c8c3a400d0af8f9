#!/bin/bash
# H200 segment of issue 18 (prefill), 120 s: bench/node-prefill (the engine's WGSL prefill; each weight format a
# variant with its own model, interleaved in the same rounds) beside its candidates: prefill attention tilings (rows x
# keys per workgroup: 32x64 is the default, 64x32, 16x64, 32x32 tried), split-K off, and the GEMM's register tiles
# (128x64 default, 128x128, 64x128, 64x64). Every row splits each chunk's GPU time into attention and matrix products
# (timestamps: gpu.attentionMs / gpu.productsMs per chunk), and each JSON's `winners` names per length the tiling with
# the least attention time and per format the GEMM tile with the least products time (summary.txt prints them).
# Steps in order of what the issue needs most, each under its own timeout (a step cut short keeps the rows it wrote):
#   1. SmolLM2-135M shape f32 and f16, chunk 512, at 128, 512, 2048 tokens               (target >= 20,000 tok/s at 2K)
#   1b. the same at 2048 in one chunk of 2048
#   2. Llama-3.2-1B shape int4 and f16, all 16 layers, chunk 512, at 2048                (target >= 5,000 at 2K)
#   3. the same at 8192, attention candidates only                                       (target >= 2,000 at 8K;
#      ms per chunk <= ~100; GPU memory of the 8K prefill from the model's memoryStats = engine.stats().model)
# Run 2 of 2026-12-04 (before the register-tiled attention): 9,463 / 12,485 (one chunk) tok/s SmolLM2 at 2K,
# 4,239 / 4,187 Llama-1B f16 / int4 at 2K, 1,724 / 1,700 at 8K with chunks growing from 82 to 531 ms.
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
TILES="--attention-tiles 64x32,16x64,32x32"
if [ "$DRY" = 1 ]; then
  # SwiftShader compiles each model's pipelines in tens of seconds: one candidate of each kind is enough to check.
  DT="--attention-tiles 16x64 --gemm-tiles 64x64"
  step smollm2 25 node-prefill.mjs --model tiny --layers 1 --quantization f32 --lengths 40 --chunk 32 --rounds 1 $DT --nosplit 0
  step smollm2-chunk2048 12 node-prefill.mjs --model tiny --layers 1 --quantization f32 --lengths 40 --chunk 64 --rounds 1 --attention-tiles none --gemm-tiles none --nosplit 0
  step llama1b-2k 35 node-prefill.mjs --model tiny --quantization int4,f16 --layers 1 --lengths 40 --chunk 32 --rounds 1 --attention-tiles none --gemm-tiles 64x64 --nosplit 0
  step llama1b-8k 45 node-prefill.mjs --model tiny --quantization int4 --layers 1 --lengths 70 --chunk 32 --rounds 1 --warmup-length 16 $DT --gemm-tiles none
else
  step smollm2 25 node-prefill.mjs --model smollm2 --quantization f32,f16 --lengths 128,512,2048 --chunk 512 --rounds 3 $TILES
  step smollm2-chunk2048 12 node-prefill.mjs --model smollm2 --quantization f32,f16 --lengths 2048 --chunk 2048 --rounds 3 $TILES
  step llama1b-2k 35 node-prefill.mjs --model llama1b --quantization int4,f16 --lengths 2048 --chunk 512 --rounds 3 $TILES
  step llama1b-8k 45 node-prefill.mjs --model llama1b --quantization int4,f16 --lengths 8192 --chunk 512 --rounds 2 --warmup-length 512 $TILES --gemm-tiles none
fi
# summary.txt: one line per row (run.sh prints it).
"$NODE" -e '
const fs = require("fs"); const dir = process.argv[1];
const ms = (xs) => xs ? "[" + xs.map((x) => Math.round(x * 10) / 10).join(",") + "]" : "-";
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) {
  let j; try { j = JSON.parse(fs.readFileSync(dir + "/" + f, "utf8")); } catch { console.log(f + ": unreadable"); continue; }
  const name = f.replace(".json", "");
  for (const r of j.rows ?? []) console.log(name + ": " + `${r.path} ${r.model} L${r.layers} ${r.tokens} tok: ${r.tokensPerS} tok/s (median ${r.medianMs} ms of ${r.rounds}), chunks ${JSON.stringify(r.chunkMs)}`
    + (r.gpu && r.gpu.attentionMs ? `; GPU attention ${r.gpu.attentionTotalMs} ms ${ms(r.gpu.attentionMs)}, products ${r.gpu.productsTotalMs} ms ${ms(r.gpu.productsMs)}` : ""));
  for (const w of j.winners ?? []) console.log(name + ": winners at " + w.tokens + " (" + w.by + "): attention " + JSON.stringify(w.attention && w.attention.all)
    + "; gemm " + Object.entries(w.gemm || {}).map(([k, v]) => k + " " + JSON.stringify(v && v.all)).join(", "));
}' "$RES" > "$RES/summary.txt" 2>&1
cat "$RES/summary.txt"
exit 0
