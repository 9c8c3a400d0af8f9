// The real engine (ORT segments + our WGSL attention, in a Web Worker, on Chromium's WebGPU) against work we
// did not write: stories260K's published greedy output and transformers' logits for the golden checkpoints.
import { expect, test } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { decodeF32, GOLDEN_DIR, goldenCases, hostOk, maxAbsDiff, openHost, readF32, storiesKnownIds } from './host.ts';

/** Issue 2's bound against transformers (f32 engine vs f32 transformers on the CPU). */
const TRANSFORMERS_TOLERANCE = 2e-3;

test.describe.configure({ mode: 'serial' });

test('stories260K: 80 greedy tokens from BOS equal the published ids', async ({ page }) => {
  await openHost(page);
  await hostOk(page, 'load', '/shared-models/stories260K/stories260K.gguf');
  const r = await hostOk(page, 'generate', { ids: [1], maxTokens: 80, ignoreEos: true });
  const result = r.result as { ids: number[]; text: string; usage: Record<string, number> };
  expect(result.ids).toEqual(storiesKnownIds());
  expect(result.text.startsWith('Once upon a time')).toBe(true);
  expect(result.usage.tokens_in_cache).toBe(80);
});

for (const name of goldenCases()) {
  test(`golden ${name}: prefill and decode logits within ${TRANSFORMERS_TOLERANCE} of transformers`, async ({ page }) => {
    await openHost(page);
    await hostOk(page, 'load', `/models/golden/${name}/`);
    const ids = JSON.parse(readFileSync(`${GOLDEN_DIR}${name}/ids.json`, 'utf8')) as number[];
    const expected = readF32(`${GOLDEN_DIR}${name}/logits.f32`);
    const prefill = decodeF32((await hostOk(page, 'logits', { ids, mode: 'prefill' })).base64 as string);
    const decode = decodeF32((await hostOk(page, 'logits', { ids, mode: 'decode' })).base64 as string);
    const dPrefill = maxAbsDiff(prefill, expected);
    const dDecode = maxAbsDiff(decode, expected);
    test.info().annotations.push({ type: 'max-abs-diff', description: `${name}: prefill ${dPrefill.toExponential(2)}, decode ${dDecode.toExponential(2)}` });
    console.log(`${name}: GPU vs transformers: prefill ${dPrefill.toExponential(2)}, decode ${dDecode.toExponential(2)}`);
    expect(dPrefill).toBeLessThan(TRANSFORMERS_TOLERANCE);
    expect(dDecode).toBeLessThan(TRANSFORMERS_TOLERANCE);
  });
}

// The default decoder follows the adapter (ORT's kernels on this software adapter): check ours explicitly too.
test('golden qwen3 through our WGSL decoder: decode logits within 2e-3 of transformers', async ({ page }) => {
  const name = 'qwen3';
  await openHost(page);
  await hostOk(page, 'load', { url: `/models/golden/${name}/`, decoder: 'wgsl' });
  const ids = (JSON.parse(readFileSync(`${GOLDEN_DIR}${name}/ids.json`, 'utf8')) as number[]).slice(0, 64);
  const expected = readF32(`${GOLDEN_DIR}${name}/logits.f32`).subarray(0, 64 * 512);
  const decode = decodeF32((await hostOk(page, 'logits', { ids, mode: 'decode' })).base64 as string);
  const d = maxAbsDiff(decode, expected);
  console.log(`${name} (WGSL decoder, 64 positions): GPU vs transformers: decode ${d.toExponential(2)}`);
  expect(d).toBeLessThan(TRANSFORMERS_TOLERANCE);
});
