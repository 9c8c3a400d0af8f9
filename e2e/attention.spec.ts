// The evicting policies through the whole engine in Chromium (ORT prefill, the decoder the adapter gets, the worker's
// generation loop): greedy ids equal the CPU reference backend's under the same policy, with a prompt longer than the
// budget (evicted at prefill) and generation past it; the cache reports the budget; a budget covering everything
// gives dense's ids; a request without a policy after one with a policy is dense again. Across two turns the
// sequence goes on from turn 1's bounded cache (only the new ids are prefilled), as the CPU reference does.
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

/** The next turn's new ids (after turn 1's prompt and reply). */
const TURN2_NEW = [5, ...Array.from({ length: 14 }, (_, i) => 7 + ((i * 97) % 400))];

/**
 * Two turns on one sequence of the CPU evicting reference, as the engine should run them: turn 1 greedy (its last id
 * sampled but never fed), then that last id and turn 2's new ids as one prefill (evicted at once), then greedy.
 */
async function referenceTwoTurns(attention: string): Promise<{ turn1: number[]; turn2: number[] }> {
  const { loadModelFromPath } = await import('../engine/model/node.ts');
  const { EvictingReferenceModel, createReferenceEvictionPolicy, parseAttentionSpec } = await import('../engine/attention/cpu.ts');
  const loaded = await loadModelFromPath(STORIES);
  const policy = createReferenceEvictionPolicy(parseAttentionSpec(attention), loaded.config.numLayers);
  if (!policy) throw new Error(`${attention} has no CPU reference`);
  const ref = new EvictingReferenceModel(loaded.config, loaded.weights, policy);
  const vocab = loaded.config.vocabSize;
  const argmax = (logits: Float32Array, row: number) => {
    let best = 0;
    for (let i = 1; i < vocab; i++) if (logits[row * vocab + i] > logits[row * vocab + best]) best = i;
    return best;
  };
  const greedy = (logits: Float32Array, rows: number) => {
    const ids = [argmax(logits, rows - 1)];
    while (ids.length < GENERATE) ids.push(argmax(ref.decode(ids[ids.length - 1]), 0));
    return ids;
  };
  const first = greedy(ref.prefill(PROMPT), PROMPT.length);
  const tail = [first[first.length - 1], ...TURN2_NEW];
  return { turn1: first, turn2: greedy(ref.prefill(tail), tail.length) };
}

test('h2o across two turns: turn 2 goes on from turn 1\'s bounded cache, prefilling only its new ids, as the reference does', async ({ page }) => {
  await openHost(page);
  await hostOk(page, 'load', '/shared-models/stories260K/stories260K.gguf');
  const attention = `h2o:budget=${BUDGET}`;
  interface Turn { ids: number[]; usage: Generated['usage'] & { prompt_tokens: number; prompt_tokens_details: { cached_tokens: number } } }
  const generate = async (ids: number[]) => (await hostOk(page, 'generate', { ids, maxTokens: GENERATE, ignoreEos: true, attention })).result as Turn;

  const turn1 = await generate(PROMPT);
  const turn2Prompt = [...PROMPT, ...turn1.ids, ...TURN2_NEW];
  const turn2 = await generate(turn2Prompt);
  const want = await referenceTwoTurns(attention);
  console.log(`turn 1 ${JSON.stringify(turn1.ids)}\n  reference ${JSON.stringify(want.turn1)}\nturn 2 ${JSON.stringify(turn2.ids)}\n  reference ${JSON.stringify(want.turn2)}`
    + `\nturn 2: prompt_tokens ${turn2.usage.prompt_tokens}, cached ${turn2.usage.prompt_tokens_details.cached_tokens}, tokens_in_cache ${turn2.usage.tokens_in_cache}`);
  expect(turn1.ids).toEqual(want.turn1);
  // Every id fed in turn 1 (its prompt and all but its last generated id) is served by the cache: 16 are prefilled.
  expect(turn2.usage.prompt_tokens_details.cached_tokens).toBe(PROMPT.length + GENERATE - 1);
  expect(turn2.usage.prompt_tokens - turn2.usage.prompt_tokens_details.cached_tokens).toBe(TURN2_NEW.length + 1);
  expect(turn2.usage.tokens_in_cache).toBe(BUDGET);
  expect(turn2.ids).toEqual(want.turn2);
});
