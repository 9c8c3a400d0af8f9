// The GGUF-vocabulary tokenizer against llama.cpp (models/golden/gguf-vocab/*.golden.json: llama_tokenize and
// llama_detokenize, cross-checked against llama-tokenize, on 320 strings) for a SentencePiece-style vocabulary
// (stories260K) and two byte-level BPE ones with real vocabularies (Llama-3's and Qwen3's, built from their npm
// packages into GGUF files whose bytes the golden pins by sha256); plus the chat template a GGUF carries.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildVocabGguf, familyTokenizerFiles, sha256, type VocabFamily } from '../../models/golden/gguf-vocab/vocab-gguf.ts';
import { UnsupportedConfigError } from '../model/index.ts';
import { ggufTokenizerConfig, parseGguf } from '../model/gguf.ts';
import { createChatTemplate } from './chat-template.ts';
import { ggufTokenizer } from './gguf-vocab.ts';

const GOLDEN = new URL('../../models/golden/gguf-vocab/', import.meta.url);
const STORIES = new URL('../../../shared/models/stories260K/stories260K.gguf', import.meta.url);

interface Case { text: string; ids: number[]; decoded?: string; decoded_bytes?: number[]; decoded_without_bos?: string }
interface Golden { file: string; sha256: string; cases: Case[] }

function golden(name: string): Golden {
  return JSON.parse(readFileSync(new URL(`${name}.golden.json`, GOLDEN), 'utf8')) as Golden;
}

const show = (s: string) => JSON.stringify(s);

function checkAgainstLlamaCpp(g: Golden, bytes: Uint8Array) {
  expect(sha256(bytes)).toBe(g.sha256); // the very file llama.cpp tokenized
  const { vocabulary } = parseGguf(bytes, g.file);
  const tokenizer = ggufTokenizer(vocabulary, g.file);
  expect(g.cases.length).toBeGreaterThanOrEqual(200);
  const wrongIds = g.cases.filter((c) => JSON.stringify(tokenizer.encode(c.text)) !== JSON.stringify(c.ids))
    .map((c) => `${show(c.text)}: llama.cpp ${JSON.stringify(c.ids)}, Sieve ${JSON.stringify(tokenizer.encode(c.text))}`);
  expect(wrongIds).toEqual([]);
  const wrongText = g.cases.flatMap((c) => {
    const out: string[] = [];
    if (c.decoded !== undefined && tokenizer.decode(c.ids) !== c.decoded) out.push(`${show(c.text)}: llama.cpp ${show(c.decoded)}, Sieve ${show(tokenizer.decode(c.ids))}`);
    if (c.decoded_without_bos !== undefined && tokenizer.decode(c.ids.slice(1)) !== c.decoded_without_bos) {
      out.push(`${show(c.text)} without BOS: llama.cpp ${show(c.decoded_without_bos)}, Sieve ${show(tokenizer.decode(c.ids.slice(1)))}`);
    }
    return out;
  });
  expect(wrongText).toEqual([]);
  return { vocabulary, tokenizer };
}

describe('GGUF tokenizer = llama.cpp', () => {
  it('stories260K (SentencePiece-style): ids and decodes of all strings', () => {
    const g = golden('stories260K');
    checkAgainstLlamaCpp(g, new Uint8Array(readFileSync(STORIES)));
    // The golden covers what it says: whitespace runs, special tokens in the text, byte fallback.
    expect(g.cases.some((c) => c.text.includes('<s>') && c.ids.slice(1).includes(1))).toBe(true);
  });

  for (const family of ['llama3', 'qwen3'] as VocabFamily[]) {
    it(`${family}'s real vocabulary (byte-level BPE): ids and decodes of all strings; text, not byte-level symbols`, () => {
      const g = golden(`${family}-vocab`);
      const { vocabulary, tokenizer } = checkAgainstLlamaCpp(g, buildVocabGguf(family));
      expect(vocabulary.model).toBe('gpt2');
      // The symptom: a reply decoded to "ĠÐ²Ð¸..." instead of text.
      const russian = g.cases.find((c) => c.text === 'Русский текст, ещё') as Case;
      expect(tokenizer.decode(russian.ids.filter((id) => id !== vocabulary.bosTokenId))).toBe('Русский текст, ещё');
      // Special tokens in the text become single ids.
      const special = family === 'llama3' ? '<|eot_id|>' : '<|im_end|>';
      const id = vocabulary.tokens.indexOf(special);
      expect(tokenizer.encode(`a${special}b`)).toContain(id);
    }, 60_000);
  }

  it("renders a GGUF's chat template (tokenizer.chat_template) as its tokenizer_config.json's", () => {
    const { vocabulary } = parseGguf(buildVocabGguf('qwen3'), 'qwen3-vocab.gguf');
    const fromGguf = createChatTemplate(ggufTokenizerConfig(vocabulary));
    const fromHf = createChatTemplate(familyTokenizerFiles('qwen3').tokenizerConfig);
    expect(fromGguf.isDefault).toBe(false);
    const messages = [{ role: 'system' as const, content: 'Be brief.' }, { role: 'user' as const, content: 'Hi!' }];
    expect(fromGguf.render(messages)).toBe(fromHf.render(messages));
    expect(fromGguf.render(messages)).toContain('<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n');
  }, 60_000);

  it('refuses a tokenizer model or pre-tokenizer it does not implement, naming it', () => {
    const { vocabulary } = parseGguf(new Uint8Array(readFileSync(STORIES)), 'stories260K.gguf');
    expect(() => ggufTokenizer({ ...vocabulary, model: 'bert' }, 'x.gguf')).toThrow(UnsupportedConfigError);
    expect(() => ggufTokenizer({ ...vocabulary, model: 'bert' }, 'x.gguf')).toThrow(/tokenizer\.ggml\.model/);
    expect(() => ggufTokenizer({ ...vocabulary, model: 'gpt2', pre: 'unknown-pre', merges: [] }, 'x.gguf')).toThrow(/tokenizer\.ggml\.pre/);
  });
});
