#!/bin/bash
# The yardstick's preparation (run.sh starts it first, in the background on cores 4-15, CPU only): the seeded random
# checkpoints of the three shapes and their onnx-community-style exports (bench/compare/export/export.py), each
# shape in its own process, with transformers' 16 greedy ids computed on the CPU (the GPU is timing other segments
# meanwhile). fp16 and q4 only (yardstick.sh says why SmolLM2's fp32 cell went; the 1B's and 0.5B's fp32 files would be
# 5 and 2 GB of writing); Qwen2.5-0.5B and Llama-3.2-1B also converted for WebLLM (export/to_mlc.py, q0f16, the fp16
# cell) where their library travelled (LIBS below). Each shape writes $WORK/models/<name>.rc when it is done;
# yardstick.sh waits for it.
# Dry run: the committed tiny model instead (no onnx/torch on the dev machine), and each carried library checked
# against its catalog shape (to_mlc.py --check: every parameter it binds builds from such a checkpoint, no writing).
set -u
M=$WORK/models; mkdir -p "$M"
# The shape each prebuilt WebLLM library serves (the catalog id its config comes from, the library file).
declare -A LIBS=(
  [qwen2.5-0.5b]="qwen2.5-0.5b-instruct Qwen2-0.5B-Instruct-q0f16-ctx4k_cs1k-webgpu.wasm"
  [llama-3.2-1b]="llama-3.2-1b-instruct Llama-3.2-1B-Instruct-q0f16-ctx4k_cs1k-webgpu.wasm"
)
if [ "${SIEVE_H200_DRY:-0}" = 1 ]; then
  cp -r bench/compare/testdata/tiny "$M/tiny"; echo 0 > "$M/tiny.rc"
  for name in "${!LIBS[@]}"; do
    set -- ${LIBS[$name]}
    if [ -f "$KIT/webllm/$2" ]; then
      python3 bench/compare/export/to_mlc.py --lib "$KIT/webllm/$2" --check "$1" >> "$RES/exports.txt" 2>&1 \
        || echo "$name: to_mlc --check failed" >> "$RES/exports.txt"
    else
      echo "$name: no WebLLM library $2 in the kit" >> "$RES/exports.txt"
    fi
  done
  exit 0
fi
export CUDA_VISIBLE_DEVICES= OMP_NUM_THREADS=4 MKL_NUM_THREADS=4
ex() {
  local name=$1; shift
  local t0; t0=$(date +%s)
  timeout "$BUDGET_S" python3 bench/compare/export/export.py --golden 16 --out "$M/$name" --context 4608 "$@" > "$RES/export-$name.log" 2>&1
  local rc=$?
  # WebLLM's copy of the same weights, in MLC's layout for the prebuilt library of this shape (where one travelled).
  local lib=
  [ -n "${LIBS[$name]:-}" ] && lib=$KIT/webllm/${LIBS[$name]#* }
  if [ $rc = 0 ] && [ -n "$lib" ] && [ -f "$lib" ]; then
    timeout 120 python3 bench/compare/export/to_mlc.py --model "$M/$name" --lib "$lib" --format fp16 >> "$RES/export-$name.log" 2>&1 \
      || echo "$name: to_mlc failed" >> "$RES/exports.txt"
  fi
  echo "$name: rc $rc in $(( $(date +%s) - t0 )) s" >> "$RES/exports.txt"
  echo $rc > "$M/$name.rc"
}
ex smollm2-135m --model smollm2-135m-instruct --formats fp16,q4 &
ex qwen2.5-0.5b --model qwen2.5-0.5b-instruct --formats q4,fp16 &
ex llama-3.2-1b --model llama-3.2-1b-instruct --formats q4,fp16 &
wait
du -sh "$M"/* >> "$RES/exports.txt" 2>&1
