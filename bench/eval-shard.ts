// bench/eval-shard: one worker of the eval grid on a GPU machine (issue 16): opens `sieve eval`'s backend once, then
// runs the plan's phases in order on its share of the items (--shard i/k), each phase's report in its own file,
// stopping before the next item at the deadline. bench/h200/segments/eval.sh starts k of them at once: on a model as
// small as sieve-tiny one process is bound by the host's encoding and dispatch, not by the GPU.
// Build: node bench/build-node-bench.mjs (the bundle carries the held-out chapters in held-out/); run:
//   node .carry/node-bench/eval-shard.mjs --plan h200 --shard 0/12 --backend dawn --deadline-s 200 --out-dir DIR
//   [--model models/sieve-tiny] [--held-out DIR]
// Phases (planPhases below): the anchor cells first (every policy at budget = context/8 at each context, and at full
// budget at 1K), then perplexity at the anchors, the other budgets at 1K, the diagnosis probes, the other budgets at
// 2K and 4K, perplexity there, so a run cut short has the anchors whole. --done FILE,... (reports of an earlier run, rows of the same seeded items) leaves out the
// (item, spec) pairs they hold: a second run goes on where the first stopped.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openEvalBackend, runEvalCommand } from '../engine/cli/eval-command.ts';
import { listPolicies } from '../engine/attention/index.ts';
import { MOBY_DICK_FOLDER } from '../engine/eval/source.ts';
import { RETRIEVAL_TASKS, type EvalTask } from '../engine/eval/index.ts';
import type { EvalBackendName } from '../engine/eval/index.ts';

const argOf = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
};

export interface EvalPhase {
  name: string;
  tasks: EvalTask[];
  contexts: number[];
  /** undefined: every registered policy. */
  policies?: string[];
  budgets: number[];
  n: number;
}

const RETRIEVAL = [...RETRIEVAL_TASKS];
/** Per-task items of the grid: the four retrieval tasks pooled make 200 items per (context, policy, budget) cell. */
const N_RETRIEVAL = 50;
/** Perplexity windows per (context, policy, budget) cell (64 teacher-forced steps each: 9 times a retrieval item's). */
const N_PERPLEXITY = 24;
const BUDGETS = [64, 128, 256, 512, 1024];
const others = (skip: number[]) => BUDGETS.filter((b) => !skip.includes(b));
const nonDense = () => listPolicies().filter((p) => p !== 'dense');
/**
 * The diagnosis of the policies that miss on sieve-tiny at budget = context/8 (docs/attention/tidal.md,
 * double-sparsity.md, fasa.md), at the anchors' scale: TidalDecode with its last layer attending densely (the
 * layer where this model retrieves), Double Sparsity with half of each key's channels, FASA with half its chunks.
 */
const PROBES = ['tidal:reselect-layer=7', 'double-sparsity:channels=32', 'fasa:chunks=16'];

/** The phases of a plan, in the order a worker runs them. */
export function planPhases(plan: string): EvalPhase[] {
  // Ordered by what a cut run should keep, with the measured cost of runs 1 and 2 of 2026-12-04 (12 workers on one
  // H200, seconds of the whole segment, pairs done before left out): the anchors (2K's last 25 items ~20 s, 4K's 197
  // ~220 s), perplexity at the anchors (~250 s), the other budgets at 1K (~160 s), the probes (~150 s), the other
  // budgets at 2K (~530 s) and 4K (~770 s), perplexity at those (~350 s). About half of the 2K and 4K time is the
  // evicting policies' prefill: evict.wgsl evicts one token per pass over the head, so a prompt of n tokens cut to
  // budget b costs (n - b) passes of n/64 reads in 2 workgroups per layer (docs/attention/eval.md).
  if (plan === 'h200') {
    const anchors: [number, number[]][] = [[1024, [128, 1024]], [2048, [256]], [4096, [512]]];
    const at = (c: number) => anchors.find((a) => a[0] === c)![1];
    return [
      ...anchors.map(([c, b]) => ({ name: `anchor-${c}`, tasks: RETRIEVAL, contexts: [c], budgets: b, n: N_RETRIEVAL })),
      ...anchors.map(([c, b]) => ({ name: `ppl-anchor-${c}`, tasks: ['perplexity'] as EvalTask[], contexts: [c], budgets: b, n: N_PERPLEXITY })),
      { name: 'rest-1024', tasks: RETRIEVAL, contexts: [1024], policies: nonDense(), budgets: others(at(1024)), n: N_RETRIEVAL },
      ...anchors.map(([c]) => ({ name: `probe-${c}`, tasks: RETRIEVAL, contexts: [c], policies: PROBES, budgets: [c / 8], n: N_RETRIEVAL })),
      ...[2048, 4096].map((c) => ({ name: `rest-${c}`, tasks: RETRIEVAL, contexts: [c], policies: nonDense(), budgets: others(at(c)), n: N_RETRIEVAL })),
      ...anchors.map(([c, b]) => ({ name: `ppl-rest-${c}`, tasks: ['perplexity'] as EvalTask[], contexts: [c], policies: nonDense(), budgets: others(b), n: N_PERPLEXITY })),
    ];
  }
  // The CPU reference's sample for the GPU/CPU check: every spec of the 1K grid on items the dawn workers run early
  // (the segment gives the two reference workers indices 0 and 25), perplexity window 0 first, then the 2K anchors.
  if (plan === 'check') {
    return [
      { name: 'check-ppl-1024', tasks: ['perplexity'], contexts: [1024], budgets: BUDGETS, n: N_PERPLEXITY },
      { name: 'check-1024', tasks: RETRIEVAL, contexts: [1024], budgets: BUDGETS, n: N_RETRIEVAL },
      { name: 'check-2048', tasks: RETRIEVAL, contexts: [2048], budgets: [256], n: N_RETRIEVAL },
    ];
  }
  // Perplexity on a CPU-only machine (the CPU reference, one prefill per window forked for every spec): the 1K grid
  // at every budget, then the 2K anchor, then more 1K windows, so a bounded run has whole cells to show.
  if (plan === 'cpu-ppl') {
    return [
      { name: 'cpu-ppl-1024', tasks: ['perplexity'], contexts: [1024], budgets: BUDGETS, n: 12 },
      { name: 'cpu-ppl-2048', tasks: ['perplexity'], contexts: [2048], budgets: [256], n: 12 },
      { name: 'cpu-ppl-1024-more', tasks: ['perplexity'], contexts: [1024], budgets: BUDGETS, n: N_PERPLEXITY },
    ];
  }
  // The dry run on SwiftShader (building the model takes a minute or two there, a 256-token item tens of seconds): the
  // mechanics, and the GPU/CPU check on item 0.
  if (plan === 'dry') {
    return [
      { name: 'anchor-256', tasks: ['passkey'], contexts: [256], policies: ['dense', 'h2o'], budgets: [32], n: 2 },
      { name: 'ppl-anchor-256', tasks: ['perplexity'], contexts: [256], policies: ['dense', 'quest'], budgets: [32], n: 2 },
    ];
  }
  if (plan === 'dry-check') {
    return [
      { name: 'check-256', tasks: ['passkey'], contexts: [256], policies: ['dense', 'h2o'], budgets: [32], n: 2 },
      { name: 'check-ppl-256', tasks: ['perplexity'], contexts: [256], policies: ['dense', 'quest'], budgets: [32], n: 2 },
    ];
  }
  throw new Error(`unknown plan "${plan}"; plans: h200, check, cpu-ppl, dry, dry-check`);
}

async function main() {
  const start = performance.now();
  const deadlineS = Number(argOf('--deadline-s', '200'));
  const [index, count] = argOf('--shard', '0/1').split('/').map(Number);
  const outDir = argOf('--out-dir', 'bench/results/eval-shards');
  const backendName = argOf('--backend', 'dawn') as EvalBackendName;
  const model = argOf('--model', 'models/sieve-tiny');
  // In the bundle, the held-out chapters travel beside it (build-node-bench.mjs copies them); from the source tree,
  // the npm package's folder.
  const bundled = fileURLToPath(new URL('./held-out/', import.meta.url));
  const heldOut = argOf('--held-out', existsSync(bundled) ? bundled : MOBY_DICK_FOLDER);
  mkdirSync(outDir, { recursive: true });
  // A merged file (bench/eval-merge.ts) holds the GPU backend's rows and the reference's, a `sieve eval` report its own
  // backend's: this worker skips the rows of its own kind.
  const done = new Set<string>();
  for (const file of argOf('--done', '').split(',').filter(Boolean)) {
    const r = JSON.parse(readFileSync(file, 'utf8')) as { backend: string; rows: { item: string; spec: string }[]; referenceRows?: { item: string; spec: string }[] };
    const mine = [...(r.backend === backendName ? r.rows : []), ...(backendName === 'reference' ? r.referenceRows ?? [] : [])];
    for (const row of mine) done.add(`${row.item}|${row.spec}`);
  }
  const opened = await openEvalBackend({ model, backend: backendName }, { mobyDickFolder: heldOut });
  const readyS = (performance.now() - start) / 1000;
  console.log(`shard ${index}/${count} (${done.size} (item, spec) pairs done before; ${backendName}${'adapter' in opened.backend ? `, ${String(opened.backend.adapter)}` : ''}): ready at ${readyS.toFixed(1)} s`);
  for (const phase of planPhases(argOf('--plan', 'h200'))) {
    const left = deadlineS - (performance.now() - start) / 1000;
    if (left <= 0) { console.log(`${phase.name}: no time left`); continue; }
    const t0 = performance.now();
    const report = await runEvalCommand({
      command: 'eval', model, backend: backendName, policies: phase.policies, budgets: phase.budgets, contexts: phase.contexts,
      tasks: phase.tasks, n: phase.n, seed: 0, out: `${outDir}/${phase.name}.${backendName}.${index}-of-${count}.json`,
      shard: { index, count }, stopAfterS: left, done,
    }, () => undefined, opened);
    const items = new Set(report.rows.map((r) => r.item)).size;
    console.log(`${phase.name}: ${items} items, ${report.rows.length} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s${report.done ? '' : ' (stopped at the deadline)'}`);
  }
  await opened.backend.close();
  console.log(`shard ${index}/${count} done at ${((performance.now() - start) / 1000).toFixed(1)} s`);
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
