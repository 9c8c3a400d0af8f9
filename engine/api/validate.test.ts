// Every request parameter: invalid types and ranges are rejected with an error naming the parameter; valid ones normalized.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, UnsupportedParameterError } from '../errors/index.ts';
import { samplingDefaultsFromGenerationConfig, validateChatCompletionRequest, validateCompletionRequest } from './validate.ts';

const VOCAB = 512;
const messages = [{ role: 'user', content: 'hi' }];

/** [parameter named in the error, request fields] for the chat endpoint. */
const INVALID_CHAT: [string, Record<string, unknown>][] = [
  ['messages', { messages: [] }],
  ['messages', { messages: 'hi' }],
  ['messages[0]', { messages: ['hi'] }],
  ['messages[0].role', { messages: [{ role: 'robot', content: 'x' }] }],
  ['messages[0].content', { messages: [{ role: 'user', content: 3 }] }],
  ['messages[0].content[0]', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: 'x' }] }] }],
  ['messages[0].name', { messages: [{ role: 'user', content: 'x', name: 1 }] }],
  ['model', { model: 3 }],
  ['stream', { stream: 'yes' }],
  ['stream_options', { stream_options: true }],
  ['stream_options.include_usage', { stream_options: { include_usage: 'yes' } }],
  ['max_tokens', { max_tokens: 0 }],
  ['max_tokens', { max_tokens: 1.5 }],
  ['max_tokens', { max_tokens: '10' }],
  ['max_completion_tokens', { max_completion_tokens: -1 }],
  ['temperature', { temperature: -0.1 }],
  ['temperature', { temperature: 2.5 }],
  ['temperature', { temperature: Number.NaN }],
  ['temperature', { temperature: '0.7' }],
  ['top_p', { top_p: 0 }],
  ['top_p', { top_p: 1.1 }],
  ['top_k', { top_k: 2.5 }],
  ['top_k', { top_k: -2 }],
  ['min_p', { min_p: -0.1 }],
  ['min_p', { min_p: 1.5 }],
  ['repetition_penalty', { repetition_penalty: 0 }],
  ['repetition_penalty', { repetition_penalty: 11 }],
  ['presence_penalty', { presence_penalty: 2.1 }],
  ['presence_penalty', { presence_penalty: -3 }],
  ['frequency_penalty', { frequency_penalty: 5 }],
  ['frequency_penalty', { frequency_penalty: true }],
  ['seed', { seed: 1.5 }],
  ['seed', { seed: 2 ** 60 }],
  ['seed', { seed: '42' }],
  ['stop', { stop: '' }],
  ['stop', { stop: [1] }],
  ['stop', { stop: new Array(17).fill('x') }],
  ['stop', { stop: 5 }],
  ['logit_bias', { logit_bias: [1, 2] }],
  ['logit_bias', { logit_bias: { abc: 1 } }],
  ['logit_bias', { logit_bias: { 512: 1 } }],
  ['logit_bias', { logit_bias: { '-1': 1 } }],
  ['logit_bias', { logit_bias: { 5: 101 } }],
  ['logit_bias', { logit_bias: { 5: '1' } }],
  ['logprobs', { logprobs: 2 }],
  ['top_logprobs', { top_logprobs: 3 }],
  ['top_logprobs', { logprobs: true, top_logprobs: 21 }],
  ['ignore_eos', { ignore_eos: 1 }],
  ['n', { n: 17 }],
  ['n', { n: 0 }],
  ['messages[0].role', { messages: [{ role: 'function', content: 'x', name: 'f' }] }],
  ['messages[0].tool_call_id', { messages: [{ role: 'tool', content: 'x' }] }],
  ['messages[0].tool_calls[0]', { messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'a', type: 'function', function: { name: 'f' } }] }] }],
  ['response_format', { response_format: 'json' }],
  ['response_format.type', { response_format: { type: 'xml' } }],
  ['response_format.json_schema', { response_format: { type: 'json_schema' } }],
  ['response_format.json_schema.name', { response_format: { type: 'json_schema', json_schema: { schema: {} } } }],
  ['response_format.grammar', { response_format: { type: 'grammar', grammar: ' ' } }],
  ['tools', { tools: {} }],
  ['tools[0].type', { tools: [{ type: 'custom', custom: { name: 'x' } }] }],
  ['tools[0].function.name', { tools: [{ type: 'function', function: { name: 'a b' } }] }],
  ['tools[1].function.name', { tools: [{ type: 'function', function: { name: 'f' } }, { type: 'function', function: { name: 'f' } }] }],
  ['tool_choice', { tool_choice: 'required' }],
  ['tool_choice.function.name', { tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: { type: 'function', function: { name: 'g' } } }],
  ['chat_template_kwargs', { chat_template_kwargs: 'x' }],
  ['user', { user: 5 }],
  ['attention', { attention: 5 }],
  ['attention', { attention: { budget: 10 } }],
  ['attention.budget', { attention: { policy: 'h2o', budget: -4 } }],
];

const INVALID_COMPLETION: [string, Record<string, unknown>][] = [
  ['prompt', { prompt: undefined }],
  ['prompt', { prompt: [] }],
  ['prompt', { prompt: [1, 512] }],
  ['prompt', { prompt: ['a', 'b'] }],
  ['logprobs', { logprobs: true }],
  ['logprobs', { logprobs: 21 }],
  ['echo', { echo: true }],
  ['echo', { echo: 'no' }],
  ['n', { n: 2 }],
  ['temperature', { temperature: 3 }],
];

function paramOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidArgumentError);
    const json = (e as InvalidArgumentError).toJSON();
    expect(json.code).toBe('INVALID_ARGUMENT');
    expect(json.message.startsWith(String(json.details?.param))).toBe(true);
    expect(json.remedy.length).toBeGreaterThan(0);
    return json.details?.param as string;
  }
  return undefined;
}

describe('request validation', () => {
  for (const [param, fields] of INVALID_CHAT) {
    it(`chat: rejects ${JSON.stringify(fields, (_, v) => (Number.isNaN(v) ? 'NaN' : v))} naming ${param}`, () => {
      expect(paramOf(() => validateChatCompletionRequest({ messages, ...fields }, VOCAB))).toBe(param);
    });
  }
  for (const [param, fields] of INVALID_COMPLETION) {
    it(`completion: rejects ${JSON.stringify(fields)} naming ${param}`, () => {
      expect(paramOf(() => validateCompletionRequest({ prompt: 'x', ...fields }, VOCAB))).toBe(param);
    });
  }

  it('refuses fields it does not support with UnsupportedParameterError naming them all (null means unset)', () => {
    const refused = (f: () => unknown) => {
      try { f(); } catch (e) {
        expect(e).toBeInstanceOf(UnsupportedParameterError);
        expect((e as UnsupportedParameterError).code).toBe('UNSUPPORTED_PARAMETER');
        return (e as UnsupportedParameterError).details?.parameters;
      }
      return undefined;
    };
    expect(refused(() => validateChatCompletionRequest({ messages, max_token: 5, audio: { format: 'wav', voice: 'ash' }, store: true }, VOCAB))).toEqual(['max_token', 'audio', 'store']);
    expect(refused(() => validateChatCompletionRequest({ messages, prompt: 'x' }, VOCAB))).toEqual(['prompt']);
    expect(refused(() => validateChatCompletionRequest({ messages, stream_options: { chunk_size: 3 } }, VOCAB))).toEqual(['stream_options.chunk_size']);
    expect(refused(() => validateCompletionRequest({ prompt: 'x', messages, top_logprobs: 2 }, VOCAB))).toEqual(['messages', 'top_logprobs']);
    expect(refused(() => validateChatCompletionRequest({ messages, store: null, metadata: null, stream_options: { include_obfuscation: false } }, VOCAB))).toBeUndefined();
  });

  it('takes tools, tool_choice, response_format, n, developer messages and tool turns', () => {
    const tool = { type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };
    const v = validateChatCompletionRequest({
      messages: [
        { role: 'developer', content: 'D' }, { role: 'user', content: 'u' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: '3 C' },
      ],
      tools: [tool], tool_choice: 'auto', n: 3, parallel_tool_calls: false, chat_template_kwargs: { enable_thinking: false },
    }, VOCAB);
    expect(v.messages).toEqual([
      { role: 'system', content: 'D' }, { role: 'user', content: 'u' },
      { role: 'assistant', content: '', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: { city: 'Oslo' } } }] },
      { role: 'tool', content: '3 C', tool_call_id: 'c1' },
    ]);
    expect(v).toMatchObject({ n: 3, toolChoice: 'auto', responseFormat: null, templateVariables: { enable_thinking: false } });
    expect(v.tools).toEqual([tool.function]);
    expect(validateChatCompletionRequest({ messages, tools: [tool] }, VOCAB).toolChoice).toBe('auto');
    expect(validateChatCompletionRequest({ messages, tools: [tool], tool_choice: { type: 'function', function: { name: 'get_weather' } } }, VOCAB).toolChoice).toEqual({ name: 'get_weather' });
    expect(validateChatCompletionRequest({ messages, response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'integer' } } } }, VOCAB).responseFormat)
      .toEqual({ type: 'json_schema', name: 'x', schema: { type: 'integer' } });
    expect(validateChatCompletionRequest({ messages, response_format: { type: 'text' } }, VOCAB).responseFormat).toBeNull();
  });

  it('rejects a request that is not an object', () => {
    for (const r of [null, 'hi', [messages]]) expect(paramOf(() => validateChatCompletionRequest(r, VOCAB))).toBe('request');
  });

  it('normalizes a full valid request (nulls mean defaults)', () => {
    const v = validateChatCompletionRequest({
      messages: [{ role: 'system', content: 'S' }, { role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }],
      model: 'm', stream: true, stream_options: { include_usage: true }, max_tokens: 9, temperature: 0.5, top_p: 0.9, top_k: 40,
      min_p: 0.05, repetition_penalty: 1.1, presence_penalty: -0.5, frequency_penalty: 0.5, seed: -7, stop: '.',
      logit_bias: { 13: -100, 42: 2.5 }, logprobs: true, top_logprobs: 5, ignore_eos: true, n: 1, user: 'u',
      attention: { policy: 'tidal', budget: 256 },
    }, VOCAB);
    expect(v).toEqual({
      messages: [{ role: 'system', content: 'S' }, { role: 'user', content: 'ab' }],
      n: 1, responseFormat: null, tools: [], toolChoice: 'none', templateVariables: {},
      model: 'm', stream: true, maxTokens: 9, stop: ['.'], ignoreEos: true, logprobs: 5, attention: { policy: 'tidal', budget: 256 },
      sampling: {
        temperature: 0.5, topP: 0.9, topK: 40, minP: 0.05, repetitionPenalty: 1.1, presencePenalty: -0.5, frequencyPenalty: 0.5,
        logitBias: new Map([[13, -100], [42, 2.5]]), seed: -7,
      },
    });
    const d = validateChatCompletionRequest({ messages, temperature: null, max_tokens: null, top_k: -1 }, VOCAB);
    expect(d).toMatchObject({ stream: false, maxTokens: null, stop: [], ignoreEos: false, logprobs: null, attention: undefined });
    expect(d.sampling).toMatchObject({ temperature: 1, topP: 1, topK: 0, minP: 0, repetitionPenalty: 1, seed: null });
    expect(validateChatCompletionRequest({ messages, max_tokens: 5, max_completion_tokens: 7 }, VOCAB).maxTokens).toBe(7);
    expect(validateCompletionRequest({ prompt: [1, 2], logprobs: 0 }, VOCAB)).toMatchObject({ prompt: [1, 2], logprobs: 0 });
  });

  it("takes a model's generation_config.json defaults; the request still wins", () => {
    const defaults = samplingDefaultsFromGenerationConfig({ temperature: 0.6, top_p: 0.9, top_k: 'x', repetition_penalty: 99 });
    expect(defaults).toEqual({ temperature: 0.6, top_p: 0.9 });
    expect(validateChatCompletionRequest({ messages }, VOCAB, defaults).sampling).toMatchObject({ temperature: 0.6, topP: 0.9 });
    expect(validateChatCompletionRequest({ messages, temperature: 0 }, VOCAB, defaults).sampling.temperature).toBe(0);
    expect(samplingDefaultsFromGenerationConfig({ do_sample: false, temperature: 0.6 })).toEqual({ temperature: 0 });
    expect(samplingDefaultsFromGenerationConfig(null)).toEqual({});
  });
});
