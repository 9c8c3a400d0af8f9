#!/bin/bash
# Issue 17's H200 run: random checkpoints + ONNX exports made here (python), then the yardstick (Sieve vs
# Transformers.js, Dawn in Node), one driver per model so a late model cannot cost the earlier ones' results.
set -u
Y=.carry/yardstick; K=$Y
T0=$(date +%s); END=$((T0 + ${1:-400}))
# All of .carry/kit's debs: dawn.node itself needs no GL library, but NVIDIA's Vulkan ICD (libGLX_nvidia) loads
# them through glvnd; the 2026-12-02 run carried only libvulkan1 + libglvnd0 + libglx0 and Dawn found no driver.
# Carry: .carry/yardstick with bundle.tar.xz (build.mjs --no-dawn, then tar + xz), ort.wasm.xz, and node.xz /
# dawn.node.xz stripped and re-xz'd with --x86 (the 64 MiB limit), plus .carry/kit's debs copied beside them.
for f in $Y/*.deb; do dpkg -x $f / ; done; ldconfig
xz -dc $K/node.xz > /tmp/node && chmod +x /tmp/node
B=/tmp/yb; mkdir -p $B/dist/linux-x64; xz -dc $K/dawn.node.xz > $B/dist/linux-x64/dawn.node
xz -dc $Y/bundle.tar.xz | tar xf - -C $B; xz -dc $Y/ort.wasm.xz > $B/ort-wasm-simd-threaded.asyncify.wasm
ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; [ -f $ICD ] && export VK_DRIVER_FILES=$ICD
M=/tmp/models; mkdir -p $M
ex() { python3 bench/compare/export/export.py --golden 16 "$@"; }
ex --model smollm2-135m-instruct --out $M/smollm2-135m --context 4608 > $OUT/export-smollm2.log 2>&1 &
S=$!
ex --model qwen2.5-0.5b-instruct --out $M/qwen2.5-0.5b --context 4608 --formats fp16,q4 > $OUT/export-qwen.log 2>&1 &
Q=$!
ex --model llama-3.2-1b-instruct --out $M/llama-3.2-1b --context 4608 --formats fp16,q4 > $OUT/export-llama.log 2>&1 &
L=$!
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $OUT/gpu.txt
A="--contexts 512,4096 --prompts 128,2048 --reps 5 --decode-tokens 32 --chat-turns 10 --chat-user 32 --chat-reply 16 --timeout-ms 60000"
drive() { local pid=$1 name=$2 formats=$3; wait $pid; echo "$name exported at $(( $(date +%s) - T0 )) s"; tail -c 600 $OUT/export-$name.log
  local left=$((END - $(date +%s))); [ $left -lt 20 ] && { echo "no time for $name"; return; }
  (cd $B && timeout $left /tmp/node driver.mjs --models $M/$4 --formats $formats $A --out $OUT/compare-$name.json 2>&1 | cut -c1-400 | tail -40); echo "== $name at $(( $(date +%s) - T0 )) s"; }
drive $S smollm2 fp16,q4 smollm2-135m
drive $Q qwen q4,fp16 qwen2.5-0.5b
drive $L llama q4,fp16 llama-3.2-1b
du -sh $M/*
