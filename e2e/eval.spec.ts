// `sieve eval --backend webgpu` (issue 16 item 5): the eval through the whole engine in headless Chromium, on
// sieve-tiny, one 256-token pass-key item, about 3 cases as the issue asks: the report has its fields, dense answers,
// and at a budget covering the context TidalDecode and Recycled Attention generate dense's ids (and so answer as dense
// does). Those two because no other Chromium test runs them (attention.spec: StreamingLLM, H2O, A2SF; prefill-chunks
// and prefix-reuse: Quest; calibration: Double Sparsity, FASA); every registered policy is checked the same way on
// the CPU reference (engine/eval/sieve-tiny-eval.test.ts) and against it on Dawn (engine/attention). Each policy's
// first generate compiles its kernels on SwiftShader, the slow part: all ten policies took 57 s here at low load
// (6.4 min under load), which is why the grid's every-policy run is not repeated in the browser.
import { expect, test } from '@playwright/test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSieve } from './host.ts';

/** The items' context, and a budget that covers it (the prompt and the 6 answer tokens fed after it fit in 256). */
const CONTEXT = 256;
/** Dense and the two policies no other browser test runs. */
const POLICIES = ['dense', 'tidal', 'recycled'];

test.setTimeout(600_000);

test(`sieve eval --backend webgpu: the report's fields, dense answers, ${POLICIES.slice(1).join(' and ')} at full budget give dense's ids`, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'sieve-eval-'));
  try {
    const out = join(tmp, 'eval.json');
    const r = runSieve(['eval', '--backend', 'webgpu', '--model', 'models/sieve-tiny', '--context', String(CONTEXT), '--budget', String(CONTEXT),
      '--policy', POLICIES.join(','), '--task', 'passkey', '--n', '1', '--out', out], 580_000);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(out, 'utf8')) as {
      backend: string; done: boolean; grid: { policies: string[] }; seconds: number;
      rows: { task: string; item: string; policy: string; spec: string; budget: number | null; correct: boolean; answer: string; generated: number[]; text: string; kvBytes: number; tokensInCache: number; promptTokens: number }[];
      cells: { task: string; policy: string; n: number; accuracy: number; relativeToDense: number; kvBytes: number }[];
    };
    expect([report.backend, report.done]).toEqual(['webgpu', true]);
    const policies = report.grid.policies;
    expect([...policies].sort()).toEqual([...POLICIES].sort());
    // One row per (item, spec): dense once, every other policy at the one budget.
    expect(report.rows).toHaveLength(policies.length);
    for (const task of ['passkey']) {
      const rows = report.rows.filter((x) => x.task === task);
      const dense = rows.find((x) => x.policy === 'dense')!;
      expect([dense.correct, dense.text.trim().slice(0, 5)]).toEqual([true, dense.answer]);
      expect(dense.promptTokens).toBeLessThanOrEqual(CONTEXT);
      for (const x of rows) {
        expect([x.spec, x.generated]).toEqual([x.spec, dense.generated]);
        expect(x.budget).toBe(x.policy === 'dense' ? null : CONTEXT);
        // Every token held at the end (nothing evicted at this budget): the prompt and the answer ids fed after it.
        expect([x.spec, x.tokensInCache]).toEqual([x.spec, dense.tokensInCache]);
        expect(x.kvBytes).toBeGreaterThan(0);
      }
    }
    for (const c of report.cells) expect([c.task, c.policy, c.n, c.accuracy, c.relativeToDense]).toEqual([c.task, c.policy, 1, 1, 1]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
