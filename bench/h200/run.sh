#!/bin/bash
# One H200 call: `SIEVE_H200_PLAN="..." bash bench/h200/run.sh 570` from the repo root, with carry [".carry/h200"]
# (make-carry.mjs; slim-tree.mjs makes the tree fit; bench/h200/PLAN.md has the next calls, README.md the procedure).
# 1. unpacks the kit: the debs (NVIDIA's Vulkan ICD needs libvulkan1 + the glvnd GL libraries), node to $BASE/node,
#    the Node benches to $KIT/node-bench, the yardstick to $KIT/yardstick (one ORT wasm and one dawn.node, linked
#    into both);
# 2. checks that Dawn has an adapter (prints it; if none, retries with NVIDIA's ICD and EGL vendor files named);
# 3. starts every bench/h200/segments/<name>.pre.sh in the background on cores 4-15 (CPU-only preparation: the
#    yardstick's ONNX exports), then runs the segments one after another on cores 0-3, each under `timeout` with
#    its budget from the plan (PLAN below; a missing segment is skipped);
# 4. stops everything by the total deadline ($1 s) and ALWAYS (trap on exit) writes $OUT/results.tar.xz (every
#    segment's $RES, and its stdout as <name>.log) and $OUT/log.txt, then prints a compact summary (each segment's
#    rc, seconds and its $RES/summary.txt): the device tool shows the last 12,000 characters.
# A segment sees: NODE, KIT, RES (its empty results folder, < 2 MB), BUDGET_S, CPUS, WORK (a scratch folder it shares
# with its .pre.sh), SIEVE_H200_DRY (1 on the dry run: tiny shapes, SwiftShader).
# Env for the dry run (dry-run.sh sets them): SIEVE_H200_DRY=1, SIEVE_H200_SEGMENTS="a b" (only those),
# SIEVE_H200_BASE (scratch root, default /tmp/h200), OUT.
set -u
TOTAL=${1:-470}
T0=$(date +%s); END=$((T0 + TOTAL))
DRY=${SIEVE_H200_DRY:-0}
ROOT=$(pwd)
CARRY=$ROOT/.carry/h200
OUT=${OUT:-/tmp/h200-out}; mkdir -p "$OUT"
BASE=${SIEVE_H200_BASE:-/tmp/h200}; rm -rf "$BASE"; mkdir -p "$BASE"
KIT=$BASE/kit; RESROOT=$BASE/res; WORKROOT=$BASE/work; NODE=$BASE/node
mkdir -p "$KIT" "$RESROOT" "$WORKROOT"
LOG=$OUT/log.txt; : > "$LOG"
# The plan: segments in order with their budgets (s). SIEVE_H200_PLAN="matvec:90 decode:65 ..." replaces it for one
# run (the lead picks what each device call measures; a segment with no .sh is skipped).
# The default is PLAN.md's call A.
PLAN=${SIEVE_H200_PLAN:-"decode:80 structured:35 matvec:90 eval:340"}
ORDER=""
declare -A BUDGET=()
for p in $PLAN; do ORDER="$ORDER ${p%%:*}"; BUDGET[${p%%:*}]=${p##*:}; done
# Segments named in SIEVE_H200_SEGMENTS but not in the plan (a new one on a dry run) run too, with 90 s.
for n in ${SIEVE_H200_SEGMENTS:-}; do [ -n "${BUDGET[$n]:-}" ] || { ORDER="$ORDER $n"; BUDGET[$n]=90; }; done
if [ "$DRY" = 1 ]; then SEG_CPUS=0-$(( $(nproc) - 1 )); PRE_CPUS=$SEG_CPUS; else SEG_CPUS=0-3; PRE_CPUS=4-15; fi
ONLY=${SIEVE_H200_SEGMENTS:-}
exec 3>&1 >>"$LOG" 2>&1
el() { echo $(( $(date +%s) - T0 )); }
say() { echo "[$(el)s] $*"; echo "[$(el)s] $*" >&3; }
SUMMARY=()
PRE_PIDS=()

pack() {  # every segment's results (and its log, tail-capped) into $OUT/results.tar.xz; written after each segment too
  for f in "$RESROOT"/*.log; do [ -f "$f" ] && [ "$(stat -c %s "$f")" -gt 400000 ] && { tail -c 400000 "$f" > "$f.t"; mv "$f.t" "$f"; }; done
  tar -C "$RESROOT" -cJf "$OUT/results.tar.xz.tmp" . 2>/dev/null && mv "$OUT/results.tar.xz.tmp" "$OUT/results.tar.xz"
  local size; size=$(stat -c %s "$OUT/results.tar.xz" 2>/dev/null || echo 0)
  if [ "$size" -gt 15000000 ]; then  # over what comes back: leave out files over 1 MB
    tar -C "$RESROOT" --exclude-from=<(cd "$RESROOT" && find . -type f -size +1M) -cJf "$OUT/results.tar.xz" . 2>/dev/null
  fi
}
finish() {
  local rc=$?
  trap - EXIT TERM INT
  for p in "${PRE_PIDS[@]}"; do kill -- -"$p" 2>/dev/null || kill "$p" 2>/dev/null; done
  pack
  [ "$(stat -c %s "$LOG")" -gt 15000000 ] && { tail -c 15000000 "$LOG" > "$LOG.t"; mv "$LOG.t" "$LOG"; }
  {
    echo "===== summary (run.sh, $(el) s of $TOTAL, rc $rc) ====="
    echo "adapter: $(echo "${ADAPTER:-none}" | sed -E 's/,"features":"[^"]*"//') shader-f16: $(echo "${ADAPTER:-}" | grep -q shader-f16 && echo yes || echo no)"
    for line in "${SUMMARY[@]}"; do echo "$line"; done
    for n in $ORDER; do
      [ -f "$RESROOT/$n/summary.txt" ] && { echo "--- $n"; head -c 1500 "$RESROOT/$n/summary.txt"; echo; }
    done
    echo "results: $OUT/results.tar.xz ($(stat -c %s "$OUT/results.tar.xz" 2>/dev/null || echo 0) bytes), log: $OUT/log.txt"
  } | tee -a "$LOG" >&3
}
trap finish EXIT
trap 'say "signal: stopping"; exit 143' TERM INT

# ---- 1. the kit
say "kit: unpacking $(du -sh "$CARRY" 2>/dev/null | cut -f1) from $CARRY"
if [ "$DRY" != 1 ]; then
  for f in "$CARRY"/debs/*.deb; do dpkg -x "$f" / || say "dpkg -x $f failed"; done
  ldconfig
fi
xz -dc "$CARRY/node.xz" > "$NODE" && chmod +x "$NODE"
xz -dc "$CARRY/dawn.node.xz" > "$KIT/dawn.node"
xz -dc "$CARRY/ort.wasm.xz" > "$KIT/ort-wasm-simd-threaded.asyncify.wasm"
for b in node-bench yardstick; do
  mkdir -p "$KIT/$b/dist/linux-x64"
  xz -dc "$CARRY/$b.tar.xz" | tar xf - -C "$KIT/$b"
  ln -f "$KIT/ort-wasm-simd-threaded.asyncify.wasm" "$KIT/$b/ort-wasm-simd-threaded.asyncify.wasm"
  ln -f "$KIT/dawn.node" "$KIT/$b/dist/linux-x64/dawn.node"
done
# The tracked files that travel xz'd in the carry (make-carry.mjs PACKED_MODELS; slim-tree.mjs hid them from the tree):
# back where the segments read them, only where missing (the dry run here has them, and keeps its own).
[ -f "$CARRY/models.tar.xz" ] && { tar -C "$ROOT" --skip-old-files -xJf "$CARRY/models.tar.xz" || say "models.tar.xz: unpacking failed"; }
if [ -d "$CARRY/webllm" ]; then mkdir -p "$KIT/webllm"; for f in "$CARRY"/webllm/*.xz; do xz -dc "$f" > "$KIT/webllm/$(basename "${f%.xz}")"; done; fi
say "kit: node $("$NODE" --version 2>&1), $(ls "$KIT/node-bench" | tr '\n' ' ')"

# ---- 2. an adapter
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -2
[ "$DRY" = 1 ] && export VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-/usr/lib/chromium/vk_swiftshader_icd.json}
probe() { (cd "$KIT/yardstick" && timeout 60 "$NODE" probe.mjs 2>"$BASE/probe.err" | tail -1); }
ADAPTER=$(probe)
if ! echo "$ADAPTER" | grep -q '"vendor"'; then
  say "no adapter ($(tail -c 300 "$BASE/probe.err" | tr '\n' ' ')); retrying with NVIDIA's ICD and EGL vendor files"
  ls -la /usr/local/nvidia/share/vulkan/icd.d/ /usr/local/nvidia/share/glvnd/egl_vendor.d/ /usr/share/vulkan/icd.d/ /etc/vulkan/icd.d/ 2>&1 | head -20
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    [ -f "$icd" ] && { export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd; break; }
  done
  egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json; [ -f $egl ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$egl
  ADAPTER=$(probe)
  if ! echo "$ADAPTER" | grep -q '"vendor"'; then
    say "still no adapter: $(VK_LOADER_DEBUG=error,warn probe 2>&1 | tail -c 200; tail -c 600 "$BASE/probe.err" | tr '\n' ' ')"
    ldd "$(ls /usr/lib/x86_64-linux-gnu/libGLX_nvidia.so.0 /usr/local/nvidia/lib64/libGLX_nvidia.so.0 2>/dev/null | head -1)" 2>&1 | grep -i "not found" | head
  fi
fi
say "adapter: $ADAPTER"
echo "$ADAPTER" > "$RESROOT/adapter.json"
env | grep -E '^(VK_|__EGL)' > "$RESROOT/adapter-env.txt"

# ---- 3. preparation in the background, then the segments
wanted() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; }
for n in $ORDER; do
  pre=bench/h200/segments/$n.pre.sh
  wanted "$n" && [ -f "$pre" ] || continue
  mkdir -p "$RESROOT/$n" "$WORKROOT/$n"
  NODE=$NODE KIT=$KIT RES=$RESROOT/$n WORK=$WORKROOT/$n CPUS=$PRE_CPUS BUDGET_S=$((END - $(date +%s) - 15)) SIEVE_H200_DRY=$DRY \
    setsid timeout -k 5 $((END - $(date +%s) - 10)) taskset -c "$PRE_CPUS" bash "$pre" > "$RESROOT/$n.pre.log" 2>&1 &
  PRE_PIDS+=($!)
  say "pre $n started (pid $!, cores $PRE_CPUS)"
done
for n in $ORDER; do
  seg=bench/h200/segments/$n.sh
  if ! wanted "$n"; then continue; fi
  if [ ! -f "$seg" ]; then SUMMARY+=("$n: no segment (skipped)"); continue; fi
  left=$((END - $(date +%s) - 8))
  b=${BUDGET[$n]}; [ "$b" -gt "$left" ] && b=$left
  if [ "$b" -lt 5 ]; then SUMMARY+=("$n: no time left (skipped)"); say "$n: no time left"; continue; fi
  mkdir -p "$RESROOT/$n" "$WORKROOT/$n"
  say "segment $n: budget $b s, cores $SEG_CPUS"
  s0=$(date +%s)
  NODE=$NODE KIT=$KIT RES=$RESROOT/$n WORK=$WORKROOT/$n CPUS=$SEG_CPUS BUDGET_S=$b SIEVE_H200_DRY=$DRY \
    timeout -k 3 $((b + 3)) taskset -c "$SEG_CPUS" bash "$seg" > "$RESROOT/$n.log" 2>&1 < /dev/null
  rc=$?
  SUMMARY+=("$n: rc $rc in $(( $(date +%s) - s0 )) s of $b$( [ "$rc" = 124 ] || [ "$rc" = 137 ] && echo ' (timed out)'), $(du -sh "$RESROOT/$n" | cut -f1) of results")
  say "segment $n: rc $rc; last lines:"; tail -n 4 "$RESROOT/$n.log" | cut -c1-300 | tee /dev/fd/3
  pack
done
