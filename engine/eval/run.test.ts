// runEval's shards and deadline on the CPU reference (sieve-tiny, 256-token pass keys, dense only): k shards together
// run exactly the items of the whole grid, each item once, and a run asked to stop returns the rows it has.
import { beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { loadModelFromPath } from '../model/node.ts';
import { createReferenceBackend, runEval, TaskGenerator, type EvalBackend, type EvalGrid } from './index.ts';
import { calibrationsBeside, HELD_OUT_MOBY_DICK_CHAPTERS, loadTaskSource } from './source.ts';

const MODEL = fileURLToPath(new URL('../../models/sieve-tiny/', import.meta.url));
let backend: EvalBackend;
let source: ReturnType<typeof loadTaskSource>;
const grid: EvalGrid = { tasks: ['passkey'], contexts: [256], policies: ['dense'], budgets: [64], n: 3, seed: 0 };

beforeAll(async () => {
  const loaded = await loadModelFromPath(MODEL);
  source = loadTaskSource(loaded);
  backend = createReferenceBackend(loaded, calibrationsBeside(MODEL));
});

describe('runEval shards', () => {
  it('k shards run each item of the grid once, the same rows as one run', async () => {
    const whole = await runEval(backend, new TaskGenerator(source), source.tokenizer, grid);
    const shards = [];
    for (let i = 0; i < 2; i++) shards.push(...(await runEval(backend, new TaskGenerator(source), source.tokenizer, { ...grid, shard: { index: i, count: 2 } })));
    expect(shards.map((r) => r.item).sort()).toEqual(whole.map((r) => r.item).sort());
    expect(whole.map((r) => r.item)).toEqual([0, 1, 2].map((i) => `passkey-256-0-${i}`));
    const byItem = new Map(whole.map((r) => [r.item, r.generated]));
    for (const r of shards) expect([r.item, r.generated]).toEqual([r.item, byItem.get(r.item)]);
    // A run given the first two items' rows as done runs only the third.
    const done = new Set(whole.slice(0, 2).map((r) => `${r.item}|${r.spec}`));
    expect((await runEval(backend, new TaskGenerator(source), source.tokenizer, { ...grid, done })).map((r) => r.item)).toEqual(['passkey-256-0-2']);
  }, 180_000);

  it('stops before the next item when asked, and refuses a shard outside its count', async () => {
    // A stop asked once two rows are in: the first batch (items 0 and 1, EVAL_BATCH_INDICES) ends, the next never starts.
    let got = 0;
    const rows = await runEval(backend, new TaskGenerator(source), source.tokenizer, grid, (r) => { got += r.length; }, () => got >= 2);
    expect(rows.map((r) => r.item)).toEqual(['passkey-256-0-0', 'passkey-256-0-1']);
    await expect(runEval(backend, new TaskGenerator(source), source.tokenizer, { ...grid, shard: { index: 2, count: 2 } })).rejects.toThrow(/--shard/);
  }, 120_000);

  it('the bundled benches carry the held-out chapters the tasks read', () => {
    const build = readFileSync(fileURLToPath(new URL('../../bench/build-node-bench.mjs', import.meta.url)), 'utf8');
    expect(/const HELD_OUT_MOBY_DICK_CHAPTERS = \[([\d, ]+)\]/.exec(build)?.[1].split(',').map(Number)).toEqual([...HELD_OUT_MOBY_DICK_CHAPTERS]);
  });
});
