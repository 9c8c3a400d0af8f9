// The issue's user path with a GGUF that holds Llama-3's real vocabulary: load the file, chat through the OpenAI-style
// API on the CPU reference. The prompt is the file's own chat template (tokenizer.chat_template) rendered and
// tokenized by llama.cpp's rules, and the reply comes back as text, not byte-level symbols ("ĠÐ²Ð¸...").
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createChatCompletion } from '../../../engine/api/completions.ts';
import { ReferenceBackend } from '../../../engine/cli/reference-runner.ts';
import { loadModelFromPath } from '../../../engine/model/node.ts';
import { createChatTemplate, loadTokenizer } from '../../../engine/tokenizer/index.ts';
import { buildVocabGguf, familyTokenizerFiles } from './vocab-gguf.ts';

describe('chat with a GGUF carrying a real vocabulary (Llama-3)', () => {
  it('renders the GGUF chat template, tokenizes as llama.cpp, and replies in text', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sieve-gguf-chat-')), 'llama3-vocab.gguf');
    writeFileSync(file, buildVocabGguf('llama3'));
    const loaded = await loadModelFromPath(file);
    const tokenizer = loadTokenizer(loaded);
    if (!tokenizer) throw new Error('the GGUF gave no tokenizer');
    const template = createChatTemplate(loaded.tokenizerFiles.tokenizerConfig);
    expect(template.isDefault).toBe(false);
    const messages = [{ role: 'system' as const, content: 'Be brief.' }, { role: 'user' as const, content: 'Привет! Как дела?' }];
    // The template is Llama-3's own, so it renders as the HF checkpoint's tokenizer_config.json does.
    const hf = createChatTemplate(familyTokenizerFiles('llama3').tokenizerConfig).render(messages);
    expect(template.render(messages)).toBe(hf);
    const reply = await createChatCompletion(new ReferenceBackend(loaded), tokenizer, template, {
      messages, max_tokens: 12, temperature: 0.9, seed: 7, logprobs: true,
    });
    // The template prints <|begin_of_text|> and the tokenizer adds it too (add_bos_token, as llama.cpp does, warning);
    // the engine keeps one. The header tokens are single ids.
    const ids = tokenizer.encode(hf);
    expect(ids.slice(0, 2)).toEqual([loaded.config.bosTokenId, loaded.config.bosTokenId]);
    expect(ids).toContain(loaded.ggufVocabulary!.tokens.indexOf('<|start_header_id|>'));
    expect(reply.usage.prompt_tokens).toBe(ids.length - 1);
    const text = reply.choices[0].message.content ?? '';
    const pieces = (reply.choices[0].logprobs?.content ?? []).map((t) => t.token);
    expect(pieces.length).toBeGreaterThan(0);
    expect(text.length).toBeGreaterThan(0);
    // Byte-level BPE writes a space as Ġ and a newline as Ċ; decoded text has neither.
    expect(`${text}${pieces.join('')}`).not.toMatch(/[ĠĊ]/);
  }, 120_000);
});

describe('streaming a GGUF into a weight sink', () => {
  it('hands each tensor over in pieces of at most 8 MiB of f32, converted from the file as they go', async () => {
    const { pathFileSource, streamFromSource } = await import('../../../engine/model/node.ts');
    const file = join(mkdtempSync(join(tmpdir(), 'sieve-gguf-stream-')), 'qwen3-vocab.gguf');
    writeFileSync(file, buildVocabGguf('qwen3'));
    const pieces: { name: string; rowStart: number; rows: number; bytes: number; sum: number }[] = [];
    await streamFromSource(pathFileSource(file), {
      piece(name, _shape, rowStart, rows, data) {
        let sum = 0;
        for (const x of data) sum += x;
        pieces.push({ name, rowStart, rows, bytes: data.byteLength, sum });
      },
    });
    expect(Math.max(...pieces.map((p) => p.bytes))).toBeLessThanOrEqual(8 * 1024 * 1024);
    // Qwen3's 151,669 x 16 f32 embedding (9.7 MB) comes in two pieces, in row order, covering every row once.
    const embed = pieces.filter((p) => p.name === 'model.embed_tokens.weight');
    expect(embed.length).toBe(2);
    expect(embed.map((p) => [p.rowStart, p.rows])).toEqual([[0, embed[0].rows], [embed[0].rows, 151669 - embed[0].rows]]);
    // The same values as the whole tensor read at once.
    const whole = (await loadModelFromPath(file)).weights.get('model.embed_tokens.weight').data;
    let sum = 0;
    for (const x of whole) sum += x;
    expect(embed[0].sum + embed[1].sum).toBeCloseTo(sum, 3);
  }, 60_000);
});
