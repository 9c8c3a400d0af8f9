// createChatCompletion / createCompletion: validate, render and tokenize, generate, and shape OpenAI objects or chunks.
import { ContextFullError, InvalidArgumentError } from '../errors/index.ts';
import { generate, generateAll, type ForwardBackend, type GenerationRequest, type GenerationResult, type PrefillProgress, type TokenLogprob } from '../generation/index.ts';
import { compileConstraint, type CompiledConstraint, type GrammarConstraint } from '../grammar/index.ts';
import { parseToolCalls, ToolCallStream, templateRendersTools, toolCallFormat, toolChoiceGrammar, withToolSystemMessage } from './tools.ts';
import { DEFAULT_TEMPLATE_STOP, type ChatTemplate, type TextTokenizer } from '../tokenizer/index.ts';
import type {
  ChatCompletion, ChatCompletionChoice, ChatCompletionChunk, ChatCompletionChunkChoice, ChatCompletionRequest, ChatFinishReason, ChatTokenLogprob, Completion, CompletionChunk,
  CompletionLogprobs, CompletionRequest, CompletionUsage,
} from './types.ts';
import {
  validateChatCompletionRequest, validateCompletionRequest, type SamplingDefaults, type ValidatedChatRequest, type ValidatedParams, type ValidatedTool,
} from './validate.ts';

export interface CompletionOptions {
  /** Aborts generation: the completion ends with finish_reason "abort" and the text so far. */
  signal?: AbortSignal;
  /** Reports the prompt's prefill as its chunks finish: {done, total} prompt tokens. */
  onPrefillProgress?: (progress: PrefillProgress) => void;
  /** The `model` field of responses when the request names none. */
  modelName?: string;
  /** EOS ids; default the backend config's eosTokenIds (config.json / generation_config.json). */
  eosTokenIds?: readonly number[];
  /** Positions a sequence may use; default the model's max_position_embeddings. */
  contextLength?: number;
  /** Sampling defaults from generation_config.json (see samplingDefaultsFromGenerationConfig). */
  defaults?: SamplingDefaults;
}

const DEFAULT_MODEL_NAME = 'sieve';

function responseId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 2 ** 32).toString(36)}`;
}

function usageOf(r: GenerationResult): CompletionUsage {
  return { ...r.usage, total_tokens: r.usage.prompt_tokens + r.usage.completion_tokens };
}

/** Fails before any generation (so a stream's promise rejects) when the prompt leaves no room for one token. */
function checkContext(backend: ForwardBackend, ids: number[], maxTokens: number | null, options: CompletionOptions): void {
  const context = options.contextLength ?? backend.contextLength?.() ?? backend.config.maxPositionEmbeddings;
  const bound = options.contextLength === undefined ? backend.contextBound?.() : undefined;
  if (ids.length >= context) throw new ContextFullError(ids.length + 1, context, bound);
  // As generate() counts it: a prompt of n ids leaves room for context - n new ones.
  if (maxTokens !== null && ids.length + maxTokens > context) {
    throw new ContextFullError(ids.length + maxTokens, context, `a prompt of ${ids.length} tokens and max_tokens ${maxTokens}${bound ? `; ${bound}` : ''}`);
  }
}

function generationRequest(backend: ForwardBackend, tokenizer: TextTokenizer | null, ids: number[], params: ValidatedParams, options: CompletionOptions, extraStops: string[] = []): GenerationRequest {
  if (params.stop.length > 0 && !tokenizer) throw new InvalidArgumentError('stop', 'stop strings need a tokenizer; this model has none');
  checkContext(backend, ids, params.maxTokens, options);
  return {
    ids,
    maxTokens: params.maxTokens,
    sampling: params.sampling,
    eosTokenIds: options.eosTokenIds ?? backend.config.eosTokenIds,
    ignoreEos: params.ignoreEos,
    stop: [...params.stop, ...extraStops],
    decode: tokenizer ? (x) => tokenizer.decode(x) : undefined,
    bosTokenId: backend.config.bosTokenId,
    logprobs: params.logprobs,
    signal: options.signal,
    onPrefillProgress: options.onPrefillProgress,
    contextLength: options.contextLength,
  };
}

/** A token's text for logprobs: the tokenizer's decode of that id alone. */
function tokenText(tokenizer: TextTokenizer | null, id: number): string {
  return tokenizer ? tokenizer.decode([id]) : `<${id}>`;
}

function chatLogprobs(tokenizer: TextTokenizer | null, entries: TokenLogprob[]): ChatTokenLogprob[] {
  const encoder = new TextEncoder();
  const entry = (id: number, logprob: number) => {
    const token = tokenText(tokenizer, id);
    return { token, logprob, bytes: [...encoder.encode(token)] };
  };
  return entries.map((e) => ({ ...entry(e.id, e.logprob), top_logprobs: e.top.map((t) => entry(t.id, t.logprob)) }));
}

function completionLogprobs(tokenizer: TextTokenizer | null, entries: TokenLogprob[], startOffset: number): CompletionLogprobs {
  const out: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let offset = startOffset;
  for (const e of entries) {
    const token = tokenText(tokenizer, e.id);
    out.tokens.push(token);
    out.token_logprobs.push(e.logprob);
    out.top_logprobs.push(Object.fromEntries(e.top.map((t) => [tokenText(tokenizer, t.id), t.logprob])));
    out.text_offset.push(offset);
    offset += token.length;
  }
  return out;
}

/** Tools are on unless there are none or tool_choice is 'none'. */
const toolsActive = (params: ValidatedChatRequest) => params.tools.length > 0 && params.toolChoice !== 'none';

/**
 * Renders the conversation (tools and template variables included) and tokenizes it; a BOS the template printed and
 * the tokenizer added again is kept once. A template that does not render `tools` gets them as a system message.
 */
function chatPromptIds(backend: ForwardBackend, tokenizer: TextTokenizer, template: ChatTemplate, params: ValidatedChatRequest): number[] {
  const active = toolsActive(params);
  const own = active && templateRendersTools(template);
  const messages = active && !own ? withToolSystemMessage(params.messages, params.tools, toolCallFormat(template)) : params.messages;
  const text = template.render(messages, {
    addGenerationPrompt: true,
    tools: own ? params.tools.map(toolForTemplate) : undefined,
    variables: params.templateVariables,
  });
  const ids = tokenizer.encode(text);
  const bos = backend.config.bosTokenId;
  if (bos !== null && ids.length >= 2 && ids[0] === bos && ids[1] === bos) ids.shift();
  return ids;
}

/** A tool as chat templates expect it (OpenAI's shape: {type: 'function', function: {...}}). */
function toolForTemplate(tool: ValidatedTool): unknown {
  return { type: 'function', function: tool };
}

/**
 * Choice i's request: a seeded request gives each choice its own seed (seed + i), so choices differ but repeat;
 * a constrained one gets its own matcher at the grammar's start.
 */
async function choiceRequest(req: GenerationRequest, i: number, grammar: CompiledConstraint | null): Promise<GenerationRequest> {
  const sampling = req.sampling;
  const seeded = i === 0 || !sampling || sampling.seed === null ? req : { ...req, sampling: { ...sampling, seed: sampling.seed + i } };
  return grammar ? { ...seeded, constraint: await grammar.start() } : seeded;
}

/**
 * The reply's grammar, compiled before generation (an invalid schema rejects the request's promise): the response
 * format's, or a forced tool call's (tool_choice 'required' or a named function).
 */
async function responseGrammar(backend: ForwardBackend, tokenizer: TextTokenizer, template: ChatTemplate, params: ValidatedChatRequest, options: CompletionOptions): Promise<CompiledConstraint | null> {
  const eosIds = options.eosTokenIds ?? backend.config.eosTokenIds;
  const toolGrammar = toolsActive(params) ? toolChoiceGrammar(params.tools, params.toolChoice, toolCallFormat(template)) : null;
  if (toolGrammar) return compileConstraint(toolGrammar, tokenizer, backend.config.vocabSize, eosIds);
  const format = params.responseFormat;
  if (!format) return null;
  if (params.stop.length > 0) throw new InvalidArgumentError('stop', 'cannot be combined with response_format: the grammar decides where the reply ends');
  if (params.ignoreEos) throw new InvalidArgumentError('ignore_eos', 'cannot be combined with response_format: the reply ends where the grammar does');
  const eos = options.eosTokenIds ?? backend.config.eosTokenIds;
  return compileConstraint(format.type === 'json_schema' ? { type: 'json_schema', schema: format.schema } : format, tokenizer, backend.config.vocabSize, eos);
}

/** Usage over n choices: the prompt once, every choice's completion tokens, the cache as the last choice left it. */
function usageOfChoices(results: GenerationResult[]): CompletionUsage {
  const last = usageOf(results[results.length - 1]);
  if (results.length === 1) return last;
  const completion = results.reduce((sum, r) => sum + r.usage.completion_tokens, 0);
  return { ...last, prompt_tokens: results[0].usage.prompt_tokens, completion_tokens: completion, total_tokens: results[0].usage.prompt_tokens + completion };
}

/** A raw prompt's ids: text through the tokenizer, or the ids as given. */
function completionPromptIds(tokenizer: TextTokenizer | null, prompt: string | number[]): number[] {
  if (typeof prompt !== 'string') return prompt;
  if (!tokenizer) throw new InvalidArgumentError('prompt', 'this model has no tokenizer; pass the prompt as token ids');
  const ids = tokenizer.encode(prompt);
  if (ids.length === 0) throw new InvalidArgumentError('prompt', 'encodes to no tokens');
  return ids;
}

export function createChatCompletion(backend: ForwardBackend, tokenizer: TextTokenizer, chatTemplate: ChatTemplate, request: ChatCompletionRequest & { stream: true }, options?: CompletionOptions): Promise<AsyncIterable<ChatCompletionChunk>>;
export function createChatCompletion(backend: ForwardBackend, tokenizer: TextTokenizer, chatTemplate: ChatTemplate, request: ChatCompletionRequest & { stream?: false | null }, options?: CompletionOptions): Promise<ChatCompletion>;
export function createChatCompletion(backend: ForwardBackend, tokenizer: TextTokenizer, chatTemplate: ChatTemplate, request: ChatCompletionRequest, options?: CompletionOptions): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>>;
/**
 * OpenAI's chat.completions.create on one backend. Validation, templating, tokenizing and the context check happen
 * before the promise resolves (so they reject it, streaming or not); generation runs as the stream is read.
 * With n > 1 the choices are generated one after another (each reuses the prompt's cache); a stream sends each
 * choice's chunks in turn, under its index.
 * Under the default template (models without one), "\nUser:" is an extra stop string so the reply ends at its turn.
 */
export async function createChatCompletion(backend: ForwardBackend, tokenizer: TextTokenizer, chatTemplate: ChatTemplate, request: ChatCompletionRequest, options: CompletionOptions = {}): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> {
  const params = validateChatCompletionRequest(request, backend.config.vocabSize, options.defaults);
  const ids = chatPromptIds(backend, tokenizer, chatTemplate, params);
  const grammar = await responseGrammar(backend, tokenizer, chatTemplate, params, options);
  const toolFormat = toolsActive(params) ? toolCallFormat(chatTemplate) : null;
  // Under a grammar the reply ends where the grammar does, so the default template's turn stop is not added.
  const req = generationRequest(backend, tokenizer, ids, params, options, chatTemplate.isDefault && !grammar ? [DEFAULT_TEMPLATE_STOP] : []);
  const id = responseId('chatcmpl');
  const created = Math.floor(Date.now() / 1000);
  const model = params.model ?? options.modelName ?? DEFAULT_MODEL_NAME;
  const wantLogprobs = params.logprobs !== null;
  const logprobsOf = (entries: TokenLogprob[]) => ({ content: chatLogprobs(tokenizer, entries), refusal: null });

  if (!params.stream) {
    const results: GenerationResult[] = [];
    const choices: ChatCompletionChoice[] = [];
    for (let i = 0; i < params.n; i++) {
      const choice = await choiceRequest(req, i, grammar);
      const result = await generateAll(backend, choice).finally(() => (choice.constraint as GrammarConstraint | undefined)?.dispose());
      results.push(result);
      const parsed = toolFormat && result.finishReason !== 'abort' ? parseToolCalls(result.text, params.tools, toolFormat) : null;
      const calls = parsed && parsed.toolCalls.length > 0 ? parsed.toolCalls : null;
      choices.push({
        index: i,
        message: calls ? { role: 'assistant', content: parsed!.content, refusal: null, tool_calls: calls } : { role: 'assistant', content: result.text, refusal: null },
        logprobs: wantLogprobs ? logprobsOf(result.logprobs ?? []) : null,
        finish_reason: calls ? 'tool_calls' : result.finishReason,
      });
      if (result.finishReason === 'abort') break;
    }
    grammar?.dispose();
    return { id, object: 'chat.completion', created, model, choices, usage: usageOfChoices(results) };
  }

  const chunk = (choice: ChatCompletionChunkChoice | null, usage: CompletionUsage | null = null): ChatCompletionChunk => ({
    id, object: 'chat.completion.chunk', created, model, choices: choice ? [choice] : [], usage,
  });
  return (async function* chatChunks(): AsyncGenerator<ChatCompletionChunk> {
    const results: GenerationResult[] = [];
    for (let index = 0; index < params.n; index++) {
      yield chunk({ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null });
      const choice = await choiceRequest(req, index, grammar);
      const gen = generate(backend, choice);
      const calls = toolFormat ? new ToolCallStream(params.tools, toolFormat) : null;
      let pending: TokenLogprob[] = [];
      for (;;) {
        const r = await gen.next().catch((e) => { (choice.constraint as GrammarConstraint | undefined)?.dispose(); throw e; });
        if (r.done) {
          const logprobs = wantLogprobs && pending.length > 0 ? logprobsOf(pending) : null;
          (choice.constraint as GrammarConstraint | undefined)?.dispose();
          let finish: ChatFinishReason = r.value.finishReason;
          if (calls) {
            const end = calls.finish();
            if (end.content) yield chunk({ index, delta: { content: end.content }, logprobs: null, finish_reason: null });
            // Each call as OpenAI streams one: its id, type and name first, then its arguments.
            for (const call of end.calls) {
              yield chunk({ index, delta: { tool_calls: [{ ...call, function: { name: call.function?.name, arguments: '' } }] }, logprobs: null, finish_reason: null });
              yield chunk({ index, delta: { tool_calls: [{ index: call.index, function: { arguments: call.function?.arguments } }] }, logprobs: null, finish_reason: null });
            }
            if (end.calls.length > 0 && finish !== 'abort') finish = 'tool_calls';
          }
          yield chunk({ index, delta: {}, logprobs, finish_reason: finish });
          results.push(r.value);
          break;
        }
        if (r.value.token?.logprob) pending.push(r.value.token.logprob);
        const text = calls ? calls.push(r.value.text) : r.value.text;
        if (text === '') continue;
        const logprobs = wantLogprobs ? logprobsOf(pending) : null;
        pending = [];
        yield chunk({ index, delta: { content: text }, logprobs, finish_reason: null });
      }
      if (results[results.length - 1].finishReason === 'abort') break;
    }
    grammar?.dispose();
    yield chunk(null, usageOfChoices(results));
  })();
}

export function createCompletion(backend: ForwardBackend, tokenizer: TextTokenizer | null, request: CompletionRequest & { stream: true }, options?: CompletionOptions): Promise<AsyncIterable<CompletionChunk>>;
export function createCompletion(backend: ForwardBackend, tokenizer: TextTokenizer | null, request: CompletionRequest & { stream?: false | null }, options?: CompletionOptions): Promise<Completion>;
export function createCompletion(backend: ForwardBackend, tokenizer: TextTokenizer | null, request: CompletionRequest, options?: CompletionOptions): Promise<Completion | AsyncIterable<CompletionChunk>>;
/**
 * OpenAI's (legacy) completions.create: a raw prompt (text, or token ids) continued without a chat template.
 * The tokenizer may be null for id-only models: the prompt must then be ids, and texts are empty.
 */
export async function createCompletion(backend: ForwardBackend, tokenizer: TextTokenizer | null, request: CompletionRequest, options: CompletionOptions = {}): Promise<Completion | AsyncIterable<CompletionChunk>> {
  const params = validateCompletionRequest(request, backend.config.vocabSize, options.defaults);
  const ids = completionPromptIds(tokenizer, params.prompt);
  const req = generationRequest(backend, tokenizer, ids, params, options);
  const id = responseId('cmpl');
  const created = Math.floor(Date.now() / 1000);
  const model = params.model ?? options.modelName ?? DEFAULT_MODEL_NAME;
  const wantLogprobs = params.logprobs !== null;

  if (!params.stream) {
    const result = await generateAll(backend, req);
    return {
      id, object: 'text_completion', created, model,
      choices: [{
        index: 0, text: result.text, finish_reason: result.finishReason,
        logprobs: wantLogprobs ? completionLogprobs(tokenizer, result.logprobs ?? [], 0) : null,
      }],
      usage: usageOf(result),
    };
  }

  const chunk = (choice: CompletionChunk['choices'][number] | null, usage: CompletionUsage | null = null): CompletionChunk => ({
    id, object: 'text_completion', created, model, choices: choice ? [choice] : [], usage,
  });
  return (async function* completionChunks(): AsyncGenerator<CompletionChunk> {
    const gen = generate(backend, req);
    let pending: TokenLogprob[] = [];
    let offset = 0;
    const flushLogprobs = () => {
      if (!wantLogprobs || pending.length === 0) return null;
      const lp = completionLogprobs(tokenizer, pending, offset);
      pending = [];
      return lp;
    };
    for (;;) {
      const r = await gen.next();
      if (r.done) {
        yield chunk({ index: 0, text: '', logprobs: flushLogprobs(), finish_reason: r.value.finishReason });
        yield chunk(null, usageOf(r.value));
        return;
      }
      if (r.value.token?.logprob) pending.push(r.value.token.logprob);
      if (r.value.text === '') continue;
      const logprobs = flushLogprobs();
      yield chunk({ index: 0, text: r.value.text, logprobs, finish_reason: null });
      offset += r.value.text.length;
    }
  })();
}

/** What `sieve generate` prints: generated ids (an EOS that ended generation included), text and usage. */
export interface GeneratedIds {
  ids: number[];
  text: string;
  finish_reason: GenerationResult['finishReason'];
  usage: CompletionUsage;
}

/**
 * A completion request (raw prompt: text or ids) or, with `chat`, its prompt rendered as one user message through
 * the chat template, run to the end and returned with the generated ids: the CLI's `generate`, on any backend.
 * Same validation, sampling, stop strings and defaults as createCompletion / createChatCompletion.
 */
export async function generateIds(
  backend: ForwardBackend, tokenizer: TextTokenizer | null, chatTemplate: ChatTemplate | null,
  request: CompletionRequest, chat: boolean, options: CompletionOptions = {}, jsonSchema?: Record<string, unknown>,
): Promise<GeneratedIds> {
  const params = validateCompletionRequest(request, backend.config.vocabSize, options.defaults);
  let constraint: GrammarConstraint | undefined;
  if (jsonSchema !== undefined) {
    if (!tokenizer) throw new InvalidArgumentError('--json-schema', 'a schema needs a model with a tokenizer');
    if (params.stop.length > 0) throw new InvalidArgumentError('stop', 'cannot be combined with a JSON schema: the grammar decides where the reply ends');
    const compiled = await compileConstraint({ type: 'json_schema', schema: jsonSchema, at: '--json-schema' }, tokenizer, backend.config.vocabSize, options.eosTokenIds ?? backend.config.eosTokenIds);
    constraint = await compiled.start();
    compiled.dispose();
  }
  let ids: number[];
  let extraStops: string[] = [];
  if (chat) {
    if (!tokenizer || !chatTemplate || typeof params.prompt !== 'string') throw new InvalidArgumentError('prompt', 'chat needs a text prompt and a model with a tokenizer');
    const { prompt: _prompt, ...rest } = request;
    const chatParams = validateChatCompletionRequest({ ...rest, messages: [{ role: 'user', content: params.prompt }] }, backend.config.vocabSize, options.defaults);
    ids = chatPromptIds(backend, tokenizer, chatTemplate, chatParams);
    if (chatTemplate.isDefault && !constraint) extraStops = [DEFAULT_TEMPLATE_STOP];
  } else {
    ids = completionPromptIds(tokenizer, params.prompt);
  }
  let result: GenerationResult;
  try {
    result = await generateAll(backend, { ...generationRequest(backend, tokenizer, ids, params, options, extraStops), constraint });
  } finally {
    constraint?.dispose();
  }
  return { ids: result.ids, text: result.text, finish_reason: result.finishReason, usage: usageOf(result) };
}

/** `sieve generate`'s request: camelCase CLI options, mapped onto an OpenAI completion request. */
export interface GenerateRequest {
  prompt?: string;
  ids?: number[];
  maxTokens: number;
  /** Default 0 (greedy), whatever generation_config.json says: the CLI's contract. */
  temperature?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  repetitionPenalty?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  seed?: number;
  stop?: string[];
  logitBias?: Record<string, number>;
  ignoreEos?: boolean;
  /** Render the prompt as one user message through the chat template. */
  chat?: boolean;
  attention?: string | { policy: string; [option: string]: unknown };
  /** A JSON Schema the reply must follow (`--json-schema FILE`): the text is then JSON valid against it. */
  jsonSchema?: Record<string, unknown>;
}

/** The CLI-shaped request (camelCase) as an OpenAI completion request; unset fields stay unset. */
export function completionRequestOf(req: GenerateRequest): CompletionRequest {
  const r: Record<string, unknown> = {
    prompt: req.prompt ?? req.ids, max_tokens: req.maxTokens, temperature: req.temperature ?? 0,
    top_p: req.topP, top_k: req.topK, min_p: req.minP, repetition_penalty: req.repetitionPenalty,
    presence_penalty: req.presencePenalty, frequency_penalty: req.frequencyPenalty, seed: req.seed, stop: req.stop,
    logit_bias: req.logitBias, ignore_eos: req.ignoreEos, attention: req.attention,
  };
  for (const k of Object.keys(r)) if (r[k] === undefined) delete r[k];
  return r as unknown as CompletionRequest;
}
