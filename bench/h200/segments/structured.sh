# Segment of bench/h200/run.sh: structured output (issue 15 item 1) on the Llama-3.2-1B shape, int4, random weights,
# Llama-3's tokenizer: constrained (xgrammar's mask, computed while the GPU runs the step) against unconstrained
# decode tokens/s, interleaved per schema, and xgrammar's mask ms/token. Writes $RES/structured-output.json.
set -u
if [ "${SIEVE_H200_DRY:-0}" = 1 ]; then
  ARGS=(--backend dawn --model models/sieve-tiny --rounds 1 --max-tokens 4)
else
  ARGS=(--backend dawn --shape llama1b --tokenizer llama3-tokenizer --rounds 3 --max-tokens 48)
fi
ROOT=$(pwd)
(cd "$KIT/node-bench" && timeout -k 2 $((BUDGET_S - 1)) taskset -c "$CPUS" "$NODE" structured-output.mjs "${ARGS[@]//models\/sieve-tiny/$ROOT/models/sieve-tiny}" \
  --budget-s $((BUDGET_S - 6)) --out "$RES/structured-output.json") > "$RES/structured-output.log" 2>&1
rc=$?
{ echo "structured-output rc $rc"; tail -n 6 "$RES/structured-output.log" | cut -c1-300; } > "$RES/summary.txt"
cat "$RES/summary.txt"
true
