// Chunked prefill through the whole engine in Chromium (load option prefillChunk: 16, a 40-id prompt: two chunk
// boundaries and a partial chunk): dense logits of every row equal the CPU reference's; H2O evicts after each chunk
// and generates the ids of the CPU evicting reference run over the same chunks; Quest's page metadata built chunk by
// chunk selects as after a one-chunk prefill (the same ids as a load with the default chunk).
import { expect, test } from '@playwright/test';
import { join } from 'node:path';
import { decodeF32, hostOk, maxAbsDiff, openHost, SHARED_MODELS } from './host.ts';

const STORIES = join(SHARED_MODELS, 'stories260K', 'stories260K.gguf');
const URL_PATH = '/shared-models/stories260K/stories260K.gguf';
const CHUNK = 16;
const PROMPT = [1, ...Array.from({ length: 39 }, (_, i) => 3 + ((i * 131) % 500))];
const GENERATE = 12;
/** As golden.spec: the GPU's f32 forward against the f64-summed CPU reference. */
const GPU_VS_REFERENCE_TOLERANCE = 1e-3;

interface Generated { ids: number[]; usage: { tokens_in_cache: number } }

async function reference(attention: string | null): Promise<{ logits: Float32Array; ids: number[] }> {
  const { loadModelFromPath } = await import('../engine/model/node.ts');
  const { ReferenceModel } = await import('../engine/reference/index.ts');
  const { EvictingReferenceModel, createReferenceEvictionPolicy, parseAttentionSpec } = await import('../engine/attention/cpu.ts');
  const loaded = await loadModelFromPath(STORIES);
  const policy = attention ? createReferenceEvictionPolicy(parseAttentionSpec(attention), loaded.config.numLayers) : null;
  const model = policy ? new EvictingReferenceModel(loaded.config, loaded.weights, policy, { prefillChunk: CHUNK }) : new ReferenceModel(loaded.config, loaded.weights);
  const vocab = loaded.config.vocabSize;
  const argmax = (logits: Float32Array, row: number) => {
    let best = 0;
    for (let i = 1; i < vocab; i++) if (logits[row * vocab + i] > logits[row * vocab + best]) best = i;
    return best;
  };
  const logits = model.prefill(PROMPT);
  const ids = [argmax(logits, PROMPT.length - 1)];
  while (ids.length < GENERATE) ids.push(argmax(model.decode(ids[ids.length - 1]), 0));
  return { logits, ids };
}

test('prefillChunk 16: dense logits, H2O evicting between chunks and Quest equal their references', async ({ page }) => {
  test.setTimeout(600_000);
  await openHost(page);
  await hostOk(page, 'load', { url: URL_PATH, prefillChunk: CHUNK });
  const generate = async (attention: string) => (await hostOk(page, 'generate', { ids: PROMPT, maxTokens: GENERATE, ignoreEos: true, attention })).result as Generated;

  const dense = await reference(null);
  const logits = decodeF32((await hostOk(page, 'logits', { ids: PROMPT, mode: 'prefill' })).base64 as string);
  const denseError = maxAbsDiff(logits, dense.logits);
  expect(denseError).toBeLessThan(GPU_VS_REFERENCE_TOLERANCE);

  const h2o = 'h2o:budget=24';
  const want = await reference(h2o);
  const got = await generate(h2o);
  expect(got.ids).toEqual(want.ids);
  expect(got.usage.tokens_in_cache).toBe(24);
  const denseIds = (await generate('dense')).ids;
  expect(denseIds).toEqual(dense.ids);

  const quest = 'quest:budget=16';
  const questChunked = await generate(quest);
  await hostOk(page, 'load', { url: URL_PATH });
  const questWhole = await generate(quest);
  console.log(`dense logits vs reference ${denseError.toExponential(2)}; h2o ${JSON.stringify(got.ids)}; dense ${JSON.stringify(denseIds)}; quest chunked ${JSON.stringify(questChunked.ids)}, whole ${JSON.stringify(questWhole.ids)}`);
  expect(questChunked.ids).toEqual(questWhole.ids);
  expect(questChunked.ids).not.toEqual(denseIds); // the budget made Quest select
  expect(questChunked.usage.tokens_in_cache).toBe(PROMPT.length + GENERATE - 1);

  const bad = await page.evaluate((url) => (window as unknown as { sieveHost: { load(a: unknown): Promise<{ error?: { code: string } }> } }).sieveHost.load({ url, prefillChunk: 0 }), URL_PATH);
  expect(bad.error?.code).toBe('INVALID_ARGUMENT');
});
