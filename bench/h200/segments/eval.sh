#!/bin/bash
# Issue 16's accuracy grid on the GPU machine, sieve-tiny: W bench/eval-shard.ts workers at once (--backend dawn,
# --shard i/W: on a model this small one process is bound by host encoding and dispatch, so W processes multiply
# throughput), each running the plan's phases in order, anchors first (every policy at budget = context/8 at 1K, 2K
# and 4K, and at full budget at 1K), then the diagnosis probes and perplexity there, then the other budgets 64..1024,
# to a shared deadline; beside them 2 CPU-reference workers on a sample of the items (every spec), which eval-merge
# compares with the GPU's rows. The (item, spec) pairs of earlier runs (bench/results/eval-grid-h200-run*.json.xz)
# are left out: each run goes on where the last stopped. The speed axis is the sparse segment's (bench/sparse-decode.ts
# on the 1B shape, budget 2048 at 16K = context/8) and run 1's bench/eval-speed.ts rows.
# First, alone on the GPU (PROFILE_S at most), bench/eval-profile.ts: one item at 2K and 4K under every policy at
# budget = context/8 and streaming holding the whole prompt, each under a new policy, the same policy again and a new
# one again: where a row's time goes (setup, prefill, decode; a policy's first use; the evicting policies' prefill
# eviction). Each dawn worker makes a policy once per batch of 2 item indices (engine/eval/run.ts EVAL_BATCH_INDICES).
# Budget: the whole grid left after runs 1 and 2 is about 2,450 s on 12 workers (eval-shard.ts planPhases: its
# order and each phase's cost); 560 s gets the profile, the anchors to 200 items at 2K and 4K, perplexity at the
# anchors and part of the other 1K budgets.
# Results: $RES/eval-grid-h200.json.xz (this run's rows merged, cells, the GPU/CPU check), $RES/shards.txt (each
# worker's phases: items and seconds), $RES/eval-profile.json and profile.txt, $RES/summary.txt.
set -u
T0=$(date +%s)
DRY=${SIEVE_H200_DRY:-0}
NB=$KIT/node-bench
el() { echo $(( $(date +%s) - T0 )); }
# run.sh pins a segment to cores 0-3 (nproc says 4 there); the workers want every core of the machine: the yardstick's
# CPU preparation on cores 4-15 is done by the time this segment starts. Run 1 ran its 14 workers on 4 cores.
NCPU=$(getconf _NPROCESSORS_ONLN)
ALL=0-$((NCPU - 1))
# The reference's sample (shards of the check plan): items 0 and 25 of each task on the GPU machine (each task's item
# 0 comes after the batch's first item of that spec, so reused policies are checked too); both dry items here (the
# second runs under the first's policy object).
if [ "$DRY" = 1 ]; then PLAN=dry; CHECK=dry-check; W=1; CHECKS="0/2 1/2"; PROFILE_S=150; PROFILE_CTX=256
else PLAN=h200; CHECK=check; W=$(( NCPU > 4 ? NCPU - 4 : 1 )); CHECKS="0/50 25/50"; PROFILE_S=45; PROFILE_CTX=2048,4096; fi
# What the merge and the packing need after the workers, and the last item of a worker past the deadline.
MARGIN=20
: > "$RES/summary.txt"
SH=$WORK/shards; mkdir -p "$SH"
DONE=()
for f in bench/results/eval-grid-h200-run*.json.xz; do
  [ -f "$f" ] || continue
  xz -dc "$f" > "$WORK/$(basename "${f%.xz}")" && DONE+=("$WORK/$(basename "${f%.xz}")")
done
DONE_ARG=$(IFS=,; echo "${DONE[*]:-}")
# The profile, alone on the GPU; it writes its file after every spec, so a cut one keeps what it measured.
if [ $((BUDGET_S - $(el) - MARGIN)) -gt $((PROFILE_S + 60)) ]; then
  timeout "$PROFILE_S" taskset -c "$ALL" "$NODE" "$NB/eval-profile.mjs" --contexts "$PROFILE_CTX" --out "$RES/eval-profile.json" 2>&1 \
    | grep -v XDG_RUNTIME > "$RES/profile.txt"
  echo "profile rc ${PIPESTATUS[0]} at $(el) s ($(grep -c ' policy\| again' "$RES/profile.txt") rows)" >> "$RES/summary.txt"
fi
LEFT=$((BUDGET_S - $(el) - MARGIN))
if [ "$LEFT" -lt 20 ]; then echo "grid: no time left ($LEFT s)" >> "$RES/summary.txt"; cat "$RES/summary.txt"; exit 1; fi
echo "grid: $W dawn workers + 2 reference workers, plan $PLAN, deadline $LEFT s, cores $ALL, done before: ${DONE_ARG:-none} (started at $(el) s)" >> "$RES/summary.txt"
PIDS=()
for i in $(seq 0 $((W - 1))); do
  taskset -c "$ALL" "$NODE" "$NB/eval-shard.mjs" --plan "$PLAN" --backend dawn --shard "$i/$W" --deadline-s "$LEFT" \
    --done "$DONE_ARG" --out-dir "$SH" > "$WORK/shard-$i.log" 2>&1 &
  PIDS+=($!)
done
for c in $CHECKS; do
  taskset -c "$ALL" "$NODE" "$NB/eval-shard.mjs" --plan "$CHECK" --backend reference --shard "$c" --deadline-s "$LEFT" \
    --done "$DONE_ARG" --out-dir "$SH" > "$WORK/reference-${c%%/*}.log" 2>&1 &
  PIDS+=($!)
done
# Each worker stops before its next item at the deadline; this is the backstop for one whose last item runs long.
( sleep $((LEFT + 8)); for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done ) &
KILLER=$!
for p in "${PIDS[@]}"; do wait "$p"; done
kill "$KILLER" 2>/dev/null
echo "grid workers done at $(el) s" >> "$RES/summary.txt"
for f in "$WORK"/shard-*.log "$WORK"/reference-*.log; do echo "== $(basename "$f")"; grep -v XDG_RUNTIME "$f" | tail -16 | cut -c1-300; done > "$RES/shards.txt"
"$NODE" "$NB/eval-merge.mjs" --in "$SH" --out "$RES/eval-grid-h200.json" >> "$RES/summary.txt" 2>&1
echo "merge rc $? at $(el) s" >> "$RES/summary.txt"
[ -f "$RES/eval-grid-h200.json" ] && xz -6 -T0 -f "$RES/eval-grid-h200.json"
ls -la "$RES" >> "$RES/summary.txt"
cat "$RES/summary.txt"
