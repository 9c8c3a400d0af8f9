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

test('client: onPrefillProgress beside signal hears each chunk of the prompt, then the whole', async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto('/web/client/harness/index.html');
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true');
  const r = await page.evaluate(async ([chunk, prompt]) => {
    type Client = typeof import('../web/client/index.ts');
    const { createEngine } = (window as unknown as { sieveClient: Client }).sieveClient;
    const engine = createEngine();
    await engine.load(new URL('/shared-models/stories260K/stories260K.gguf', location.href).href, { prefillChunk: chunk });
    const reports: { done: number; total: number }[] = [];
    const signal = new AbortController().signal;
    const completion = await engine.completions.create({ prompt, max_tokens: 2, temperature: 0 }, { signal, onPrefillProgress: (p) => reports.push(p) });
    const short: { done: number; total: number }[] = [];
    // Shares only BOS with the cached prompt: the 4 other ids are prefilled, in one chunk.
    const second = await engine.completions.create({ prompt: [1, 7, 8, 9, 10], max_tokens: 1 }, { onPrefillProgress: (p) => short.push(p) });
    return { reports, short, promptTokens: completion.usage?.prompt_tokens, cached: second.usage?.prompt_tokens_details.cached_tokens };
  }, [CHUNK, PROMPT] as const);
  console.log(`progress: ${JSON.stringify(r.reports)}; short prompt ${JSON.stringify(r.short)}`);
  expect(r.promptTokens).toBe(PROMPT.length);
  expect(r.reports).toEqual([{ done: 16, total: 40 }, { done: 32, total: 40 }, { done: 40, total: 40 }]);
  expect(r.cached).toBe(1);
  expect(r.short).toEqual([{ done: 4, total: 4 }]);
});

test('chat page: a prompt over 1K tokens shows a prefill progress bar until the reply starts', async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto('/');
  await expect(page.locator('body')).toHaveAttribute('data-model', /sieve-tiny/, { timeout: 120_000 });
  // Every state the bar shows, recorded as it happens (it lives for a few chunks only).
  await page.evaluate(() => {
    const seen: { value: number; max: number }[] = [];
    (window as unknown as { barStates: typeof seen }).barStates = seen;
    new MutationObserver(() => {
      const bar = document.querySelector('.prefill-progress progress') as HTMLProgressElement | null;
      if (bar && (seen.length === 0 || seen[seen.length - 1].value !== bar.value)) seen.push({ value: bar.value, max: bar.max });
    }).observe(document.getElementById('messages') as HTMLElement, { subtree: true, childList: true, attributes: true });
  });
  await page.getByLabel('Max tokens').fill('2');
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill('The cat sat on the mat and looked at the sun. '.repeat(92));
  await box.press('Enter');
  const reply = page.locator('.message.assistant').first();
  await expect(reply).toHaveAttribute('data-finish', /.+/, { timeout: 240_000 });
  const states = await page.evaluate(() => (window as unknown as { barStates: { value: number; max: number }[] }).barStates);
  console.log(`prefill bar states: ${JSON.stringify(states)}`);
  expect(states.length).toBeGreaterThan(0);
  expect(states[0].max).toBeGreaterThan(1024);
  for (let i = 1; i < states.length; i++) expect(states[i].value).toBeGreaterThan(states[i - 1].value);
  await expect(page.locator('.prefill-progress')).toHaveCount(0);
});
