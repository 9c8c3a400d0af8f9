// bench/eval-grid: the eval grid of issue 16 (contexts 1K/2K/4K, budgets 64..1024, every registered policy with its
// defaults, the same seeded items for every policy) through `sieve eval`, then its charts in docs/attention/.
// The full grid on a GPU machine, one command (Node on Dawn):
//   npx tsx bench/eval-grid.ts --backend dawn --n 200
// A partial grid (what this 2-core machine can do, on the CPU reference), or only some cells:
//   npx tsx bench/eval-grid.ts --backend reference --contexts 1024 --tasks passkey,kv --n 12 --out bench/results/eval-grid-1k.json
// Charts only, from one or more results files (their rows summarized together; `.json.xz` read through xz), with the
// H200 speed rows of the 1B shape (bench/eval-speed.ts's and bench/sparse-decode.ts's files, comma-separated):
//   npx tsx bench/eval-grid.ts --plot bench/results/eval-grid-h200-run1.json.xz,... --speed bench/results/eval-speed-h200.json,...
//   (each policy's speed is its row at budget = context / 8 at the largest such context; docs/attention/eval.md has
//   the command that draws the published charts)
// Results: --out (default bench/results/eval-grid.json), rewritten after every item; charts in docs/attention/eval-*.svg.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { register } from 'node:module';
import { drawAccuracyVsBudget, drawAccuracyVsTime, drawPerplexityVsBudget, speedAtAnchor, type SpeedRow } from './eval-plots.ts';
import { summarize, type EvalCell, type EvalRow } from '../engine/eval/index.ts';

// The dawn backend imports the engine's `.wgsl?raw` modules: Vite's raw import, as bin/sieve.js registers it.
register('../engine/cli/raw-import-hooks.mjs', import.meta.url);

/** `--name value` (node-harness.ts has the same, but importing it starts Dawn, which the reference and plots need not). */
const argOf = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
};

const PLOT = argOf('--plot', '');
const OUT = argOf('--out', 'bench/results/eval-grid.json');
/**
 * The speed axis: the H200's decode steps on the 1B shape (run 2 of 2026-12-04's sparse segment: quest, tidal and
 * double-sparsity at 16K, budget 2048; bench/eval-speed's run: dense, streaming, h2o and a2sf at 2K, budget 256).
 */
const DEFAULT_SPEED = ['bench/results/h200-2026-12-04-run2/sparse/sparse-decode.json', 'bench/results/eval-speed-h200.json'];
const SPEED = argOf('--speed', DEFAULT_SPEED.join(','));
const DOCS = argOf('--docs', 'docs/attention');

function drawAll(files: string[]): void {
  // Rows of every file (one per item and spec; the same item and spec twice: the later file's), summarized together,
  // so runs with other seeds add items to the same cells.
  // A file without rows (bench/results/eval-grid-h200.json: its 27,000 rows are kept aside, xz-compressed, to keep
  // the repository small) gives its cells as they are.
  const rows = new Map<string, EvalRow>();
  /** The backend of each row's file: the headline's retrieval cells are the GPU backend's alone. */
  const backendOf = new Map<string, string>();
  const given: EvalCell[] = [];
  const notes: string[] = [];
  for (const file of files) {
    const text = file.endsWith('.xz') ? execFileSync('xz', ['-dc', file], { maxBuffer: 1 << 30 }).toString('utf8') : readFileSync(file, 'utf8');
    const r = JSON.parse(text) as { backend: string; done: boolean; rows?: EvalRow[]; cells: EvalCell[] };
    notes.push(`${file.split('/').pop()} (${r.backend}${r.done ? '' : ', partial'})`);
    if (!r.rows) given.push(...r.cells);
    for (const row of r.rows ?? []) {
      rows.set(`${row.item}|${row.spec}`, row);
      backendOf.set(`${row.item}|${row.spec}`, r.backend);
    }
  }
  const cells = [...summarize([...rows.values()]), ...given];
  // The headline: retrieval on the GPU backend's rows where there are any (its N, one backend per cell), perplexity
  // from every file (the CPU reference's until the GPU machine measures it).
  const gpuRows = [...rows.entries()].filter(([k]) => backendOf.get(k) === 'dawn').map(([, r]) => r);
  const headlineCells = gpuRows.length ? [...summarize(gpuRows).filter((c) => c.task !== 'perplexity' || gpuRows.some((r) => r.task === 'perplexity')), ...cells.filter((c) => c.task === 'perplexity' && !gpuRows.some((r) => r.task === 'perplexity'))] : cells;
  const note = `sieve-tiny, greedy, the same seeded items for every policy; from ${notes.join(', ')}`;
  // The charts draw each policy with its defaults; a policy with other parameters (the diagnosis probes,
  // `tidal:reselect-layer=7`) is in the headline table only.
  const charted = cells.filter((c) => !c.policy.includes(':'));
  writeFileSync(`${DOCS}/eval-accuracy.svg`, drawAccuracyVsBudget(charted, note));
  const ppl = drawPerplexityVsBudget(charted, note);
  if (ppl) writeFileSync(`${DOCS}/eval-perplexity.svg`, ppl);
  const speed = SPEED ? SPEED.split(',').filter((f) => existsSync(f)).flatMap(speedRowsOf) : [];
  writeFileSync(`${DOCS}/eval-accuracy-vs-time.svg`, drawAccuracyVsTime(charted, speed.length ? speed : null, note));
  console.log(headlineTable(headlineCells, speed));
  console.log(`charts: ${DOCS}/eval-accuracy.svg${ppl ? `, ${DOCS}/eval-perplexity.svg` : ''}, ${DOCS}/eval-accuracy-vs-time.svg`);
}

/**
 * Speed rows of a results file: bench/eval-speed.ts's as they are; bench/sparse-decode.ts's (whole decode steps per
 * KV dtype) as ms per step and the ratio to dense's step at the same context, f16 KV (a real GPU's default).
 */
function speedRowsOf(file: string): SpeedRow[] {
  const r = JSON.parse(readFileSync(file, 'utf8')) as { bench?: string; rows: Record<string, unknown>[] };
  const name = file.split('/').slice(-3).join('/');
  if (r.rows.every((x) => typeof x.stepMs !== 'number')) return (r.rows as unknown as SpeedRow[]).map((x) => ({ ...x, source: name }));
  const rows = r.rows.filter((x) => x.kv === 'f16' && typeof x.stepMs === 'number') as { context: number; policy: string; budget: number | null; stepMs: number }[];
  return rows.flatMap((x) => {
    const dense = rows.find((d) => d.policy === 'dense' && d.context === x.context);
    return dense ? [{ context: x.context, policy: x.policy, budget: x.budget, msPerToken: x.stepMs, ratioToDense: x.stepMs / dense.stepMs, source: name }] : [];
  });
}

/** Items of a cell that dense answered (older results files lack the count: their n). */
const pairedOf = (c: EvalCell) => c.denseCorrect ?? c.n;

/**
 * The issue's headline: each policy at budget = context / 8, answers kept of dense's (all retrieval tasks pooled,
 * paired items), perplexity, KV bytes held, and the decode step of the 1B shape from the speed rows (speedAtAnchor:
 * ms and the ratio to dense's at that context). Markdown.
 */
function headlineTable(cells: EvalCell[], speed: SpeedRow[]): string {
  const contexts = [...new Set(cells.map((c) => c.context))].sort((a, b) => a - b);
  const policies = [...new Set(cells.map((c) => c.policy))];
  const anchor = speedAtAnchor(speed);
  const lines = ['| context | policy | budget | items | accuracy | of dense\'s answers | perplexity (windows) | KV bytes | decode step, 1B shape |', '|---|---|---|---|---|---|---|---|---|'];
  for (const context of contexts) {
    for (const policy of policies) {
      const budget = policy === 'dense' ? null : context / 8;
      const mine = cells.filter((c) => c.context === context && c.policy === policy && c.budget === budget);
      const retrieval = mine.filter((c) => c.accuracy !== null);
      if (mine.length === 0) continue;
      const n = retrieval.reduce((s, c) => s + c.n, 0);
      const acc = n ? retrieval.reduce((s, c) => s + (c.accuracy as number) * c.n, 0) / n : null;
      const rel = retrieval.filter((c) => c.relativeToDense !== null);
      const relN = rel.reduce((s, c) => s + pairedOf(c), 0);
      const relative = relN ? rel.reduce((s, c) => s + (c.relativeToDense as number) * pairedOf(c), 0) / relN : null;
      const ppl = mine.find((c) => c.perplexity !== null) ?? null;
      const kv = retrieval.length ? retrieval.reduce((s, c) => s + c.kvBytes * c.n, 0) / n : mine[0].kvBytes;
      // Dense's step at each context the others' rows are from (their ratios' bases).
      const rows = policy.includes(':') ? [] : policy === 'dense'
        ? [...new Set([...anchor.values()].map((r) => r.context))].sort((a, b) => b - a).flatMap((c) => speed.filter((r) => r.policy === 'dense' && r.context === c).slice(0, 1))
        : [anchor.get(policy)].filter((r): r is SpeedRow => !!r);
      const fast = rows.filter((r) => typeof r.msPerToken === 'number').map((r) => `${(r.msPerToken as number).toFixed(2)} ms (${(r.ratioToDense as number).toFixed(2)}x, ${r.context / 1024}K)`).join(', ') || '-';
      const pct = (x: number | null) => (x === null ? '-' : `${Math.round(100 * x)}%`);
      lines.push(`| ${context} | ${policy} | ${budget ?? '-'} | ${n} | ${pct(acc)} | ${relN ? `${pct(relative)} of ${relN}` : '-'} | ${ppl ? `${(ppl.perplexity as number).toFixed(2)} (${ppl.n})` : '-'} | ${Math.round(kv).toLocaleString('en-US')} | ${fast} |`);
    }
  }
  return lines.join('\n');
}

async function main() {
  if (PLOT) return drawAll(PLOT.split(','));
  const { main: sieve } = await import('../engine/cli/main.ts');
  const rc = await sieve([
    'eval', '--model', argOf('--model', 'models/sieve-tiny'), '--backend', argOf('--backend', 'dawn'),
    '--context', argOf('--contexts', '1024,2048,4096'), '--budget', argOf('--budgets', '64,128,256,512,1024'),
    '--task', argOf('--tasks', 'passkey,kv,needles,chat,perplexity'), '--n', argOf('--n', '200'), '--seed', argOf('--seed', '0'),
    ...(argOf('--policies', '') ? ['--policy', argOf('--policies', '')] : []), '--out', OUT,
  ]);
  if (rc !== 0) process.exit(rc);
  drawAll([OUT]);
}

await main();
