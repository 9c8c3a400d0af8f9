// sieve-tiny, the project's own model, on the real engine (Chromium's WebGPU, worker) against transformers' logits and
// greedy pass-key answer (models/sieve-tiny/golden/, made by check_transformers.py). One model load for the file.
import { expect, test, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { createChatTemplate, type ChatMessage } from '../engine/tokenizer/index.ts';
import { decodeF32, hostOk, maxAbsDiff, openHost, readF32, REPO_ROOT } from './host.ts';

/** Issue 6 item 4: the engine within 2e-3 of transformers (f32 on both sides, the f16 weights upcast exactly). */
const TRANSFORMERS_TOLERANCE = 2e-3;
const MODEL_URL = '/models/sieve-tiny/';
const MODEL_DIR = `${REPO_ROOT}models/sieve-tiny/`;
const GOLDEN = `${MODEL_DIR}golden/`;
/**
 * Decode steps compared: 40 ids fill two 16-token KV pages and part of a third (DESIGN.md's page size). All 128 rows
 * are compared by prefill; decoding all 128 took over 4 minutes on the shared 2-core machine's software adapter
 * (about 1-3 s a step under load), while 40 matched exactly as well (1.8e-5 at 48 through `sieve logits --decode`).
 */
const DECODE_IDS = 40;

interface PasskeyGolden {
  passkey: string;
  messages: ChatMessage[];
  text: string;
  greedy_ids: number[];
  reply: string;
  max_new_tokens: number;
}

test.describe.configure({ mode: 'serial' });

let page: Page;
let vocabSize = 0;

test.beforeAll(async ({ browser }) => {
  page = await browser.newPage();
  await openHost(page);
  const info = (await hostOk(page, 'load', MODEL_URL)).info as { vocabSize: number; architecture: string };
  vocabSize = info.vocabSize;
});

test.afterAll(async () => {
  await page?.close();
});

test(`sieve-tiny: prefill and decode logits within ${TRANSFORMERS_TOLERANCE} of transformers`, async () => {
  const ids = JSON.parse(readFileSync(`${GOLDEN}ids.json`, 'utf8')) as number[];
  const expected = readF32(`${GOLDEN}logits.f32`);
  expect(expected.length).toBe(ids.length * vocabSize);
  const prefill = decodeF32((await hostOk(page, 'logits', { ids, mode: 'prefill', attention: 'dense' })).base64 as string);
  const decodeIds = ids.slice(0, DECODE_IDS);
  const decode = decodeF32((await hostOk(page, 'logits', { ids: decodeIds, mode: 'decode', attention: 'dense' })).base64 as string);
  const dPrefill = maxAbsDiff(prefill, expected);
  const dDecode = maxAbsDiff(decode, expected.subarray(0, DECODE_IDS * vocabSize));
  const line = `sieve-tiny (vocab ${vocabSize}): |GPU - transformers| prefill (${ids.length} ids) ${dPrefill.toExponential(2)}, decode (${DECODE_IDS} ids) ${dDecode.toExponential(2)}`;
  console.log(line);
  test.info().annotations.push({ type: 'max-abs-diff', description: line });
  expect(dPrefill).toBeLessThan(TRANSFORMERS_TOLERANCE);
  expect(dDecode).toBeLessThan(TRANSFORMERS_TOLERANCE);
});

test('sieve-tiny: greedy chat generation finds the pass key, token for token as transformers', async () => {
  const golden = JSON.parse(readFileSync(`${GOLDEN}passkey.json`, 'utf8')) as PasskeyGolden;
  const config = JSON.parse(readFileSync(`${MODEL_DIR}tokenizer_config.json`, 'utf8')) as Record<string, unknown>;
  // The engine's own chat template renders the prompt; it must be the text transformers rendered.
  const prompt = createChatTemplate(config).render(golden.messages, { addGenerationPrompt: true });
  expect(prompt).toBe(golden.text);
  const r = await hostOk(page, 'generate', { prompt, maxTokens: golden.max_new_tokens, attention: 'dense' });
  const result = r.result as { ids: number[]; text: string; finish_reason: string; usage: Record<string, number> };
  const line = `sieve-tiny pass key (${result.usage.prompt_tokens ?? '?'} prompt tokens): ${JSON.stringify(result.text)} (${result.finish_reason}); transformers: ${JSON.stringify(golden.reply)}`;
  console.log(line);
  test.info().annotations.push({ type: 'generation', description: line });
  expect(result.text).toContain(golden.passkey);
  // The smallest top-2 gap on transformers' greedy path is about 8.6 (passkey.json), far above any f32 difference.
  expect(result.ids).toEqual(golden.greedy_ids);
  expect(result.finish_reason).toBe('stop');
});

test('sieve-tiny with f16 KV (kvDtype): greedy chat generation gives transformers\' ids', async () => {
  // Loaded again with the KV cache in f16 (this adapter's default is f32); last in the file, so the tests above ran
  // on the f32 cache.
  await hostOk(page, 'load', { url: MODEL_URL, kvDtype: 'f16' });
  const golden = JSON.parse(readFileSync(`${GOLDEN}passkey.json`, 'utf8')) as PasskeyGolden;
  const config = JSON.parse(readFileSync(`${MODEL_DIR}tokenizer_config.json`, 'utf8')) as Record<string, unknown>;
  const prompt = createChatTemplate(config).render(golden.messages, { addGenerationPrompt: true });
  const r = await hostOk(page, 'generate', { prompt, maxTokens: golden.max_new_tokens, attention: 'dense' });
  const result = r.result as { ids: number[]; text: string; finish_reason: string };
  console.log(`sieve-tiny pass key with f16 KV: ${JSON.stringify(result.text)} (${result.finish_reason})`);
  // f16 K/V move logits by ~1e-3 (engine/attention/f16-kv-policies.test.ts), far below the 8.6 smallest top-2 gap.
  expect(result.ids).toEqual(golden.greedy_ids);
  expect(result.finish_reason).toBe('stop');
});
