// The engine's tokenizer and chat template on sieve-tiny against transformers' AutoTokenizer (models/sieve-tiny/golden/).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModelFromPath, type LoadedModel } from '../model/node.ts';
import { createChatTemplate, loadTokenizer, type ChatMessage, type ChatTemplate, type TextTokenizer } from './index.ts';

const MODEL_DIR = fileURLToPath(new URL('../../models/sieve-tiny/', import.meta.url));
const GOLDEN_DIR = `${MODEL_DIR}golden/`;

interface EncodingCase { text: string; ids: number[]; decoded: string }
interface ChatCase { messages: ChatMessage[]; text: string; ids: number[] }
interface PasskeyCase { messages: ChatMessage[]; text: string; ids: number[] }

function golden<T>(name: string): T {
  return JSON.parse(readFileSync(`${GOLDEN_DIR}${name}`, 'utf8')) as T;
}

/** JSON.stringify shows whitespace and control characters, so a failure message says exactly which string it was. */
const show = (s: string) => JSON.stringify(s);

describe('sieve-tiny tokenizer and chat template = transformers AutoTokenizer', () => {
  let model: LoadedModel;
  let tokenizer: TextTokenizer;
  let template: ChatTemplate;
  const encodings = golden<{ add_special_tokens: boolean; cases: EncodingCase[] }>('encodings.json');
  const chats = golden<ChatCase[]>('chat.json');
  const passkey = golden<PasskeyCase>('passkey.json');

  beforeAll(async () => {
    model = await loadModelFromPath(MODEL_DIR);
    const t = loadTokenizer(model);
    if (!t) throw new Error('models/sieve-tiny has no tokenizer files');
    tokenizer = t;
    template = createChatTemplate(model.tokenizerFiles.tokenizerConfig);
  });

  it('the fixture is the one described: 100 distinct strings, raw-prompt encoding adds no special tokens', () => {
    expect(encodings.cases).toHaveLength(100);
    expect(new Set(encodings.cases.map((c) => c.text)).size).toBe(100);
    // tokenizer_config.json says add_bos_token false, so transformers was asked for exactly what the engine does.
    expect(encodings.add_special_tokens).toBe(model.tokenizerFiles.tokenizerConfig?.add_bos_token === true);
  });

  it('encodes all 100 strings to the same ids', () => {
    const wrong = encodings.cases
      .map((c) => ({ text: show(c.text), want: c.ids, got: tokenizer.encode(c.text) }))
      .filter((r) => JSON.stringify(r.got) !== JSON.stringify(r.want));
    expect(wrong).toEqual([]);
  });

  it('decodes the ids back to the same text', () => {
    const wrong = encodings.cases
      .map((c) => ({ text: show(c.text), want: show(c.decoded), got: show(tokenizer.decode(c.ids)) }))
      .filter((r) => r.got !== r.want);
    expect(wrong).toEqual([]);
    // transformers round-trips every one of them (byte-level BPE, no normalizer); so must we.
    expect(encodings.cases.every((c) => c.decoded === c.text)).toBe(true);
  });

  it('renders every conversation to the same prompt text and ids', () => {
    expect(template.isDefault).toBe(false);
    expect(chats.length).toBeGreaterThanOrEqual(5);
    for (const c of chats) {
      const text = template.render(c.messages, { addGenerationPrompt: true });
      expect(show(text), `messages ${JSON.stringify(c.messages)}`).toBe(show(c.text));
      expect(tokenizer.encode(text)).toEqual(c.ids);
    }
  });

  it('renders and encodes the pass-key prompt of the e2e test as transformers does', () => {
    const text = template.render(passkey.messages, { addGenerationPrompt: true });
    expect(text).toBe(passkey.text);
    expect(tokenizer.encode(text)).toEqual(passkey.ids);
  });

  it('encodes the golden logits text: its ids start with <s> and decode to the Pride and Prejudice opening', () => {
    const ids = golden<number[]>('ids.json');
    const text = tokenizer.decode(ids);
    expect(text.startsWith('<s>It is a truth universally acknowledged')).toBe(true);
    expect(tokenizer.encode(text)).toEqual(ids);
  });
});
