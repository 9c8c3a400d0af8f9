// Structured output on sieve-tiny (CPU reference): 50 JSON Schemas (nested objects, enums, arrays, bounded numbers),
// each reply that ends 'stop' parses and validates under ajv (a validator we did not write), and at least 90% stop
// within max_tokens; json_object, an EBNF grammar and a regex; invalid schemas name where they are invalid.
import { fileURLToPath } from 'node:url';
import Ajv from 'ajv';
import { describe, expect, it } from 'vitest';
import { createChatCompletion, generateIds, completionRequestOf } from '../api/index.ts';
import { ReferenceBackend } from '../cli/reference-runner.ts';
import { InvalidSchemaError } from '../errors/index.ts';
import type { ForwardBackend } from '../generation/index.ts';
import { loadModelFromPath } from '../model/node.ts';
import { createChatTemplate, loadTokenizer } from '../tokenizer/index.ts';

const TINY = fileURLToPath(new URL('../../models/sieve-tiny', import.meta.url));
const loaded = await loadModelFromPath(TINY);
const tokenizer = loadTokenizer(loaded)!;
const template = createChatTemplate(loaded.tokenizerFiles.tokenizerConfig);
/** A backend whose device-side greedy loop must never run: constrained requests decode step by step on the CPU. */
class NoDeviceGreedy extends ReferenceBackend {
  decodeStream(): AsyncGenerator<number, void, undefined> { throw new Error('a constrained request took the device path'); }
}
const backend: ForwardBackend = new NoDeviceGreedy(loaded, undefined, { reusePrefix: true });
const messages = [{ role: 'user' as const, content: 'JSON' }];
const ajv = new Ajv({ strict: false });

/** 50 schemas: 10 shapes x 5 variants (enums, bounds, lengths and nesting vary with the variant). */
function schemas(): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const words = ['red', 'green', 'blue', 'cat', 'dog', 'sea', 'ship', 'whale', 'yes', 'no'];
  for (let v = 0; v < 5; v++) {
    const e = words.slice(v, v + 2 + (v % 3));
    out.push(
      { type: 'object', properties: { name: { type: 'string', maxLength: 4 + v }, age: { type: 'integer', minimum: v, maximum: 20 + v * 10 } }, required: ['name', 'age'] },
      { type: 'object', properties: { color: { enum: e }, ok: { type: 'boolean' } }, required: ['color', 'ok'] },
      { type: 'array', items: { type: 'integer', minimum: -v, maximum: 9 }, minItems: 1, maxItems: 2 + v },
      { type: 'object', properties: { inner: { type: 'object', properties: { x: { type: 'integer', minimum: 0, maximum: 5 + v }, tag: { enum: e } }, required: ['x', 'tag'] } }, required: ['inner'] },
      { type: 'object', properties: { list: { type: 'array', items: { enum: e }, maxItems: 1 + v } }, required: ['list'] },
      { type: 'object', properties: { score: { type: 'number', minimum: 0, maximum: 1 + v } }, required: ['score'] },
      { enum: e.map((w, i) => (i % 2 === 0 ? w : i)) },
      { type: 'object', properties: { a: { type: 'object', properties: { b: { type: 'object', properties: { c: { type: 'boolean' } }, required: ['c'] } }, required: ['b'] }, n: { type: 'null' } }, required: ['a', 'n'] },
      { type: 'object', properties: { kind: { const: words[v] }, count: { type: 'integer', minimum: 1, maximum: 3 }, note: { type: 'string', maxLength: 3 } }, required: ['kind', 'count', 'note'] },
      { type: 'array', items: { type: 'object', properties: { id: { type: 'integer', minimum: 0, maximum: 9 } }, required: ['id'] }, minItems: 1, maxItems: 1 + (v % 2) },
    );
  }
  return out;
}

describe('structured output on sieve-tiny', () => {
  it('50 schemas: every reply that stops is valid JSON for its schema, and >= 90% stop within max_tokens', async () => {
    const all = schemas();
    expect(all).toHaveLength(50);
    let stopped = 0;
    let tokens = 0;
    const t0 = performance.now();
    const invalid: string[] = [];
    for (const [i, schema] of all.entries()) {
      const r = await createChatCompletion(backend, tokenizer, template, {
        messages, max_tokens: 48, temperature: 0, response_format: { type: 'json_schema', json_schema: { name: `s${i}`, schema } },
      });
      tokens += r.usage.completion_tokens;
      const { finish_reason, message } = r.choices[0];
      if (finish_reason !== 'stop') continue;
      stopped++;
      let value: unknown;
      try { value = JSON.parse(message.content as string); } catch { invalid.push(`${i}: ${message.content}`); continue; }
      if (!ajv.validate(schema, value)) invalid.push(`${i}: ${message.content} ${ajv.errorsText()}`);
    }
    console.log(`50 schemas: ${stopped} stopped, ${tokens} tokens, ${(performance.now() - t0).toFixed(0)} ms`);
    expect(invalid).toEqual([]);
    expect(stopped).toBeGreaterThanOrEqual(45);
  }, 120_000);

  it('json_object gives a JSON object; sampling under a seed and streaming follow the grammar too', async () => {
    // sieve-tiny writes free-form objects on and on; a short one comes under a seed.
    const r = await createChatCompletion(backend, tokenizer, template, { messages, max_tokens: 24, temperature: 0, response_format: { type: 'json_object' } });
    expect(r.choices[0].message.content).toMatch(/^\{/);
    if (r.choices[0].finish_reason === 'stop') expect(JSON.parse(r.choices[0].message.content as string)).toBeTypeOf('object');
    const schema = { type: 'object', properties: { pet: { enum: ['cat', 'dog'] }, legs: { type: 'integer', minimum: 0, maximum: 8 } }, required: ['pet', 'legs'] };
    let text = '';
    for await (const c of await createChatCompletion(backend, tokenizer, template, {
      messages, max_tokens: 40, temperature: 1, seed: 3, n: 2, stream: true, response_format: { type: 'json_schema', json_schema: { name: 'pet', schema } },
    })) text += c.choices[0]?.index === 0 ? c.choices[0].delta.content ?? '' : '';
    expect(ajv.validate(schema, JSON.parse(text))).toBe(true);
  });

  it('an EBNF grammar and a regex', async () => {
    const g = await createChatCompletion(backend, tokenizer, template, {
      messages, max_tokens: 20, temperature: 0, response_format: { type: 'grammar', grammar: 'root ::= ("ab" | "cd")+ "!"' },
    });
    expect(g.choices[0].finish_reason).toBe('stop');
    expect(g.choices[0].message.content).toMatch(/^(ab|cd)+!$/);
    const x = await createChatCompletion(backend, tokenizer, template, {
      messages, max_tokens: 20, temperature: 0, response_format: { type: 'regex', regex: '[0-9]{3}-[a-z]{2,4}' },
    });
    expect(x.choices[0].finish_reason).toBe('stop');
    expect(x.choices[0].message.content).toMatch(/^[0-9]{3}-[a-z]{2,4}$/);
  });

  it('an invalid schema, grammar or regex is InvalidSchemaError naming where; the engine then still answers', async () => {
    const at = async (format: Record<string, unknown>) => {
      const e = await createChatCompletion(backend, tokenizer, template, { messages, max_tokens: 4, response_format: format as never }).catch((x) => x);
      expect(e).toBeInstanceOf(InvalidSchemaError);
      expect(e.code).toBe('INVALID_SCHEMA');
      expect(e.remedy.length).toBeGreaterThan(0);
      return [e.details.at, e.message] as [string, string];
    };
    // [schema, where, whether JSON Schema's meta-schema (ajv) refuses it too: a minimum above the maximum and a pattern
    // that is no regex pass the meta-schema but can match nothing / cannot be compiled]
    const bad: [Record<string, unknown>, string, boolean][] = [
      [{ type: 'object', properties: { age: { type: 'integr' } } }, '/properties/age/type', true],
      [{ type: 'object', properties: { a: { type: 'array', items: { minimum: 'x' } } } }, '/properties/a/items/minimum', true],
      [{ type: 'object', required: 'a' }, '/required', true],
      [{ anyOf: [] }, '/anyOf', true],
      [{ type: 'string', minLength: 5, maxLength: 2 }, '/minLength', false],
      [{ type: 'object', properties: { p: { type: 'string', pattern: '([a-z' } } }, '/properties/p/pattern', false],
      [{ type: 'number', minimum: 0.2, maximum: 0.8 }, '', false],
    ];
    for (const [schema, pointer, metaRefuses] of bad) {
      if (metaRefuses) expect(ajv.validateSchema(schema)).toBe(false);
      const [where] = await at({ type: 'json_schema', json_schema: { name: 'x', schema } });
      expect(where).toBe(`response_format.json_schema.schema${pointer}`);
    }
    const [gAt, gMessage] = await at({ type: 'grammar', grammar: 'root ::= "a" | ' });
    expect(gAt).toBe('response_format.grammar');
    expect(gMessage).toContain('line 1, column 16');
    const [rAt, rMessage] = await at({ type: 'regex', regex: '[0-9' });
    expect(rAt).toBe('response_format.regex');
    expect(rMessage).toContain('Unclosed');
    const ok = await createChatCompletion(backend, tokenizer, template, { messages, max_tokens: 20, temperature: 0, response_format: { type: 'regex', regex: '(yes|no)' } });
    expect(ok.choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: expect.stringMatching(/^(yes|no)$/) } });
  });

  it("a SentencePiece vocabulary (stories260K's GGUF: U+2581 spaces, <0xXX> byte tokens) masks as well", async () => {
    const stories = await loadModelFromPath(fileURLToPath(new URL('../../../shared/models/stories260K/stories260K.gguf', import.meta.url)));
    const spm = loadTokenizer(stories)!;
    expect(spm.grammarVocabulary()).toMatchObject({ type: 'byte_fallback', prependSpace: true });
    const schema = { type: 'object', properties: { name: { enum: ['Lily', 'Tom'] }, age: { type: 'integer', minimum: 1, maximum: 9 } }, required: ['name', 'age'] };
    const r = await generateIds(new ReferenceBackend(stories), spm, createChatTemplate(null), completionRequestOf({ prompt: 'Once upon a time', maxTokens: 40 }), false, {}, schema);
    expect(r.finish_reason).toBe('stop');
    expect(ajv.validate(schema, JSON.parse(r.text))).toBe(true);
  });

  it("generateIds with a JSON schema (sieve generate --json-schema) gives the schema's JSON", async () => {
    const schema = { type: 'object', properties: { answer: { enum: ['yes', 'no'] } }, required: ['answer'] };
    const r = await generateIds(backend, tokenizer, template, completionRequestOf({ prompt: 'Is the sea big?', maxTokens: 30, chat: true }), true, {}, schema);
    expect(r.finish_reason).toBe('stop');
    expect(ajv.validate(schema, JSON.parse(r.text))).toBe(true);
    await expect(generateIds(backend, tokenizer, template, completionRequestOf({ prompt: 'x', maxTokens: 3 }), false, {}, { type: 'nope' }))
      .rejects.toMatchObject({ code: 'INVALID_SCHEMA', details: { at: '--json-schema/type' } });
  });
});
