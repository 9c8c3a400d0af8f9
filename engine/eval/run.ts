// Runs eval items under a set of attention specs on a backend, scores them, and summarizes them per cell (task,
// context, policy, budget) with accuracy relative to dense on the same items (paired).
import { InvalidArgumentError } from '../errors/index.ts';
import type { TextTokenizer } from '../tokenizer/index.ts';
import type { EvalBackend, ItemRun } from './backend.ts';
import { isCorrect, type EvalItem, type EvalTask, type TaskGenerator } from './tasks.ts';

export interface EvalGrid {
  tasks: readonly EvalTask[];
  contexts: readonly number[];
  /** Policy names, each optionally with parameters (`tidal:select-layer=5`); `dense` runs once per item whatever the budgets. */
  policies: readonly string[];
  budgets: readonly number[];
  /** Items per (task, context). */
  n: number;
  seed: number;
  /**
   * Only the items whose index is `index` modulo `count` (one of `count` processes sharing a grid; items are still
   * drawn as item i of n, so the shards together are the whole grid). Undefined: every item.
   */
  shard?: { index: number; count: number };
  /**
   * `item|spec` keys already run (a results file of an earlier run of the same items): those specs are left out of
   * their items, an item with none left is skipped. Undefined: none.
   */
  done?: ReadonlySet<string>;
}

export interface EvalRow {
  task: EvalTask;
  context: number;
  item: string;
  /** Prompt tokens (retrieval) or prefilled tokens (perplexity). */
  promptTokens: number;
  policy: string;
  /** null for dense. */
  budget: number | null;
  spec: string;
  /** Retrieval: whether the greedy continuation starts with the answer; null for perplexity. */
  correct: boolean | null;
  answer: string | null;
  /** The greedy ids after the prompt (retrieval) and their text. */
  generated: number[];
  text: string | null;
  /** Perplexity: summed NLL (nats) over `targets` tokens. */
  nll: number | null;
  targets: number | null;
  kvBytes: number;
  tokensInCache: number;
  /** Host time before the prefill (the policy made and set, the sequence reset); absent in older results. */
  setupMs?: number;
  prefillMs: number;
  /** Decode time per token on the backend (sieve-tiny's dispatch cost, not the GPU's pace: see the H200 bench). */
  msPerToken: number | null;
}

/** The specs of one cell row: dense once, then each policy at each budget (`name:budget=B`). */
export function specsOf(grid: Pick<EvalGrid, 'policies' | 'budgets'>): { policy: string; budget: number | null; spec: string }[] {
  const out: { policy: string; budget: number | null; spec: string }[] = [];
  for (const policy of grid.policies) {
    if (policy === 'dense') out.push({ policy, budget: null, spec: 'dense' });
    // A policy may carry its other parameters (`tidal:select-layer=5`); the budget joins them.
    else for (const budget of grid.budgets) out.push({ policy, budget, spec: `${policy}${policy.includes(':') ? ',' : ':'}budget=${budget}` });
  }
  return out;
}

/**
 * Item indices a batch holds (each index: every context and task of the grid): the dawn backend makes a policy once a
 * batch, so a larger batch builds kernels less often, and a run cut short is uneven by at most this many indices
 * (the specs run last in the batch miss them).
 */
export const EVAL_BATCH_INDICES = 2;

/**
 * One row per (item, spec); items are taken index-major, in batches of EVAL_BATCH_INDICES indices, so a partial run
 * still fills every cell nearly evenly. `shouldStop` is asked between runs (a deadline): the rows so far are returned.
 */
export async function runEval(backend: EvalBackend, generator: TaskGenerator, tokenizer: TextTokenizer, grid: EvalGrid, onRows?: (rows: EvalRow[]) => void, shouldStop?: () => boolean): Promise<EvalRow[]> {
  if (grid.policies.length === 0) throw new InvalidArgumentError('--policy', 'name at least one policy');
  const shard = grid.shard ?? { index: 0, count: 1 };
  if (!Number.isInteger(shard.count) || shard.count < 1 || !Number.isInteger(shard.index) || shard.index < 0 || shard.index >= shard.count) {
    throw new InvalidArgumentError('--shard', `must be i/k with 0 <= i < k, got ${shard.index}/${shard.count}`);
  }
  const specs = specsOf(grid);
  const rows: EvalRow[] = [];
  const indices: number[] = [];
  for (let index = shard.index; index < grid.n; index += shard.count) indices.push(index);
  for (let b = 0; b < indices.length; b += EVAL_BATCH_INDICES) {
    if (shouldStop?.()) return rows;
    const batch: { item: EvalItem; context: number; todo: typeof specs }[] = [];
    for (const index of indices.slice(b, b + EVAL_BATCH_INDICES)) {
      for (const context of grid.contexts) {
        for (const task of grid.tasks) {
          const item = generator.item(task, context, grid.seed, index, grid.n);
          const todo = grid.done ? specs.filter((s) => !grid.done!.has(`${item.id}|${s.spec}`)) : specs;
          if (todo.length > 0) batch.push({ item, context, todo });
        }
      }
    }
    if (batch.length === 0) continue;
    const runs = await backend.run(batch.map((j) => ({ item: j.item, specs: j.todo.map((s) => s.spec) })), shouldStop);
    const got = batch.flatMap((j, k) => runs[k].map((run) => rowOf(j.item, j.context, j.todo.find((s) => s.spec === run.spec)!, run, tokenizer)));
    rows.push(...got);
    onRows?.(got);
  }
  return rows;
}

function rowOf(item: EvalItem, context: number, spec: { policy: string; budget: number | null; spec: string }, run: ItemRun, tokenizer: TextTokenizer): EvalRow {
  const retrieval = item.task !== 'perplexity';
  const text = retrieval ? tokenizer.decode(run.generated) : null;
  return {
    task: item.task, context, item: item.id, promptTokens: item.ids.length, ...spec,
    correct: retrieval ? isCorrect(text as string, (item as { answer: string }).answer) : null,
    answer: retrieval ? (item as { answer: string }).answer : null,
    generated: run.generated,
    text,
    nll: run.nll,
    targets: item.task === 'perplexity' ? item.targets.length : null,
    kvBytes: run.kvBytes, tokensInCache: run.tokensInCache, setupMs: run.setupMs, prefillMs: run.prefillMs,
    msPerToken: run.decodeSteps > 0 ? run.decodeMs / run.decodeSteps : null,
  };
}

export interface EvalCell {
  task: EvalTask;
  context: number;
  policy: string;
  budget: number | null;
  n: number;
  /** Retrieval: share answered; null for perplexity. */
  accuracy: number | null;
  /** Of the items dense answered, the share this cell answered too (1 for dense); null without dense rows or hits. */
  relativeToDense: number | null;
  /** How many of this cell's items dense answered (what relativeToDense is a share of; pool cells weighted by it). */
  denseCorrect: number | null;
  /** exp(mean NLL per target token); null for retrieval. */
  perplexity: number | null;
  kvBytes: number;
  tokensInCache: number;
  msPerToken: number | null;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

/** Cells of the rows; dense's cell has budget null and its rows are the pairs of every policy's at that task and context. */
export function summarize(rows: readonly EvalRow[]): EvalCell[] {
  const cells = new Map<string, EvalRow[]>();
  for (const r of rows) {
    const key = `${r.task}|${r.context}|${r.policy}|${r.budget}`;
    cells.set(key, [...(cells.get(key) ?? []), r]);
  }
  const denseHit = new Map<string, boolean>();
  for (const r of rows) if (r.policy === 'dense' && r.correct !== null) denseHit.set(r.item, r.correct);
  return [...cells.values()].map((group) => {
    const { task, context, policy, budget } = group[0];
    const retrieval = group[0].correct !== null;
    const paired = group.filter((r) => denseHit.get(r.item) === true);
    const nll = group.reduce((s, r) => s + (r.nll ?? 0), 0);
    const targets = group.reduce((s, r) => s + (r.targets ?? 0), 0);
    const ms = group.map((r) => r.msPerToken).filter((x): x is number => x !== null);
    return {
      task, context, policy, budget, n: group.length,
      accuracy: retrieval ? group.filter((r) => r.correct).length / group.length : null,
      relativeToDense: retrieval && paired.length > 0 ? paired.filter((r) => r.correct).length / paired.length : null,
      denseCorrect: retrieval ? paired.length : null,
      perplexity: retrieval || targets === 0 ? null : Math.exp(nll / targets),
      kvBytes: mean(group.map((r) => r.kvBytes)),
      tokensInCache: mean(group.map((r) => r.tokensInCache)),
      msPerToken: ms.length ? mean(ms) : null,
    };
  });
}
