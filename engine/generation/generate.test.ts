// The generation loop on the CPU reference: greedy = transformers' greedy, seeded sampling, stops, abort, context, reuse.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ReferenceBackend } from '../cli/reference-runner.ts';
import { ContextFullError, InvalidArgumentError, NonFiniteLogitsError } from '../errors/index.ts';
import { loadModelFromPath } from '../model/node.ts';
import { loadTokenizer } from '../tokenizer/index.ts';
import { generate, generateAll, type GenerationRequest } from './generate.ts';
import { generateGreedy } from './greedy.ts';
import { GREEDY } from './sampler.ts';

const GOLDEN = new URL('../../models/golden/', import.meta.url);
const STORIES = fileURLToPath(new URL('../../../shared/models/stories260K/stories260K.gguf', import.meta.url));
const CASES = ['llama-gqa-untied', 'llama3-rope', 'qwen2', 'qwen3', 'llama-legacy-config'];
const BOS = 1;
/** The stories260K README's greedy text from BOS (its first 80 ids); token 13 is the one real newline. */
const README_TEXT = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily\'s mom said, "Lily, let\'s go to';

async function stories() {
  const loaded = await loadModelFromPath(STORIES);
  const tokenizer = loadTokenizer(loaded);
  if (!tokenizer) throw new Error('stories260K has a GGUF vocabulary');
  const backend = new ReferenceBackend(loaded);
  const base: GenerationRequest = { ids: [BOS], maxTokens: 80, eosTokenIds: loaded.config.eosTokenIds, decode: (ids) => tokenizer.decode(ids), bosTokenId: BOS };
  return { loaded, tokenizer, backend, base };
}

describe('generation loop on the CPU reference', () => {
  for (const name of CASES) {
    it(`temperature 0 reproduces transformers' greedy continuation (${name}, ignore_eos)`, async () => {
      const loaded = await loadModelFromPath(fileURLToPath(new URL(name, GOLDEN)));
      const greedy = JSON.parse(readFileSync(new URL(`${name}/greedy.json`, GOLDEN), 'utf8')) as { prompt: number[]; continuation: number[] };
      const backend = new ReferenceBackend(loaded);
      const r = await generateAll(backend, {
        ids: greedy.prompt, maxTokens: greedy.continuation.length, eosTokenIds: loaded.config.eosTokenIds, ignoreEos: true,
        sampling: { ...GREEDY, temperature: 0, seed: 123, topK: 5, topP: 0.5 },
      });
      expect(r.ids).toEqual(greedy.continuation);
      expect(r.finishReason).toBe('length');
      expect(r.usage.prompt_tokens).toBe(greedy.prompt.length);
      expect(r.usage.completion_tokens).toBe(greedy.continuation.length);
      // every generated token but the last was fed back
      expect(r.usage.tokens_in_cache).toBe(greedy.prompt.length + greedy.continuation.length - 1);
      const old = await generateGreedy(backend, { ids: greedy.prompt, maxTokens: greedy.continuation.length, eosTokenIds: loaded.config.eosTokenIds, ignoreEos: true });
      expect(old.ids).toEqual(greedy.continuation);
    });
  }

  it("greedy from BOS on stories260K streams the README's text exactly", async () => {
    const { backend, base } = await stories();
    const steps: string[] = [];
    const gen = generate(backend, base);
    let r = await gen.next();
    while (!r.done) { steps.push(r.value.text); r = await gen.next(); }
    expect(steps.join('')).toBe(README_TEXT);
    expect(r.value.text).toBe(README_TEXT);
    expect(r.value.finishReason).toBe('length');
    expect(r.value.usage.decode_tokens_per_s).toBeGreaterThan(0);
    expect(r.value.usage.kv_bytes).toBeGreaterThan(0);
  });

  it('the same seed gives the same ids twice; another seed other ids', async () => {
    const { backend, base } = await stories();
    const sampled = (seed: number) => generateAll(backend, { ...base, maxTokens: 40, sampling: { ...GREEDY, temperature: 1, topP: 0.95, topK: 50, seed } });
    const a = await sampled(42), b = await sampled(42), c = await sampled(43);
    expect(b.ids).toEqual(a.ids);
    expect(b.text).toBe(a.text);
    expect(c.ids).not.toEqual(a.ids);
  });

  it('a stop string spanning token boundaries ends the text right before it', async () => {
    const { backend, base } = await stories();
    // The text's tokens run "▁little|▁g|ir|l|▁named": the stop string spans four of them.
    const r = await generateAll(backend, { ...base, stop: ['girl na', 'zzz'] });
    expect(r.finishReason).toBe('stop');
    expect(r.text).toBe('Once upon a time, there was a little ');
    expect(r.ids.length).toBe(13); // the token that completed the stop string ("▁named") is counted
  });

  it('EOS ends generation with finish_reason stop and no text; ignore_eos goes on; max_tokens gives length', async () => {
    const { backend, base, loaded } = await stories();
    const eos = loaded.config.eosTokenIds[0];
    const forced = { ...base, maxTokens: 5, sampling: { ...GREEDY, logitBias: new Map([[eos, 100]]) } };
    const stop = await generateAll(backend, forced);
    expect(stop).toMatchObject({ ids: [eos], text: '', finishReason: 'stop' });
    const ignored = await generateAll(backend, { ...forced, ignoreEos: true });
    expect(ignored.ids).toEqual([eos, eos, eos, eos, eos]);
    expect(ignored.finishReason).toBe('length');
  });

  it('abort mid-stream ends with finish_reason abort, and the next request is correct', async () => {
    const { backend, base } = await stories();
    const controller = new AbortController();
    const gen = generate(backend, { ...base, signal: controller.signal });
    let count = 0;
    let r = await gen.next();
    while (!r.done) {
      if (r.value.token && ++count === 5) controller.abort();
      r = await gen.next();
    }
    expect(r.value.finishReason).toBe('abort');
    expect(r.value.ids.length).toBe(5);
    expect(r.value.text).toBe('Once upon a time,');
    const next = await generateAll(backend, base);
    expect(next.text).toBe(README_TEXT);
    const before = await generateAll(backend, { ...base, signal: AbortSignal.abort() });
    expect(before).toMatchObject({ ids: [], text: '', finishReason: 'abort' });
  });

  it('the context bounds generation: length when it fills, ContextFullError for a prompt that cannot fit', async () => {
    const { backend, base } = await stories();
    const r = await generateAll(backend, { ...base, maxTokens: null, contextLength: 12 });
    expect(r.finishReason).toBe('length');
    expect(r.usage.context_length).toBe(12);
    expect(r.ids.length).toBe(11);
    await expect(generateAll(backend, { ...base, ids: new Array(12).fill(BOS), contextLength: 12 })).rejects.toThrow(ContextFullError);
    // A max_tokens that cannot fit fails before any prefill, naming the numbers.
    await expect(generateAll(backend, { ...base, maxTokens: 12, contextLength: 12 })).rejects.toThrow(/needs 13 positions but the context is 12 \(a prompt of 1 tokens and max_tokens 12\)/);
    expect((await generateAll(backend, { ...base, maxTokens: 11, contextLength: 12 })).ids.length).toBe(11);
    await expect(generateAll(backend, { ...base, ids: [BOS, 9999] })).rejects.toThrow(InvalidArgumentError);
    expect((await generateAll(backend, base)).text).toBe(README_TEXT);
  });

  it('a backend failure mid-run resets the sequence and the next request is correct', async () => {
    const loaded = await loadModelFromPath(fileURLToPath(new URL('llama-gqa-untied', GOLDEN)));
    const greedy = JSON.parse(readFileSync(new URL('llama-gqa-untied/greedy.json', GOLDEN), 'utf8')) as { prompt: number[]; continuation: number[] };
    const backend = new ReferenceBackend(loaded);
    const eosTokenIds = loaded.config.eosTokenIds;
    // The reference itself refuses position 1024 (its max_position_embeddings); claim a longer context to reach it.
    const long = new Array(1020).fill(0).map((_, i) => 3 + (i % 500));
    await expect(generateAll(backend, { ids: long, contextLength: 4096, maxTokens: 20, eosTokenIds })).rejects.toThrow(ContextFullError);
    expect(backend.cacheUsage().tokensInCache).toBe(0);
    const r = await generateAll(backend, { ids: greedy.prompt, maxTokens: 20, eosTokenIds, ignoreEos: true });
    expect(r.ids).toEqual(greedy.continuation);
  });

  it('a backend that reports a cached prefix gets only the new ids prefilled, with the same output as a cold start', async () => {
    const { loaded, base } = await stories();
    /** The reference with prefix reuse (its ids history, truncated in place), counting what each prefill feeds. */
    class PrefixReferenceBackend extends ReferenceBackend {
      prefilled: number[] = [];
      override async prefill(ids: number[], rows: 'all' | 'last') { this.prefilled.push(ids.length); return super.prefill(ids, rows); }
    }
    const warm = new PrefixReferenceBackend(loaded, undefined, { reusePrefix: true });
    const turn1 = await generateAll(warm, { ...base, maxTokens: 20 });
    const turn2Prompt = [BOS, ...turn1.ids, 13, 403]; // "\nOnce": the next turn appends to the conversation
    warm.prefilled = [];
    const turn2 = await generateAll(warm, { ...base, ids: turn2Prompt, maxTokens: 20 });
    expect(turn2.reusedPrefix).toBe(20); // BOS + 19 fed-back tokens; the 20th was never fed
    expect(turn2.usage.prompt_tokens_details.cached_tokens).toBe(20);
    expect(turn1.usage.prompt_tokens_details.cached_tokens).toBe(0);
    expect(warm.prefilled).toEqual([turn2Prompt.length - 20]);
    const cold = await generateAll(new ReferenceBackend(loaded), { ...base, ids: turn2Prompt, maxTokens: 20 });
    expect(turn2.ids).toEqual(cold.ids);
  });
});

describe('non-finite logits', () => {
  it('a forward that yields NaN logits fails with NON_FINITE_LOGITS, not token 0, and the next request answers', async () => {
    const { loaded, backend, base } = await stories();
    const want = (await generateAll(backend, { ...base, maxTokens: 8 })).ids;
    // One NaN in the final norm's weight makes every logit NaN: what an f16 overflow looks like to the sampler.
    const norm = loaded.weights.get('model.norm.weight').data;
    const kept = norm[0];
    norm[0] = Number.NaN;
    const failed = generateAll(backend, { ...base, maxTokens: 8 });
    await expect(failed).rejects.toBeInstanceOf(NonFiniteLogitsError);
    await expect(failed).rejects.toMatchObject({ code: 'NON_FINITE_LOGITS', details: { position: 0 } });
    norm[0] = kept;
    expect((await generateAll(backend, { ...base, maxTokens: 8 })).ids).toEqual(want);
  });
});
