// The OpenAI-style API on the CPU reference over stories260K: objects, chunks, usage, logprobs, stops, abort, context.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ReferenceBackend } from '../cli/reference-runner.ts';
import { ContextFullError, InvalidArgumentError } from '../errors/index.ts';
import { loadModelFromPath } from '../model/node.ts';
import { createChatTemplate, loadTokenizer } from '../tokenizer/index.ts';
import { createChatCompletion, createCompletion } from './completions.ts';
import type { ChatCompletionChunk, CompletionChunk } from './types.ts';

const STORIES = fileURLToPath(new URL('../../../shared/models/stories260K/stories260K.gguf', import.meta.url));
const BOS = 1;
const README_TEXT = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily\'s mom said, "Lily, let\'s go to';
const USAGE_KEYS = ['completion_tokens', 'context_length', 'decode_tokens_per_s', 'kv_bytes', 'prefill_tokens_per_s', 'prefilled_tokens', 'prompt_tokens', 'prompt_tokens_details', 'tokens_in_cache', 'total_tokens'];

const loaded = await loadModelFromPath(STORIES);
const tokenizer = loadTokenizer(loaded)!;
const template = createChatTemplate(loaded.tokenizerFiles.tokenizerConfig);
const backend = new ReferenceBackend(loaded);

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const c of stream) out.push(c);
  return out;
}

describe('createCompletion', () => {
  it('greedy from token ids returns a text_completion with the README text and usage', async () => {
    const c = await createCompletion(backend, tokenizer, { prompt: [BOS], max_tokens: 80, temperature: 0 }, { modelName: 'stories260K' });
    expect(c.object).toBe('text_completion');
    expect(c.model).toBe('stories260K');
    expect(c.id).toMatch(/^cmpl-/);
    expect(c.choices[0]).toEqual({ index: 0, text: README_TEXT, logprobs: null, finish_reason: 'length' });
    expect(Object.keys(c.usage).sort()).toEqual(USAGE_KEYS);
    expect(c.usage).toMatchObject({ prompt_tokens: 1, completion_tokens: 80, total_tokens: 81, tokens_in_cache: 80, context_length: 2048, prompt_tokens_details: { cached_tokens: 0 } });
    expect(c.usage.kv_bytes).toBe(80 * 5 * 4 * 8 * 2 * 4); // positions x layers x KV heads x head dim x (K, V) x f32
  });

  it('streams chunks whose texts join to the same text; the last chunk carries usage', async () => {
    const stream = await createCompletion(backend, tokenizer, { prompt: 'Once upon a time', max_tokens: 30, temperature: 0, stream: true });
    const chunks: CompletionChunk[] = await collect(stream);
    const whole = await createCompletion(backend, tokenizer, { prompt: 'Once upon a time', max_tokens: 30, temperature: 0 });
    const last = chunks[chunks.length - 1], finish = chunks[chunks.length - 2];
    expect(chunks.slice(0, -1).map((c) => c.choices[0].text).join('')).toBe(whole.choices[0].text);
    expect(whole.choices[0].text.startsWith(',')).toBe(true); // continues "time" directly
    expect(finish.choices[0].finish_reason).toBe('length');
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: tokenizer.encode('Once upon a time').length, completion_tokens: 30 });
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
  });

  it('legacy logprobs: token strings, logprobs and top alternatives; greedy picks the top one', async () => {
    const c = await createCompletion(backend, tokenizer, { prompt: [BOS], max_tokens: 5, temperature: 0, logprobs: 2 });
    const lp = c.choices[0].logprobs!;
    expect(lp.tokens).toEqual(['Once', 'upon', 'a', 'time', ',']);
    expect(lp.token_logprobs.every((x) => x < 0)).toBe(true);
    expect(lp.top_logprobs.map((t) => Object.keys(t).length)).toEqual([2, 2, 2, 2, 2]);
    lp.top_logprobs.forEach((t, i) => expect(Math.max(...Object.values(t))).toBeCloseTo(lp.token_logprobs[i], 6));
  });
});

describe('createChatCompletion', () => {
  const messages = [{ role: 'user' as const, content: 'Tell me a story.' }];

  it('renders the default template, streams a role chunk, content, a finish chunk and a usage chunk', async () => {
    const chunks: ChatCompletionChunk[] = await collect(await createChatCompletion(backend, tokenizer, template, { messages, stream: true, max_tokens: 40, temperature: 0 }));
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0].id)).toBe(true);
    const usage = chunks[chunks.length - 1].usage!;
    expect(usage.prompt_tokens).toBe(tokenizer.encode('User: Tell me a story.\nAssistant:').length);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    const whole = await createChatCompletion(backend, tokenizer, template, { messages, max_tokens: 40, temperature: 0 });
    expect(whole.object).toBe('chat.completion');
    expect(whole.choices[0].message).toEqual({ role: 'assistant', refusal: null, content: text });
    expect(text.length).toBeGreaterThan(0);
    expect(text).not.toContain('\nUser:');
    expect(chunks[chunks.length - 2].choices[0].finish_reason).toBe(whole.choices[0].finish_reason);
  });

  it('the same seed gives the same reply; another seed another', async () => {
    const ask = (seed: number) => createChatCompletion(backend, tokenizer, template, { messages, max_tokens: 40, temperature: 0.9, top_p: 0.95, seed });
    const a = await ask(7), b = await ask(7), c = await ask(8);
    expect(b.choices[0].message.content).toBe(a.choices[0].message.content);
    expect(c.choices[0].message.content).not.toBe(a.choices[0].message.content);
  });

  it('a stop string across tokens ends the reply before it, with finish_reason stop', async () => {
    const r = await createCompletion(backend, tokenizer, { prompt: [BOS], temperature: 0, stop: ['girl na'] });
    expect(r.choices[0]).toMatchObject({ text: 'Once upon a time, there was a little ', finish_reason: 'stop' });
  });

  it('chat logprobs: one entry per generated token, with top_logprobs', async () => {
    const r = await createChatCompletion(backend, tokenizer, template, { messages, max_tokens: 6, temperature: 0, logprobs: true, top_logprobs: 3 });
    const content = r.choices[0].logprobs!.content;
    expect(content).toHaveLength(r.usage.completion_tokens);
    for (const e of content) {
      expect(e.top_logprobs).toHaveLength(3);
      expect(e.top_logprobs[0].logprob).toBeCloseTo(e.logprob, 6);
      expect(e.bytes).toEqual([...new TextEncoder().encode(e.token)]);
    }
  });

  it('n = 3: three choices, each as a lone request with seed + i would give, streamed one after another', async () => {
    const req = { messages, max_tokens: 8, temperature: 1, seed: 11 };
    const r = await createChatCompletion(backend, tokenizer, template, { ...req, n: 3 });
    expect(r.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    const alone: (string | null)[] = [];
    for (const i of [0, 1, 2]) alone.push((await createChatCompletion(backend, tokenizer, template, { ...req, seed: 11 + i })).choices[0].message.content);
    expect(r.choices.map((c) => c.message.content)).toEqual(alone);
    expect(new Set(alone).size).toBeGreaterThan(1);
    expect(r.choices[0].message.refusal).toBeNull();
    expect(r.usage.completion_tokens).toBe(24);

    const texts = ['', '', ''];
    const finishes: (string | null)[] = [];
    for await (const c of await createChatCompletion(backend, tokenizer, template, { ...req, n: 3, stream: true })) {
      for (const ch of c.choices) {
        texts[ch.index] += ch.delta.content ?? '';
        if (ch.finish_reason) finishes.push(ch.finish_reason);
      }
    }
    expect(texts).toEqual(alone);
    expect(finishes).toEqual(['length', 'length', 'length']);
  });

  it('abort mid-stream ends with finish_reason abort; a stream left early and the next request are fine', async () => {
    const controller = new AbortController();
    const stream = await createChatCompletion(backend, tokenizer, template, { messages, stream: true, temperature: 0, max_tokens: 200 }, { signal: controller.signal });
    const seen: ChatCompletionChunk[] = [];
    for await (const c of stream) {
      seen.push(c);
      if (seen.length === 4) controller.abort();
    }
    const finish = seen[seen.length - 2].choices[0];
    expect(finish.finish_reason).toBe('abort');
    expect(seen[seen.length - 1].usage!.completion_tokens).toBeLessThan(10);

    const early = await createCompletion(backend, tokenizer, { prompt: [BOS], temperature: 0, stream: true });
    for await (const c of early) if (c.choices[0]?.text) break; // the consumer walks away

    const next = await createCompletion(backend, tokenizer, { prompt: [BOS], max_tokens: 80, temperature: 0 });
    expect(next.choices[0].text).toBe(README_TEXT);
  });

  it('a prompt longer than the context rejects with ContextFullError (streaming too); a full context ends with length', async () => {
    const long = 'Once upon a time '.repeat(10);
    await expect(createCompletion(backend, tokenizer, { prompt: long, stream: true }, { contextLength: 16 })).rejects.toThrow(ContextFullError);
    await expect(createChatCompletion(backend, tokenizer, template, { messages: [{ role: 'user', content: long }] }, { contextLength: 16 })).rejects.toThrow(ContextFullError);
    const r = await createCompletion(backend, tokenizer, { prompt: [BOS], temperature: 0 }, { contextLength: 16 });
    expect(r.choices[0].finish_reason).toBe('length');
    expect(r.usage.completion_tokens).toBe(15);
    expect((await createCompletion(backend, tokenizer, { prompt: [BOS], max_tokens: 80, temperature: 0 })).choices[0].text).toBe(README_TEXT);
  });

  it('an id-only model: completions take ids and refuse text prompts and stop strings', async () => {
    await expect(createCompletion(backend, null, { prompt: 'hi' })).rejects.toMatchObject({ details: { param: 'prompt' } });
    await expect(createCompletion(backend, null, { prompt: [BOS], stop: '.' })).rejects.toMatchObject({ details: { param: 'stop' } });
    const r = await createCompletion(backend, null, { prompt: [BOS], max_tokens: 3, temperature: 0 });
    expect(r.choices[0].text).toBe('');
    expect(r.usage.completion_tokens).toBe(3);
  });

  it('rejected requests leave the engine ready', async () => {
    await expect(createChatCompletion(backend, tokenizer, template, { messages, temperature: 5 })).rejects.toThrow(InvalidArgumentError);
    const r = await createCompletion(backend, tokenizer, { prompt: [BOS], max_tokens: 80, temperature: 0 });
    expect(r.choices[0].text).toBe(README_TEXT);
  });
});
