// `sieve eval`: seeded retrieval and perplexity tasks under attention policies on a backend (engine/eval), a
// summary table on stdout, rows and cells as JSON with --out. bench/eval-grid.ts runs the grid through this command,
// bench/eval-shard.ts a share of it. The webgpu backend (Chromium through Playwright and Vite) is given by the caller
// (main.ts), so that the Node benches bundle this module without a browser.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { listPolicies } from '../attention/index.ts';
import { InvalidArgumentError } from '../errors/index.ts';
import { loadModelFromPath } from '../model/node.ts';
import { createReferenceBackend, runEval, summarize, TaskGenerator, type EvalBackend, type EvalCell, type EvalRow } from '../eval/index.ts';
import { calibrationsBeside, loadTaskSource } from '../eval/source.ts';
import type { LoadedModel } from '../model/index.ts';
import type { EvalCliOptions } from './args.ts';

export interface EvalReport {
  date: string;
  backend: string;
  model: string;
  grid: Omit<EvalCliOptions, 'command' | 'out' | 'model' | 'backend' | 'done'>;
  /** How the prompt was processed: one prefill chunk, every policy fed the same items. */
  method: string;
  /** Whether every item of the grid (of this shard) ran; false when --stop-after stopped it. */
  done: boolean;
  /** Seconds the grid ran. */
  seconds: number;
  /** The GPU adapter (dawn backend). */
  adapter?: string;
  cells: EvalCell[];
  rows: EvalRow[];
}

/** A backend with the model loaded and the task material, open for any number of runEvalCommand calls. */
export interface OpenEval {
  backend: EvalBackend;
  source: ReturnType<typeof loadTaskSource>;
}

export interface EvalBackendOpeners {
  /** The `webgpu` backend (eval-webgpu-backend.ts); without it `--backend webgpu` is refused. */
  webgpu?: (modelPath: string, loaded: LoadedModel) => Promise<EvalBackend>;
  /** Where the held-out chapters are (a bundled bench carries its own copy); default: the npm package's folder. */
  mobyDickFolder?: string;
}

/** Loads the model and opens the backend. */
export async function openEvalBackend(opts: Pick<EvalCliOptions, 'model' | 'backend'>, openers: EvalBackendOpeners = {}): Promise<OpenEval> {
  const loaded = await loadModelFromPath(opts.model);
  const source = loadTaskSource(loaded, openers.mobyDickFolder);
  const calibrations = calibrationsBeside(resolve(opts.model));
  if (opts.backend === 'reference') return { backend: createReferenceBackend(loaded, calibrations), source };
  if (opts.backend === 'dawn') return { backend: await (await import('../eval/dawn-backend.ts')).createDawnBackend(loaded, calibrations), source };
  if (!openers.webgpu) throw new InvalidArgumentError('--backend', 'webgpu runs from the sieve command line (a browser host); here use dawn or reference');
  return { backend: await openers.webgpu(opts.model, loaded), source };
}

/** A mistyped policy fails before the model loads and the first item runs (parameters: by the spec grammar then). */
export function checkEvalPolicies(opts: Pick<EvalCliOptions, 'policies'>): string[] {
  const registered = listPolicies();
  const policies = opts.policies ?? registered;
  for (const p of policies) if (!registered.includes(p.split(':')[0])) throw new InvalidArgumentError('--policy', `unknown policy "${p}"; available: ${registered.join(', ')}`);
  return policies;
}

const pct = (x: number | null) => (x === null ? '-' : `${(100 * x).toFixed(0)}%`);

/** One line per cell: task, context, policy, budget, n, accuracy (or perplexity), relative to dense, KV bytes. */
export function formatCells(cells: readonly EvalCell[]): string {
  const head = 'task        context  policy            budget  n    accuracy  vs dense  ppl      KV bytes    ms/token';
  const lines = cells.map((c) => [
    c.task.padEnd(11), String(c.context).padStart(7), ' ', c.policy.padEnd(17), String(c.budget ?? '-').padStart(6), String(c.n).padStart(4),
    pct(c.accuracy).padStart(9), pct(c.relativeToDense).padStart(9), (c.perplexity === null ? '-' : c.perplexity.toFixed(2)).padStart(8),
    String(Math.round(c.kvBytes)).padStart(11), (c.msPerToken === null ? '-' : c.msPerToken.toFixed(1)).padStart(11),
  ].join(' '));
  return [head, ...lines].join('\n');
}

/** Runs the grid of `opts` on an open backend (left open) and returns its report, written to opts.out after every item. */
export async function runEvalCommand(opts: EvalCliOptions, log: (line: string) => void, opened: OpenEval): Promise<EvalReport> {
  const policies = checkEvalPolicies(opts);
  const { backend, source } = opened;
  const grid = { tasks: opts.tasks, contexts: opts.contexts, policies, budgets: opts.budgets, n: opts.n, seed: opts.seed, shard: opts.shard, done: opts.done };
  // The report names the grid, not the pairs an earlier run had done.
  const { done: _done, ...gridWithoutDone } = grid;
  const started = performance.now();
  const stop = () => opts.stopAfterS !== undefined && performance.now() - started > opts.stopAfterS * 1000;
  let stopped = false;
  const rows: EvalRow[] = [];
  const report = (done: boolean): EvalReport => ({
    date: new Date().toISOString(), backend: backend.name, ...('adapter' in backend ? { adapter: String(backend.adapter) } : {}), model: opts.model, grid: { ...gridWithoutDone, policies },
    seconds: (performance.now() - started) / 1000,
    method: 'each item prefilled in one chunk (every policy sees the whole prompt before it evicts or selects), then greedy decoding of the answer or teacher-forced scoring of the targets; the same seeded items for every policy',
    done, cells: summarize(rows), rows,
  });
  const save = (done: boolean) => {
    if (!opts.out) return;
    mkdirSync(dirname(resolve(opts.out)), { recursive: true });
    // Compact: a grid's rows run to thousands (results travel to the GPU machine with the repository). Written aside
    // and renamed, so a process killed mid-write (a deadline) leaves the previous item's file whole.
    writeFileSync(`${opts.out}.tmp`, JSON.stringify(report(done)));
    renameSync(`${opts.out}.tmp`, opts.out);
  };
  await runEval(backend, new TaskGenerator(source), source.tokenizer, grid, (got) => {
    rows.push(...got);
    log(`${got[0].task} ${got[0].context} ${got[0].item}: ${got.map((r) => `${r.spec} ${r.correct === null ? (r.nll! / r.targets!).toFixed(2) : r.correct ? 'ok' : 'miss'}`).join(', ')}`);
    save(false);
  }, () => (stopped = stop()));
  // Stopped by --stop-after: the file says the grid is not done.
  save(!stopped);
  return report(!stopped);
}
