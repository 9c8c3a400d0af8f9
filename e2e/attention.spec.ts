// The evicting policies through the whole engine in Chromium (ORT prefill, the decoder the adapter gets, the worker's
// generation loop): greedy ids equal the CPU reference backend's under the same policy, with a prompt longer than the
// budget (evicted at prefill) and generation past it; the cache reports the budget; a budget covering everything
// gives dense's ids; a request without a policy after one with a policy is dense again.
import { expect, test } from '@playwright/test';
import { join } from 'node:path';
import { hostOk, openHost, runSieve, SHARED_MODELS } from './host.ts';

const STORIES = join(SHARED_MODELS, 'stories260K', 'stories260K.gguf');
const BUDGET = 24;
/** 30 prompt ids (BOS + text-like ids): more than the budget, so the prefill itself evicts. */
const PROMPT = [1, ...Array.from({ length: 29 }, (_, i) => 3 + ((i * 131) % 500))];
const GENERATE = 20;

interface Generated { ids: number[]; usage: { tokens_in_cache: number; kv_bytes: number } }

function referenceIds(attention: string): number[] {
  const r = runSieve(['generate', '--backend', 'reference', '--model', STORIES, '--ids', PROMPT.join(','), '--max-tokens', String(GENERATE),
    '--temperature', '0', '--ignore-eos', '--json', '--attention', attention]);
  expect(r.status, r.stderr).toBe(0);
  return (JSON.parse(r.stdout.trim()) as Generated).ids;
}

test('streaming, h2o and a2sf on the GPU engine generate the reference backend\'s ids in a bounded cache', async ({ page }) => {
  test.setTimeout(600_000);
  await openHost(page);
  await hostOk(page, 'load', '/shared-models/stories260K/stories260K.gguf');
  const generate = async (attention?: string) => (await hostOk(page, 'generate', {
    ids: PROMPT, maxTokens: GENERATE, ignoreEos: true, ...(attention ? { attention } : {}),
  })).result as Generated;

  for (const attention of [`streaming:budget=${BUDGET}`, `h2o:budget=${BUDGET}`, `a2sf:budget=${BUDGET},forgetting=0.9`]) {
    const gpu = await generate(attention);
    const want = referenceIds(attention);
    console.log(`${attention}: GPU ${JSON.stringify(gpu.ids)}\n  reference ${JSON.stringify(want)}; tokens_in_cache ${gpu.usage.tokens_in_cache}, kv_bytes ${gpu.usage.kv_bytes}`);
    expect(gpu.ids).toEqual(want);
    expect(gpu.usage.tokens_in_cache).toBe(BUDGET);
  }

  const dense = await generate();
  expect(dense.usage.tokens_in_cache).toBe(PROMPT.length + GENERATE - 1);
  const covering = await generate(`h2o:budget=${PROMPT.length + GENERATE}`);
  expect(covering.ids).toEqual(dense.ids);
  expect(covering.usage.tokens_in_cache).toBe(PROMPT.length + GENERATE - 1);
  // Dense again after an evicting request: a fresh sequence, the same ids as before.
  expect((await generate()).ids).toEqual(dense.ids);
});
