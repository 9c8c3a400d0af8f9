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
  PLAN=("tiny fp32,q4 1 --contexts 16,64 --prompts 8,32 --decode-tokens 2 --chat-turns 2 --chat-user 4 --chat-reply 2 --bandwidth-bytes 16777216")
  [ $PROBE = 1 ] && PLAN=("tiny fp32 1 --contexts 16,64 --prompts 8,32 --decode-tokens 2 --reps 3 --min-rounds 3 --chat-turns 0 --no-cached-load --bandwidth-bytes 16777216")
elif [ $PROBE = 1 ]; then
  # The probe (run 1 of 2026-12-04, 120 s): what fails with shader-f16 on (dawn.ts's toggle) before the full run:
  # WebLLM's q0f16 library and Transformers.js's fp16 export, beside Sieve, on the one shape WebLLM has a library
  # for. 3 rounds, no chat, no second load; a 60 s cap on any one request, so a hung WebLLM load leaves the rounds time.
  PLAN=("qwen2.5-0.5b fp16 1 --contexts 512,4000 --prompts 128,2048 --reps 3 --min-rounds 3 --decode-tokens 16 --chat-turns 0 --no-cached-load --timeout-ms 60000")
else
  # The full run (300 s): 6 cells, each with 3 interleaved rounds before anything optional, then the 10-turn chat
  # (fp16 cells: the one cell per shape where every engine of the shape runs), then rounds up to 5 while the cell's
  # share lasts. What was dropped to fit, and why (the results' workload says it too):
  # - the second ("cached") load: in Node both loads read the same OS-cached files over localhost, and on 2026-12-03
  #   it was within 0.6-1.2x of the cold load for every engine: about 120 s of loads that said little;
  # - SmolLM2's fp32 cell: f32 is the format nobody ships to a browser, and the time buys the other cells' rounds;
  # - 16 decode tokens per sample in every shape (32/24/16 before): Transformers.js's ~25 tokens/s made the rounds.
  # Shares are the cells' expected seconds (loads + 3 rounds + chat, from the 2026-12-03 run).
  W="--contexts 512,4000 --prompts 128,2048 --reps 5 --min-rounds 3 --decode-tokens 16 --chat-turns 10 --chat-user 32 --chat-reply 8 --chat-formats fp16 --no-cached-load --timeout-ms 60000"
  PLAN=("smollm2-135m fp16,q4 6 $W"
        "qwen2.5-0.5b fp16,q4 11 $W"
        "llama-3.2-1b fp16,q4 11 $W")
fi
ENGINES=sieve,transformers
[ -d "$KIT/webllm" ] && ENGINES=$ENGINES,webllm
: > "$RES/summary.txt"
note() { echo "$*"; echo "$*" >> "$RES/summary.txt"; }
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
