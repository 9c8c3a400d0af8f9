// bench/eval-grid: the eval grid of issue 16 (contexts 1K/2K/4K, budgets 64..1024, every registered policy with its
// defaults, the same seeded items for every policy) through `sieve eval`, then its charts in docs/attention/.
// The full grid on a GPU machine, one command (Node on Dawn):
//   npx tsx bench/eval-grid.ts --backend dawn --n 200
// A partial grid (what this 2-core machine can do, on the CPU reference), or only some cells:
//   npx tsx bench/eval-grid.ts --backend reference --contexts 1024 --tasks passkey,kv --n 12 --out bench/results/eval-grid-1k.json
// Charts only, from one or more results files (their rows summarized together), with the H200 speed rows:
//   npx tsx bench/eval-grid.ts --plot bench/results/eval-grid-1k.json,bench/results/eval-grid-2k.json --speed bench/results/eval-speed-h200.json
//   (--speed-context N picks the speed rows' context; default their largest; sparse-decode-h200.json's rows work too)
// Results: --out (default bench/results/eval-grid.json), rewritten after every item; charts in docs/attention/eval-*.svg.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { register } from 'node:module';
import { drawAccuracyVsBudget, drawAccuracyVsTime, drawPerplexityVsBudget, type SpeedRow } from './eval-plots.ts';
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
const SPEED = argOf('--speed', existsSync('bench/results/eval-speed-h200.json') ? 'bench/results/eval-speed-h200.json' : '');
const DOCS = argOf('--docs', 'docs/attention');

function drawAll(files: string[]): void {
  // Rows of every file (one per item and spec; the same item and spec twice: the later file's), summarized together,
  // so runs with other seeds add items to the same cells.
  // A file without rows (bench/results/eval-grid-h200.json: its 27,000 rows are kept aside, xz-compressed, to keep
  // the repository small) gives its cells as they are.
  const rows = new Map<string, EvalRow>();
  const given: EvalCell[] = [];
  const notes: string[] = [];
  for (const file of files) {
    const r = JSON.parse(readFileSync(file, 'utf8')) as { backend: string; done: boolean; rows?: EvalRow[]; cells: EvalCell[] };
    notes.push(`${file.split('/').pop()} (${r.backend}${r.done ? '' : ', partial'})`);
    if (!r.rows) given.push(...r.cells);
    for (const row of r.rows ?? []) rows.set(`${row.item}|${row.spec}`, row);
  }
  const cells = [...summarize([...rows.values()]), ...given];
  const note = `sieve-tiny, greedy, the same seeded items for every policy; from ${notes.join(', ')}`;
  // The charts draw each policy with its defaults; a policy with other parameters (the diagnosis probes,
  // `tidal:reselect-layer=7`) is in the headline table only.
  const charted = cells.filter((c) => !c.policy.includes(':'));
  writeFileSync(`${DOCS}/eval-accuracy.svg`, drawAccuracyVsBudget(charted, note));
  const ppl = drawPerplexityVsBudget(charted, note);
  if (ppl) writeFileSync(`${DOCS}/eval-perplexity.svg`, ppl);
  let speed: SpeedRow[] | null = null;
  let speedContext: number | null = null;
  if (SPEED && existsSync(SPEED)) {
    speed = (JSON.parse(readFileSync(SPEED, 'utf8')) as { rows: SpeedRow[] }).rows.filter((r) => typeof r.ratioToDense === 'number');
    const at = Number(argOf('--speed-context', '0'));
    speedContext = at > 0 ? at : speed.length ? Math.max(...speed.map((r) => r.context)) : null;
  }
  writeFileSync(`${DOCS}/eval-accuracy-vs-time.svg`, drawAccuracyVsTime(charted, speed?.length ? speed : null, speedContext, note));
  console.log(headlineTable(cells, speed));
  console.log(`charts: ${DOCS}/eval-accuracy.svg${ppl ? `, ${DOCS}/eval-perplexity.svg` : ''}, ${DOCS}/eval-accuracy-vs-time.svg`);
}

/**
 * The issue's headline: each policy at budget = context / 8, answers kept of dense's (all retrieval tasks pooled,
 * paired items), perplexity, KV bytes held, and ms/token from the speed rows (1B shape) where given. Markdown.
 */
/** Items of a cell that dense answered (older results files lack the count: their n). */
const pairedOf = (c: EvalCell) => c.denseCorrect ?? c.n;

function headlineTable(cells: EvalCell[], speed: SpeedRow[] | null): string {
  const contexts = [...new Set(cells.map((c) => c.context))].sort((a, b) => a - b);
  const policies = [...new Set(cells.map((c) => c.policy))];
  const lines = ['| context | policy | budget | items | accuracy | of dense\'s answers | perplexity | KV bytes | ms/token (1B shape) |', '|---|---|---|---|---|---|---|---|---|'];
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
      const ppl = mine.find((c) => c.perplexity !== null)?.perplexity ?? null;
      const kv = mine.reduce((s, c) => s + c.kvBytes * c.n, 0) / mine.reduce((s, c) => s + c.n, 0);
      const fast = speed?.filter((r) => r.policy === policy.split(':')[0] && typeof r.msPerToken === 'number').map((r) => `${(r.msPerToken as number).toFixed(2)} (${r.context}: ${(r.ratioToDense ?? NaN).toFixed(2)}x)`).join(', ') ?? '';
      const pct = (x: number | null) => (x === null ? '-' : `${Math.round(100 * x)}%`);
      lines.push(`| ${context} | ${policy} | ${budget ?? '-'} | ${n} | ${pct(acc)} | ${pct(relative)} | ${ppl === null ? '-' : ppl.toFixed(2)} | ${Math.round(kv).toLocaleString('en-US')} | ${fast || '-'} |`);
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
