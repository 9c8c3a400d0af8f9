#!/bin/bash
# Issue 16 on the GPU machine, two parts in one budget:
# 1. the speed axis: bench/eval-speed.ts on Llama-3.2-1B's shape (random f32 weights) at budget = context / 8,
#    contexts 2048 and 4096 (the grid's ratios), every registered policy against dense in the same run; alone on
#    the GPU, at most SPEED_S s;
# 2. the accuracy grid on sieve-tiny: W bench/eval-shard.ts workers at once (--backend dawn, --shard i/W: on a model
#    this small one process is bound by host encoding and dispatch, so W processes multiply throughput), each
#    running the plan's phases in order, anchors first (every policy at budget = context/8 at 1K, 2K and 4K, and at
#    full budget at 1K; then perplexity there; then the other budgets 64..1024), to a shared deadline; beside them
#    2 CPU-reference workers on a sample of the 1K items (every spec), which eval-merge compares with the GPU's rows.
# Results: $RES/eval-speed.json, $RES/eval-grid-h200.json.xz (every shard's rows merged, cells, the GPU/CPU check),
# $RES/shards.txt (each worker's phases: items and seconds), $RES/summary.txt.
set -u
T0=$(date +%s)
DRY=${SIEVE_H200_DRY:-0}
NB=$KIT/node-bench
el() { echo $(( $(date +%s) - T0 )); }
# The segment's cores come from run.sh (cores 0-3); the workers want all of them: the yardstick's CPU preparation
# (run.sh's .pre.sh on cores 4-15) is done by the time this segment starts (its exports took 114 s on the last run).
ALL=0-$(( $(nproc) - 1 ))
if [ "$DRY" = 1 ]; then
  SPEED_ARGS=(--shape tiny --contexts 256 --steps 2); SPEED_S=0; PLAN=dry; CHECK=dry-check; W=1
else
  SPEED_ARGS=(--shape llama1b --contexts 2048,4096 --steps 12); SPEED_S=30; PLAN=h200; CHECK=check; W=12
fi
# What the merge, the packing and the last item of each worker (an item at 4K runs 41 specs: a few seconds) need.
MARGIN=14
: > "$RES/summary.txt"

# ---- 1. speed (the dry run skips it: SwiftShader builds even the tiny shape in 60-90 s)
if [ "$SPEED_S" -gt 0 ] && [ "$BUDGET_S" -gt $((SPEED_S + 60)) ]; then
  timeout -k 2 "$SPEED_S" "$NODE" "$NB/eval-speed.mjs" "${SPEED_ARGS[@]}" --budget-s $((SPEED_S - 6)) --out "$RES/eval-speed.json" > "$WORK/speed.log" 2>&1
  echo "eval-speed rc $? after $(el) s" >> "$RES/summary.txt"
  [ -f "$RES/eval-speed.json" ] && "$NODE" -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    for (const x of r.rows) console.log(x.error ? `${x.context} ${x.policy}: ${x.error.slice(0, 120)}` : x.skipped ? `${x.context} ${x.policy}: ${x.skipped}` :
      `${x.context} ${x.spec}: ${x.msPerToken.toFixed(2)} ms/token, ${x.ratioToDense === null ? "-" : x.ratioToDense.toFixed(2)} x dense, ${x.kvBytes} KV bytes`);
  ' "$RES/eval-speed.json" >> "$RES/summary.txt"
  tail -3 "$WORK/speed.log" | cut -c1-300 >> "$RES/summary.txt"
fi

# ---- 2. the grid
LEFT=$((BUDGET_S - $(el) - MARGIN))
if [ "$LEFT" -lt 20 ]; then echo "grid: no time left ($LEFT s)" >> "$RES/summary.txt"; cat "$RES/summary.txt"; exit 1; fi
SH=$WORK/shards; mkdir -p "$SH"
echo "grid: $W dawn workers + 2 reference workers, plan $PLAN, deadline $LEFT s, cores $ALL (started at $(el) s)" >> "$RES/summary.txt"
PIDS=()
for i in $(seq 0 $((W - 1))); do
  taskset -c "$ALL" "$NODE" "$NB/eval-shard.mjs" --plan "$PLAN" --backend dawn --shard "$i/$W" --deadline-s "$LEFT" \
    --out-dir "$SH" > "$WORK/shard-$i.log" 2>&1 &
  PIDS+=($!)
done
# The reference's sample: items 0 and 25 of each task at 1K (shards 0/50 and 25/50 of the check plan's n = 50), which
# dawn worker 0 and worker 25 mod W run in their first phases.
for i in 0 25; do
  taskset -c "$ALL" "$NODE" "$NB/eval-shard.mjs" --plan "$CHECK" --backend reference --shard "$i/50" --deadline-s "$LEFT" \
    --out-dir "$SH" > "$WORK/reference-$i.log" 2>&1 &
  PIDS+=($!)
done
# Each worker stops before its next item at the deadline; the timeout is the backstop for one that hangs.
( sleep $((LEFT + 8)); for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done ) &
KILLER=$!
for p in "${PIDS[@]}"; do wait "$p"; done
kill "$KILLER" 2>/dev/null
echo "grid workers done at $(el) s" >> "$RES/summary.txt"
for f in "$WORK"/shard-*.log "$WORK"/reference-*.log; do echo "== $(basename "$f")"; tail -12 "$f" | cut -c1-300; done > "$RES/shards.txt"
"$NODE" "$NB/eval-merge.mjs" --in "$SH" --out "$RES/eval-grid-h200.json" >> "$RES/summary.txt" 2>&1
echo "merge rc $? at $(el) s" >> "$RES/summary.txt"
[ -f "$RES/eval-grid-h200.json" ] && xz -6 -T0 -f "$RES/eval-grid-h200.json"
ls -la "$RES" >> "$RES/summary.txt"
cat "$RES/summary.txt"
