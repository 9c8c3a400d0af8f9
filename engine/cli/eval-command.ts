// `sieve eval`: seeded retrieval and perplexity tasks under attention policies on a backend (engine/eval), a
// summary table on stdout, rows and cells as JSON with --out. bench/eval-grid.ts runs the grid through this command.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { listPolicies } from '../attention/index.ts';
import { InvalidArgumentError } from '../errors/index.ts';
import { loadModelFromPath } from '../model/node.ts';
import { createReferenceBackend, runEval, summarize, TaskGenerator, type EvalBackend, type EvalCell, type EvalRow } from '../eval/index.ts';
import { calibrationsBeside, loadTaskSource } from '../eval/source.ts';
import type { EvalCliOptions } from './args.ts';

export interface EvalReport {
  date: string;
  backend: string;
  model: string;
  grid: Omit<EvalCliOptions, 'command' | 'out' | 'model' | 'backend'>;
  /** How the prompt was processed: one prefill chunk, every policy fed the same items. */
  method: string;
  done: boolean;
  cells: EvalCell[];
  rows: EvalRow[];
}

async function openBackend(opts: EvalCliOptions): Promise<{ backend: EvalBackend; source: ReturnType<typeof loadTaskSource> }> {
  const loaded = await loadModelFromPath(opts.model);
  const source = loadTaskSource(loaded);
  const calibrations = calibrationsBeside(resolve(opts.model));
  if (opts.backend === 'reference') return { backend: createReferenceBackend(loaded, calibrations), source };
  if (opts.backend === 'dawn') return { backend: await (await import('../eval/dawn-backend.ts')).createDawnBackend(loaded, calibrations), source };
  return { backend: await (await import('../eval/webgpu-backend.ts')).createWebGpuBackend(opts.model, loaded), source };
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

export async function runEvalCommand(opts: EvalCliOptions, log: (line: string) => void): Promise<EvalReport> {
  const registered = listPolicies();
  // Parameters are checked by the spec grammar when the first item runs; the name here.
  const policies = opts.policies ?? registered;
  // A mistyped policy fails before the model loads and the first item runs.
  for (const p of policies) if (!registered.includes(p.split(':')[0])) throw new InvalidArgumentError('--policy', `unknown policy "${p}"; available: ${registered.join(', ')}`);
  const { backend, source } = await openBackend(opts);
  const grid = { tasks: opts.tasks, contexts: opts.contexts, policies, budgets: opts.budgets, n: opts.n, seed: opts.seed };
  const rows: EvalRow[] = [];
  const report = (done: boolean): EvalReport => ({
    date: new Date().toISOString(), backend: backend.name, model: opts.model, grid: { ...grid, policies },
    method: 'each item prefilled in one chunk (every policy sees the whole prompt before it evicts or selects), then greedy decoding of the answer or teacher-forced scoring of the targets; the same seeded items for every policy',
    done, cells: summarize(rows), rows,
  });
  const save = (done: boolean) => {
    if (!opts.out) return;
    mkdirSync(dirname(resolve(opts.out)), { recursive: true });
    // Compact: a grid's rows run to thousands (results travel to the GPU machine with the repository).
    writeFileSync(opts.out, JSON.stringify(report(done)));
  };
  try {
    await runEval(backend, new TaskGenerator(source), source.tokenizer, grid, (got) => {
      rows.push(...got);
      log(`${got[0].task} ${got[0].context} ${got[0].item}: ${got.map((r) => `${r.spec} ${r.correct === null ? (r.nll! / r.targets!).toFixed(2) : r.correct ? 'ok' : 'miss'}`).join(', ')}`);
      save(false);
    });
  } finally {
    await backend.close();
  }
  save(true);
  return report(true);
}
