// Request validation: every parameter's type and range, each failure an InvalidArgumentError naming the parameter.
import { InvalidArgumentError, UnsupportedParameterError } from '../errors/index.ts';
import { checkJsonSchema } from '../grammar/index.ts';
import { validateIds, type SamplingParams } from '../generation/index.ts';
import type { ChatMessage } from '../tokenizer/index.ts';
import type { AttentionRequest } from './types.ts';

/** More stop strings than this is surely a mistake (OpenAI allows 4; vLLM any number). */
export const MAX_STOP_STRINGS = 16;
/** OpenAI's limits: logit_bias values in [-100, 100], top_logprobs at most 20. */
export const LOGIT_BIAS_LIMIT = 100;
export const MAX_TOP_LOGPROBS = 20;
/** Most chat choices per request (n): each is generated after the other. */
export const MAX_CHOICES = 16;
/** Upper bound on repetition_penalty: beyond it every seen token is effectively banned (transformers suggests ~1.2). */
export const MAX_REPETITION_PENALTY = 10;

/** Defaults a model may set in generation_config.json, in the request's names. */
export interface SamplingDefaults {
  temperature?: number;
  top_p?: number;
  top_k?: number;
  min_p?: number;
  repetition_penalty?: number;
}

export interface ValidatedParams {
  model: string | undefined;
  stream: boolean;
  /** null = until EOS, a stop string or the context's end. */
  maxTokens: number | null;
  sampling: SamplingParams;
  stop: string[];
  ignoreEos: boolean;
  /** Top alternatives per token; null = no logprobs. */
  logprobs: number | null;
  attention: AttentionRequest | undefined;
}

/** A response_format other than text: what the reply must be. */
export type ValidatedResponseFormat =
  | { type: 'json_object' }
  | { type: 'json_schema'; name: string; schema: Record<string, unknown> }
  | { type: 'grammar'; grammar: string }
  | { type: 'regex'; regex: string };

/** A function tool, as the template and the parser see it. */
export interface ValidatedTool {
  name: string;
  description?: string;
  /** JSON Schema of the arguments object ({type: 'object'} when the tool gave none). */
  parameters: Record<string, unknown>;
}

export type ValidatedToolChoice = 'none' | 'auto' | 'required' | { name: string };

export interface ValidatedChatRequest extends ValidatedParams {
  messages: ChatMessage[];
  /** Choices to generate, one after another. */
  n: number;
  responseFormat: ValidatedResponseFormat | null;
  tools: ValidatedTool[];
  toolChoice: ValidatedToolChoice;
  /** chat_template_kwargs: further variables for the chat template. */
  templateVariables: Record<string, unknown>;
}

export interface ValidatedCompletionRequest extends ValidatedParams {
  prompt: string | number[];
}

const SHARED_KEYS = [
  'model', 'stream', 'stream_options', 'max_tokens', 'temperature', 'top_p', 'top_k', 'min_p', 'repetition_penalty',
  'presence_penalty', 'frequency_penalty', 'seed', 'stop', 'logit_bias', 'ignore_eos', 'n', 'user', 'attention',
];
const CHAT_KEYS = new Set([
  ...SHARED_KEYS, 'messages', 'max_completion_tokens', 'logprobs', 'top_logprobs', 'response_format', 'tools', 'tool_choice',
  'parallel_tool_calls', 'chat_template_kwargs',
]);
/** OpenAI's chat parameters Sieve does not support: refused when set to anything but null. */
const UNSUPPORTED_CHAT_KEYS = new Set([
  'audio', 'function_call', 'functions', 'metadata', 'modalities', 'moderation', 'prediction', 'prompt_cache_key',
  'prompt_cache_options', 'prompt_cache_retention', 'reasoning_effort', 'safety_identifier', 'service_tier', 'store',
  'verbosity', 'web_search_options',
]);
const COMPLETION_KEYS = new Set([...SHARED_KEYS, 'prompt', 'logprobs', 'echo']);
const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool']);

type Fields = Record<string, unknown>;

const isSet = (v: unknown) => v !== undefined && v !== null;

function isObject(v: unknown): v is Fields {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface NumberRule {
  min?: number;
  max?: number;
  /** The bound itself is not allowed. */
  minExclusive?: boolean;
  integer?: boolean;
}

function describeRange(rule: NumberRule): string {
  const kind = rule.integer ? 'an integer' : 'a number';
  if (rule.min !== undefined && rule.max !== undefined) return `${kind} in ${rule.minExclusive ? '(' : '['}${rule.min}, ${rule.max}]`;
  if (rule.min !== undefined) return `${kind} ${rule.minExclusive ? '>' : '>='} ${rule.min}`;
  return kind;
}

function number(req: Fields, name: string, rule: NumberRule): number | undefined {
  const v = req[name];
  if (!isSet(v)) return undefined;
  const ok = typeof v === 'number' && Number.isFinite(v)
    && (!rule.integer || Number.isSafeInteger(v))
    && (rule.min === undefined || (rule.minExclusive ? v > rule.min : v >= rule.min))
    && (rule.max === undefined || v <= rule.max);
  if (!ok) throw new InvalidArgumentError(name, `must be ${describeRange(rule)}, got ${JSON.stringify(v) ?? String(v)}`);
  return v as number;
}

/** `label`: the name in errors when it differs from the field (nested fields). */
function boolean(req: Fields, name: string, label = name): boolean | undefined {
  const v = req[name];
  if (!isSet(v)) return undefined;
  if (typeof v !== 'boolean') throw new InvalidArgumentError(label, `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function optionalString(req: Fields, name: string): string | undefined {
  const v = req[name];
  if (!isSet(v)) return undefined;
  if (typeof v !== 'string') throw new InvalidArgumentError(name, 'must be a string');
  return v;
}

function stopStrings(req: Fields): string[] {
  const v = req.stop;
  if (!isSet(v)) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length > MAX_STOP_STRINGS || list.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new InvalidArgumentError('stop', `must be a non-empty string or a list of at most ${MAX_STOP_STRINGS} non-empty strings`);
  }
  return list as string[];
}

function logitBias(req: Fields, vocabSize: number): Map<number, number> {
  const v = req.logit_bias;
  const bias = new Map<number, number>();
  if (!isSet(v)) return bias;
  if (!isObject(v)) throw new InvalidArgumentError('logit_bias', 'must be an object mapping token ids to biases');
  for (const [key, value] of Object.entries(v)) {
    const id = /^\d+$/.test(key) ? Number(key) : NaN;
    if (!Number.isSafeInteger(id) || id >= vocabSize) throw new InvalidArgumentError('logit_bias', `key "${key}" is not a token id in [0, ${vocabSize})`);
    if (typeof value !== 'number' || !Number.isFinite(value) || Math.abs(value) > LOGIT_BIAS_LIMIT) {
      throw new InvalidArgumentError('logit_bias', `bias of token ${key} must be a number in [-${LOGIT_BIAS_LIMIT}, ${LOGIT_BIAS_LIMIT}]`);
    }
    bias.set(id, value);
  }
  return bias;
}

function attention(req: Fields): AttentionRequest | undefined {
  const v = req.attention;
  if (!isSet(v)) return undefined;
  if (typeof v === 'string' && v.length > 0) return v;
  if (isObject(v) && typeof v.policy === 'string' && v.policy.length > 0) {
    if (v.budget !== undefined && !(Number.isSafeInteger(v.budget) && (v.budget as number) > 0)) {
      throw new InvalidArgumentError('attention.budget', 'must be a positive integer (tokens kept per layer and KV head)');
    }
    return v as AttentionRequest;
  }
  throw new InvalidArgumentError('attention', 'must be a policy spec string or {policy: string, budget?: number}');
}

/** Every field that is not a parameter of this endpoint (or is one Sieve does not support, set), named at once. */
function checkKeys(req: Fields, allowed: Set<string>, unsupported: Set<string> = new Set()): void {
  const refused = Object.keys(req).filter((key) => !allowed.has(key) && !(unsupported.has(key) && !isSet(req[key])));
  if (refused.length > 0) throw new UnsupportedParameterError(refused);
}

/** The parameters both endpoints share (max_tokens is read by the caller: chat also has max_completion_tokens). */
function sharedParams(req: Fields, vocabSize: number, defaults: SamplingDefaults, maxTokens: number | undefined): ValidatedParams {
  const model = optionalString(req, 'model');
  optionalString(req, 'user');
  const stream = boolean(req, 'stream') ?? false;
  if (isSet(req.stream_options)) {
    if (!isObject(req.stream_options)) throw new InvalidArgumentError('stream_options', 'must be an object');
    const options = req.stream_options;
    const refused = Object.keys(options).filter((key) => key !== 'include_usage' && !(key === 'include_obfuscation' && !options[key]));
    if (refused.length > 0) throw new UnsupportedParameterError(refused.map((key) => `stream_options.${key}`));
    boolean(req.stream_options, 'include_usage', 'stream_options.include_usage');
  }
  const topK = number(req, 'top_k', { integer: true, min: -1 }) ?? defaults.top_k ?? 0;
  const seed = number(req, 'seed', { integer: true, min: Number.MIN_SAFE_INTEGER });
  return {
    model,
    stream,
    maxTokens: maxTokens ?? null,
    sampling: {
      temperature: number(req, 'temperature', { min: 0, max: 2 }) ?? defaults.temperature ?? 1,
      topP: number(req, 'top_p', { min: 0, max: 1, minExclusive: true }) ?? defaults.top_p ?? 1,
      topK: topK === -1 ? 0 : topK,
      minP: number(req, 'min_p', { min: 0, max: 1 }) ?? defaults.min_p ?? 0,
      repetitionPenalty: number(req, 'repetition_penalty', { min: 0, max: MAX_REPETITION_PENALTY, minExclusive: true }) ?? defaults.repetition_penalty ?? 1,
      presencePenalty: number(req, 'presence_penalty', { min: -2, max: 2 }) ?? 0,
      frequencyPenalty: number(req, 'frequency_penalty', { min: -2, max: 2 }) ?? 0,
      logitBias: logitBias(req, vocabSize),
      seed: seed ?? null,
    },
    stop: stopStrings(req),
    ignoreEos: boolean(req, 'ignore_eos') ?? false,
    logprobs: null,
    attention: attention(req),
  };
}

function messageContent(content: unknown, at: string): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((part, j) => {
      if (!isObject(part) || part.type !== 'text' || typeof part.text !== 'string') {
        throw new InvalidArgumentError(`${at}.content[${j}]`, 'only {type: "text", text: string} parts are supported');
      }
      return part.text;
    }).join('');
  }
  throw new InvalidArgumentError(`${at}.content`, 'must be a string or a list of text parts');
}

/**
 * An assistant turn's tool calls for the template: arguments as an object when they parse (transformers' form,
 * which Llama-3's and Hermes' templates print with tojson), else the text as given.
 */
function messageToolCalls(v: unknown, at: string): unknown[] {
  if (!Array.isArray(v)) throw new InvalidArgumentError(`${at}.tool_calls`, 'must be a list of {id, type: "function", function: {name, arguments}}');
  return v.map((call, j) => {
    const where = `${at}.tool_calls[${j}]`;
    if (!isObject(call) || call.type !== 'function' || !isObject(call.function) || typeof call.function.name !== 'string' || typeof call.function.arguments !== 'string') {
      throw new InvalidArgumentError(where, 'must be {id, type: "function", function: {name: string, arguments: string}}');
    }
    let args: unknown = call.function.arguments;
    try { args = JSON.parse(call.function.arguments); } catch { /* kept as text */ }
    return { id: call.id, type: 'function', function: { name: call.function.name, arguments: args } };
  });
}

function chatMessages(v: unknown): ChatMessage[] {
  if (!Array.isArray(v) || v.length === 0) throw new InvalidArgumentError('messages', 'must be a non-empty list of {role, content}');
  return v.map((m, i) => {
    const at = `messages[${i}]`;
    if (!isObject(m)) throw new InvalidArgumentError(at, 'must be an object {role, content}');
    if (m.role === 'function') throw new InvalidArgumentError(`${at}.role`, '"function" (deprecated function calling) is not supported: send tool results as role "tool"');
    if (typeof m.role !== 'string' || !ROLES.has(m.role)) throw new InvalidArgumentError(`${at}.role`, `must be one of ${[...ROLES].join(', ')}`);
    if (m.name !== undefined && typeof m.name !== 'string') throw new InvalidArgumentError(`${at}.name`, 'must be a string');
    const role = (m.role === 'developer' ? 'system' : m.role) as ChatMessage['role'];
    const hasCalls = role === 'assistant' && isSet(m.tool_calls);
    // An assistant turn that only called tools has content null.
    const content = hasCalls && !isSet(m.content) ? '' : messageContent(m.content, at);
    const message: ChatMessage = { role, content };
    if (hasCalls) message.tool_calls = messageToolCalls(m.tool_calls, at);
    if (role === 'tool') {
      if (typeof m.tool_call_id !== 'string') throw new InvalidArgumentError(`${at}.tool_call_id`, 'must be the id of the tool call this message answers');
      message.tool_call_id = m.tool_call_id;
    }
    if (typeof m.name === 'string') message.name = m.name;
    return message;
  });
}

function responseFormat(req: Fields): ValidatedResponseFormat | null {
  const v = req.response_format;
  if (!isSet(v)) return null;
  if (!isObject(v) || typeof v.type !== 'string') throw new InvalidArgumentError('response_format', 'must be {type: "text" | "json_object" | "json_schema" | "grammar" | "regex", ...}');
  switch (v.type) {
    case 'text': return null;
    case 'json_object': return { type: 'json_object' };
    case 'json_schema': {
      const js = v.json_schema;
      if (!isObject(js)) throw new InvalidArgumentError('response_format.json_schema', 'must be {name, schema}');
      if (typeof js.name !== 'string' || js.name.length === 0) throw new InvalidArgumentError('response_format.json_schema.name', 'must be a non-empty string');
      if (isSet(js.schema) && !isObject(js.schema) && typeof js.schema !== 'boolean') throw new InvalidArgumentError('response_format.json_schema.schema', 'must be a JSON Schema object');
      return { type: 'json_schema', name: js.name, schema: isObject(js.schema) ? js.schema : {} };
    }
    case 'grammar':
      if (typeof v.grammar !== 'string' || v.grammar.trim() === '') throw new InvalidArgumentError('response_format.grammar', 'must be an EBNF grammar (a rule named root)');
      return { type: 'grammar', grammar: v.grammar };
    case 'regex':
      if (typeof v.regex !== 'string' || v.regex === '') throw new InvalidArgumentError('response_format.regex', 'must be a non-empty regular expression');
      return { type: 'regex', regex: v.regex };
    default:
      throw new InvalidArgumentError('response_format.type', `must be "text", "json_object", "json_schema", "grammar" or "regex", got ${JSON.stringify(v.type)}`);
  }
}

function tools(req: Fields): ValidatedTool[] {
  const v = req.tools;
  if (!isSet(v)) return [];
  if (!Array.isArray(v)) throw new InvalidArgumentError('tools', 'must be a list of {type: "function", function: {name, description, parameters}}');
  const seen = new Set<string>();
  return v.map((t, i) => {
    const at = `tools[${i}]`;
    if (!isObject(t) || t.type !== 'function') throw new InvalidArgumentError(`${at}.type`, 'only "function" tools are supported');
    const f = t.function;
    if (!isObject(f) || typeof f.name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(f.name)) {
      throw new InvalidArgumentError(`${at}.function.name`, 'must be 1-64 letters, digits, "_", "." or "-"');
    }
    if (seen.has(f.name)) throw new InvalidArgumentError(`${at}.function.name`, `"${f.name}" is named twice`);
    seen.add(f.name);
    if (isSet(f.description) && typeof f.description !== 'string') throw new InvalidArgumentError(`${at}.function.description`, 'must be a string');
    if (isSet(f.parameters) && !isObject(f.parameters)) throw new InvalidArgumentError(`${at}.function.parameters`, 'must be a JSON Schema object');
    if (isObject(f.parameters)) checkJsonSchema(f.parameters, `${at}.function.parameters`, 'tools');
    return {
      name: f.name,
      ...(typeof f.description === 'string' ? { description: f.description } : {}),
      parameters: isObject(f.parameters) ? f.parameters : { type: 'object', properties: {} },
    };
  });
}

function toolChoice(req: Fields, defined: ValidatedTool[]): ValidatedToolChoice {
  const v = req.tool_choice;
  if (!isSet(v)) return defined.length > 0 ? 'auto' : 'none';
  if (v === 'none' || v === 'auto' || v === 'required') {
    if (v === 'required' && defined.length === 0) throw new InvalidArgumentError('tool_choice', '"required" needs tools');
    return v;
  }
  if (isObject(v) && v.type === 'function' && isObject(v.function) && typeof v.function.name === 'string') {
    const name = v.function.name;
    if (!defined.some((t) => t.name === name)) throw new InvalidArgumentError('tool_choice.function.name', `"${name}" is not one of tools`);
    return { name };
  }
  throw new InvalidArgumentError('tool_choice', 'must be "none", "auto", "required" or {type: "function", function: {name}}');
}

function requestObject(request: unknown): Fields {
  if (!isObject(request)) throw new InvalidArgumentError('request', 'must be an object');
  return request;
}

export function validateChatCompletionRequest(request: unknown, vocabSize: number, defaults: SamplingDefaults = {}): ValidatedChatRequest {
  const req = requestObject(request);
  checkKeys(req, CHAT_KEYS, UNSUPPORTED_CHAT_KEYS);
  const messages = chatMessages(req.messages);
  const maxTokens = number(req, 'max_completion_tokens', { integer: true, min: 1 }) ?? number(req, 'max_tokens', { integer: true, min: 1 });
  const params = sharedParams(req, vocabSize, defaults, maxTokens);
  const logprobs = boolean(req, 'logprobs') ?? false;
  const top = number(req, 'top_logprobs', { integer: true, min: 0, max: MAX_TOP_LOGPROBS });
  if (top !== undefined && !logprobs) throw new InvalidArgumentError('top_logprobs', 'needs logprobs: true');
  const n = number(req, 'n', { integer: true, min: 1, max: MAX_CHOICES }) ?? 1;
  boolean(req, 'parallel_tool_calls');
  const format = responseFormat(req);
  const defined = tools(req);
  const choice = toolChoice(req, defined);
  if (format && (choice === 'required' || typeof choice === 'object')) {
    throw new InvalidArgumentError('response_format', 'cannot be combined with a tool_choice that forces a call');
  }
  const kwargs = req.chat_template_kwargs;
  if (isSet(kwargs) && !isObject(kwargs)) throw new InvalidArgumentError('chat_template_kwargs', 'must be an object of template variables');
  return {
    ...params, messages, logprobs: logprobs ? top ?? 0 : null, n, responseFormat: format, tools: defined, toolChoice: choice,
    templateVariables: isObject(kwargs) ? kwargs : {},
  };
}

export function validateCompletionRequest(request: unknown, vocabSize: number, defaults: SamplingDefaults = {}): ValidatedCompletionRequest {
  const req = requestObject(request);
  checkKeys(req, COMPLETION_KEYS);
  const n = number(req, 'n', { integer: true, min: 1 });
  if (n !== undefined && n !== 1) throw new InvalidArgumentError('n', 'completions take n = 1; chat completions take up to ' + MAX_CHOICES);
  let prompt: string | number[];
  if (typeof req.prompt === 'string') prompt = req.prompt;
  else if (Array.isArray(req.prompt)) prompt = validateIds(req.prompt, vocabSize, 'prompt');
  else throw new InvalidArgumentError('prompt', 'must be a string or a non-empty list of token ids');
  if (boolean(req, 'echo')) throw new InvalidArgumentError('echo', 'echo: true is not supported');
  const params = sharedParams(req, vocabSize, defaults, number(req, 'max_tokens', { integer: true, min: 1 }));
  const logprobs = number(req, 'logprobs', { integer: true, min: 0, max: MAX_TOP_LOGPROBS });
  return { ...params, prompt, logprobs: logprobs ?? null };
}

/**
 * Defaults from a model's generation_config.json (temperature, top_p, top_k, min_p, repetition_penalty); do_sample:
 * false means greedy. Values out of range are ignored rather than failing every request.
 */
export function samplingDefaultsFromGenerationConfig(config: Record<string, unknown> | null): SamplingDefaults {
  if (!config) return {};
  const pick = (name: keyof SamplingDefaults, ok: (v: number) => boolean) => {
    const v = config[name];
    return typeof v === 'number' && Number.isFinite(v) && ok(v) ? { [name]: v } : {};
  };
  return {
    ...pick('temperature', (v) => v >= 0 && v <= 2),
    ...pick('top_p', (v) => v > 0 && v <= 1),
    ...pick('top_k', (v) => Number.isSafeInteger(v) && v >= 0),
    ...pick('min_p', (v) => v >= 0 && v <= 1),
    ...pick('repetition_penalty', (v) => v > 0 && v <= MAX_REPETITION_PENALTY),
    ...(config.do_sample === false ? { temperature: 0 } : {}),
  };
}
