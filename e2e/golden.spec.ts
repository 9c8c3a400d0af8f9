// The real engine (ORT prefill segments, our WGSL attention and decoder, in a Web Worker, on Chromium's WebGPU) against work we
// did not write: stories260K's published greedy output and transformers' logits for the golden checkpoints; and the
// same GPU logits against the CPU reference, whose logits come from the `sieve` CLI's reference backend run as a user
// would (so this also tests that CLI path). One load, prefill and decode per model serve both comparisons.
import { expect, test } from '@playwright/test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeF32, GOLDEN_DIR, goldenCases, hostOk, maxAbsDiff, openHost, readF32, runSieve, storiesKnownIds } from './host.ts';

/** Issue 2's bound against transformers (f32 engine vs f32 transformers on the CPU). */
const TRANSFORMERS_TOLERANCE = 2e-3;
/**
 * Decode is checked on the first 128 of the 300 golden positions (eight KV pages; prefill checks all 300): a decode
 * step costs ~60 ms on SwiftShader, and positions past 128 exercise no path the first 128 do not.
 */
const DECODE_POSITIONS = 128;
/** Issue 2 item 8: the GPU within 1e-3 (max abs) of the CPU reference, on every position. */
const GPU_VS_REFERENCE_TOLERANCE = 1e-3;

let tmp = '';
test.beforeAll(() => { tmp = mkdtempSync(join(tmpdir(), 'sieve-golden-')); });
test.afterAll(() => { if (tmp) rmSync(tmp, { recursive: true, force: true }); });

/** `sieve logits --backend reference` into a file, read back as f32. */
function referenceLogits(name: string, ids: number[], decode: boolean): Float32Array {
  const out = join(tmp, `${name}-${decode ? 'decode' : 'prefill'}.f32`);
  const args = ['logits', '--backend', 'reference', '--model', `models/golden/${name}`, '--ids', ids.join(','), '--out', out];
  const r = runSieve(decode ? [...args, '--decode'] : args);
  expect(r.status, r.stderr).toBe(0);
  return readF32(out);
}

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
  test(`golden ${name}: prefill and decode logits within ${TRANSFORMERS_TOLERANCE} of transformers and ${GPU_VS_REFERENCE_TOLERANCE} of the CPU reference`, async ({ page }) => {
    await openHost(page);
    const info = (await hostOk(page, 'load', `/models/golden/${name}/`)).info as { vocabSize: number };
    const ids = JSON.parse(readFileSync(`${GOLDEN_DIR}${name}/ids.json`, 'utf8')) as number[];
    const decodeIds = ids.slice(0, DECODE_POSITIONS);
    const expected = readF32(`${GOLDEN_DIR}${name}/logits.f32`);
    const prefill = decodeF32((await hostOk(page, 'logits', { ids, mode: 'prefill' })).base64 as string);
    const decode = decodeF32((await hostOk(page, 'logits', { ids: decodeIds, mode: 'decode' })).base64 as string);
    const dPrefill = maxAbsDiff(prefill, expected);
    const dDecode = maxAbsDiff(decode, expected.subarray(0, decodeIds.length * info.vocabSize));

    const refPrefill = referenceLogits(name, ids, false);
    const refDecode = referenceLogits(name, decodeIds, true);
    // The reference itself must be the oracle it claims to be: within issue 2's 2e-3 of transformers.
    expect(maxAbsDiff(refPrefill, expected)).toBeLessThan(TRANSFORMERS_TOLERANCE);
    const rPrefill = maxAbsDiff(prefill, refPrefill);
    const rDecode = maxAbsDiff(decode, refDecode);

    const line = `${name}: GPU vs transformers: prefill ${dPrefill.toExponential(2)}, decode ${dDecode.toExponential(2)}; `
      + `GPU vs reference: prefill (${ids.length} ids) ${rPrefill.toExponential(2)}, decode (${decodeIds.length} ids) ${rDecode.toExponential(2)}`;
    test.info().annotations.push({ type: 'max-abs-diff', description: line });
    console.log(line);
    expect(dPrefill).toBeLessThan(TRANSFORMERS_TOLERANCE);
    expect(dDecode).toBeLessThan(TRANSFORMERS_TOLERANCE);
    expect(rPrefill).toBeLessThan(GPU_VS_REFERENCE_TOLERANCE);
    expect(rDecode).toBeLessThan(GPU_VS_REFERENCE_TOLERANCE);
  });
}
