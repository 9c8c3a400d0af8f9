#!/bin/bash
# The yardstick on the GPU machine (issue 17): Sieve and Transformers.js (and WebLLM where its library travelled) on
# the three shapes, each shape's driver run as soon as its export (yardstick.pre.sh) is done, the smallest first, so a
# late or failing shape cannot cost the earlier ones. Each shape gets its share of what is left of $BUDGET_S (the
# time a shape does not use passes on to the next); inside it, the driver splits that among the formats and stops
# rounds when the next would not fit (median of 5 where there is time, fewer stated in the cell's `rounds`).
# Decode at 512 and 4,000 ("4K": WebLLM's prebuilt libraries hold 4,096 positions, prompt and reply).
# A budget of 150 s or less (run 1 of 2026-12-04: 120 s) runs the probe plan below instead: one cell.
# Results: $RES/compare-<shape>.json (written after every load and round), $RES/logs/<engine>.log (every engine
# process's whole output), $RES/summary.txt.
set -u
T0=$(date +%s); END=$((T0 + BUDGET_S - 4))
M=$WORK/models; Y=$KIT/yardstick
PROBE=0; [ "$BUDGET_S" -le 150 ] && PROBE=1
if [ "${SIEVE_H200_DRY:-0}" = 1 ]; then
  # name formats share args
  # The full run's path on the committed tiny model: q4 first, 2 rounds as the minimum, the chat, one load each.
  PLAN=("tiny q4,fp32 1 --contexts 16,64 --prompts 8,32 --decode-tokens 2 --reps 2 --min-rounds 2 --chat-turns 2 --chat-user 4 --chat-reply 2 --chat-formats fp32 --no-cached-load --bandwidth-bytes 1048576")
  [ $PROBE = 1 ] && PLAN=("tiny fp32 1 --contexts 16,64 --prompts 8,32 --decode-tokens 2 --reps 3 --min-rounds 3 --chat-turns 0 --no-cached-load --bandwidth-bytes 1048576")
elif [ $PROBE = 1 ]; then
  # The probe (run 1 of 2026-12-04, 120 s): what fails with shader-f16 on (dawn.ts's toggle) before the full run:
  # WebLLM's q0f16 library and Transformers.js's fp16 export, beside Sieve, on the one shape WebLLM has a library
  # for. 3 rounds, no chat, no second load; a 60 s cap on any one request, so a hung WebLLM load leaves the rounds time.
  PLAN=("qwen2.5-0.5b fp16 1 --contexts 512,4000 --prompts 128,2048 --reps 3 --min-rounds 3 --decode-tokens 16 --chat-turns 0 --no-cached-load --timeout-ms 60000")
else
  # The full run: every kept cell gets its 5 interleaved rounds (--min-rounds 5: only the run's own deadline stops
  # one); what does not fit the budget is dropped whole, optional work first, and summary.txt says what went.
  # Each cell's expected seconds with 5 rounds, from run 2 of 2026-12-04 (bench/results/h200-2026-12-04-run2/
  # yardstick.log and logs/: process starts, loads, fairness and warm-up, the rounds it had, ~1.15x for the first
  # round): cost without the chat, and the 10-turn chat's (fp16 cells, the ones where every engine of a shape runs).
  #   smollm2 q4 27 (loads 4.8 + ~5, rounds 4.5 then ~3)       smollm2 fp16 25 + chat 5 (rounds 4.6, 2.7, 2.7)
  #   qwen q4 40 (Sieve's int4 load 14.9: quantized on the CPU) qwen fp16 68 + chat 9 (3 engines, WebLLM load ~18)
  #   llama q4 54 (Sieve's int4 load 25.3)                     llama fp16 88 + chat 9 (WebLLM's q0f16, new: its load
  #                                                             of 2.5 GB guessed at 30 s from Qwen's 1 GB in 18)
  # All of it: ~325 s. The order things are dropped in when the budget is short (estimates x 1.15):
  #   1. the chats (run 2 has them for every fp16 cell);  2. SmolLM2 fp16 (run 2: 3 rounds);
  #   3. Qwen fp16 (run 2: 3 rounds, WebLLM's one cell then);  4. Llama fp16 (WebLLM's second shape).
  # The q4 cells are never dropped: issue 17 has no q4 figure with 5 rounds yet. Within a shape q4 runs first.
  # What was dropped to fit before (run 2): the second ("cached") load (in Node both loads read the same OS-cached
  # files over localhost; within 0.6-1.2x of the cold load on 2026-12-03), SmolLM2's fp32 cell, decode tokens 16.
  declare -A COST=([smollm2-135m:q4]=27 [smollm2-135m:fp16]=25 [qwen2.5-0.5b:q4]=40 [qwen2.5-0.5b:fp16]=68 [llama-3.2-1b:q4]=54 [llama-3.2-1b:fp16]=88)
  declare -A CHAT=([smollm2-135m]=5 [qwen2.5-0.5b]=9 [llama-3.2-1b]=9)
  SHAPES=(smollm2-135m qwen2.5-0.5b llama-3.2-1b)
  declare -A KEEP=(); for k in "${!COST[@]}"; do KEEP[$k]=1; done
  CHATS=1
  total() { local t=0 k; for k in "${!KEEP[@]}"; do t=$((t + COST[$k])); [ $CHATS = 1 ] && [ "${k#*:}" = fp16 ] && t=$((t + CHAT[${k%:*}])); done; echo $((t * 115 / 100)); }
  for drop in chats smollm2-135m:fp16 qwen2.5-0.5b:fp16 llama-3.2-1b:fp16; do
    [ "$(total)" -le $((BUDGET_S - 8)) ] && break
    if [ $drop = chats ]; then CHATS=0; note_pre="${note_pre:-}dropped to fit ${BUDGET_S} s: the 10-turn chats; "
    else unset "KEEP[$drop]"; note_pre="${note_pre:-}dropped to fit: the ${drop/:/ } cell; "; fi
  done
  W="--contexts 512,4000 --prompts 128,2048 --reps 5 --min-rounds 5 --decode-tokens 16 --chat-user 32 --chat-reply 8 --chat-formats fp16 --no-cached-load --timeout-ms 60000"
  PLAN=()
  for sh in "${SHAPES[@]}"; do
    f=; c=0
    for fmt in q4 fp16; do [ -n "${KEEP[$sh:$fmt]:-}" ] && { f=$f${f:+,}$fmt; c=$((c + COST[$sh:$fmt])); }; done
    [ -z "$f" ] && continue
    turns=0; [ $CHATS = 1 ] && [[ $f == *fp16* ]] && { turns=10; c=$((c + CHAT[$sh])); }
    PLAN+=("$sh $f $c $W --chat-turns $turns")
  done
fi
ENGINES=sieve,transformers
[ -d "$KIT/webllm" ] && ENGINES=$ENGINES,webllm
: > "$RES/summary.txt"
note() { echo "$*"; echo "$*" >> "$RES/summary.txt"; }
note "plan (${BUDGET_S} s): ${note_pre:-everything fits; }$(for p in "${PLAN[@]}"; do set -- $p; printf '%s %s ~%s s; ' $1 $2 $3; done)"
[ "${SIEVE_H200_PLAN_ONLY:-0}" = 1 ] && exit 0
shares_left() { local s=0; for p in "${PLAN[@]:$1}"; do set -- $p; s=$((s + $3)); done; echo $s; }
for i in "${!PLAN[@]}"; do
  set -- ${PLAN[$i]}; name=$1; formats=$2; share=$3; shift 3
  # Wait for the export (its time counts against this shape: nothing else could run meanwhile).
  while [ ! -f "$M/$name.rc" ] && [ "$(date +%s)" -lt $((END - 10)) ]; do sleep 1; done
  if [ ! -f "$M/$name.rc" ]; then note "$name: export not done in time"; continue; fi
  if [ "$(cat "$M/$name.rc")" != 0 ]; then note "$name: export failed (rc $(cat "$M/$name.rc")): $(tail -c 300 "$RES/../yardstick.pre.log" 2>/dev/null)"; continue; fi
  left=$((END - $(date +%s)))
  b=$(( left * share / $(shares_left "$i") ))
  if [ "$b" -lt 15 ]; then note "$name: no time left ($left s)"; continue; fi
  echo "== $name: $b s (at $(( $(date +%s) - T0 )) s)"
  # Every engine process's stdout and stderr in $RES/logs/<engine>.log: one run is enough to see why one failed.
  (cd "$Y" && timeout -k 3 $((b + 2)) "$NODE" driver.mjs --models "$M/$name" --formats "$formats" --engines "$ENGINES" "$@" \
     --budget-s $((b - 3)) --log-dir "$RES/logs" --out "$RES/compare-$name.json" --svg "$RES/compare-$name.svg")
  rc=$?
  # One line per cell and engine: what the table will say.
  [ -f "$RES/compare-$name.json" ] || { note "$name: driver rc $rc, no report"; continue; }
  "$NODE" -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const f = (x) => x === undefined ? "-" : x.median.toFixed(x.median < 10 ? 1 : 0);
    for (const c of r.cells) for (const e of c.engines)
      console.log(`${c.model} ${c.format} ${e.engine}: ` + (e.load ? `fair ${e.fairness?.pass} ${e.fairness?.pass ? "" : JSON.stringify(e.fairness?.ids) + " "}load ${(e.load.coldToFirstTokenMs/1000).toFixed(1)}/${e.load.cachedToFirstTokenMs === null ? "-" : (e.load.cachedToFirstTokenMs/1000).toFixed(1)} s (compile ${e.loadCompile ? e.loadCompile.pipelines + " pipelines " + (e.loadCompile.ms/1000).toFixed(1) + " s, " + e.loadCompile.asyncPipelines + " async over " + (e.loadCompile.asyncWallMs/1000).toFixed(1) + " s" : "?"}), tok/s ${Object.keys(e.decodeTokensPerS).map((k) => k + ":" + f(e.decodeTokensPerS[k])).join(" ")}, ttft ms ${Object.keys(e.ttftMs).map((k) => k + ":" + f(e.ttftMs[k])).join(" ")}, rounds ${c.rounds}` : (e.errors[0] ? `not run: ${e.errors[0].stage}: ${e.errors[0].message.slice(0, 600)}` : "not reached before the time ran out")));
    for (const c of r.cells) for (const e of c.engines) for (const x of (e.load ? e.errors : [])) console.log(`  ${c.model} ${c.format} ${e.engine} ${x.stage}: ${x.message.slice(0, 300)}`);
    console.log(`dawn flags ${JSON.stringify(r.dawnFlags)}; adapter shader-f16: ${/shader-f16/.test(r.adapter.features ?? "")}`);
  ' "$RES/compare-$name.json" >> "$RES/summary.txt" 2>&1 || note "$name: driver rc $rc, no report"
  echo "== $name: driver rc $rc at $(( $(date +%s) - T0 )) s"
done
true
