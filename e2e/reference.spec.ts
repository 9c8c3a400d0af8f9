// The GPU engine (ORT segments + our WGSL attention, in Chromium's worker) against the CPU reference, whose logits
// come from the `sieve` CLI's reference backend run as a user would (so this also tests that CLI path).
import { expect, test, type Page } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeF32, GOLDEN_DIR, goldenCases, goldenIds, hostOk, maxAbsDiff, openHost, readF32, runSieve } from './host.ts';

/** Issue 2 item 8: the GPU within 1e-3 (max abs) of the reference, on every position. */
const GPU_VS_REFERENCE_TOLERANCE = 1e-3;
/**
 * Decode steps compared per case: 80 ids cross five 16-token KV pages (DESIGN.md's default page size), so the
 * decode kernel reads several pages and a partial one. golden.spec.ts already decodes all 300 ids against
 * transformers; decoding them again here would double the slowest part of the suite on the software adapter.
 */
const DECODE_IDS = 80;

test.describe.configure({ mode: 'serial' });

let page: Page;
let tmp: string;

test.beforeAll(async ({ browser }) => {
  tmp = mkdtempSync(join(tmpdir(), 'sieve-reference-'));
  page = await browser.newPage();
  await openHost(page);
});

test.afterAll(async () => {
  await page?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** `sieve logits --backend reference` into a file, read back as f32. */
function referenceLogits(name: string, ids: number[], decode: boolean): Float32Array {
  const out = join(tmp, `${name}-${decode ? 'decode' : 'prefill'}.f32`);
  const args = ['logits', '--backend', 'reference', '--model', `models/golden/${name}`, '--ids', ids.join(','), '--out', out];
  const r = runSieve(decode ? [...args, '--decode'] : args);
  expect(r.status, r.stderr).toBe(0);
  return readF32(out);
}

for (const name of goldenCases()) {
  test(`${name}: GPU prefill and decode logits within ${GPU_VS_REFERENCE_TOLERANCE} of the CPU reference`, async () => {
    const ids = goldenIds(name);
    const decodeIds = ids.slice(0, DECODE_IDS);
    const refPrefill = referenceLogits(name, ids, false);
    const refDecode = referenceLogits(name, decodeIds, true);
    // The reference itself must be the oracle it claims to be: within issue 2's 2e-3 of transformers.
    const golden = readF32(`${GOLDEN_DIR}${name}/logits.f32`);
    expect(maxAbsDiff(refPrefill, golden)).toBeLessThan(2e-3);

    const info = (await hostOk(page, 'load', `/models/golden/${name}/`)).info as { vocabSize: number };
    expect(refPrefill.length).toBe(ids.length * info.vocabSize);
    expect(refDecode.length).toBe(decodeIds.length * info.vocabSize);
    const gpuPrefill = decodeF32((await hostOk(page, 'logits', { ids, mode: 'prefill' })).base64 as string);
    const gpuDecode = decodeF32((await hostOk(page, 'logits', { ids: decodeIds, mode: 'decode' })).base64 as string);
    const dPrefill = maxAbsDiff(gpuPrefill, refPrefill);
    const dDecode = maxAbsDiff(gpuDecode, refDecode);
    const line = `${name}: |GPU - reference| prefill (${ids.length} ids) ${dPrefill.toExponential(2)}, decode (${decodeIds.length} ids) ${dDecode.toExponential(2)}`;
    console.log(line);
    test.info().annotations.push({ type: 'max-abs-diff', description: line });
    expect(dPrefill).toBeLessThan(GPU_VS_REFERENCE_TOLERANCE);
    expect(dDecode).toBeLessThan(GPU_VS_REFERENCE_TOLERANCE);
  });
}
