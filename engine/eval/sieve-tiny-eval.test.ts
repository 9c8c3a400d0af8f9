// The eval's fast subset (issue 16 item 5), on the CPU reference: dense sieve-tiny answers a pass key and a
// key-value item at 1K, and every registered policy with a budget covering the context gives dense's ids on them.
// The grid itself is a bench (bench/eval-grid.ts), not a test.
import { beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { listPolicies } from '../attention/index.ts';
import { loadModelFromPath } from '../model/node.ts';
import { createReferenceBackend, runEval, summarize, TaskGenerator, type EvalRow } from './index.ts';
import { calibrationsBeside, loadTaskSource } from './source.ts';

const MODEL = fileURLToPath(new URL('../../models/sieve-tiny/', import.meta.url));
const CONTEXT = 1024;
let rows: EvalRow[];

beforeAll(async () => {
  const loaded = await loadModelFromPath(MODEL);
  const source = loadTaskSource(loaded);
  const backend = createReferenceBackend(loaded, calibrationsBeside(MODEL));
  // One prefill per item (about 20 s each here); every policy forks it.
  rows = await runEval(backend, new TaskGenerator(source), source.tokenizer, {
    tasks: ['passkey', 'kv'], contexts: [CONTEXT], policies: listPolicies(), budgets: [CONTEXT], n: 1, seed: 0,
  });
}, 180_000);

describe('sieve eval on sieve-tiny (CPU reference)', () => {
  it('dense answers the pass key and the key-value item at 1K', () => {
    const dense = rows.filter((r) => r.policy === 'dense');
    expect(dense.map((r) => [r.task, r.correct, r.text?.trim().slice(0, 5)])).toEqual(dense.map((r) => [r.task, true, r.answer]));
  });

  it('every policy at a budget covering the context generates dense\'s ids and answers as dense does', () => {
    for (const task of ['passkey', 'kv']) {
      const dense = rows.find((r) => r.task === task && r.policy === 'dense')!;
      const others = rows.filter((r) => r.task === task && r.policy !== 'dense');
      expect(others.map((r) => r.policy).sort()).toEqual(listPolicies().filter((p) => p !== 'dense').sort());
      expect(dense.generated.length).toBeGreaterThan(5);
      for (const r of others) expect([r.spec, r.generated]).toEqual([r.spec, dense.generated]);
    }
    for (const cell of summarize(rows)) expect([cell.policy, cell.task, cell.relativeToDense]).toEqual([cell.policy, cell.task, 1]);
  });
});
