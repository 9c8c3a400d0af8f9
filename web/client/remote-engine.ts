// RemoteEngine: the client's API (chat.completions.create, completions.create, load, abort) spoken to any
// OpenAI-compatible server (vLLM, llama.cpp's llama-server, Ollama) over fetch, streaming by server-sent events.
// For models too big for the tab. Errors are Sieve's typed errors: 401/403, 429, 5xx, 4xx, unreachable, dropped stream.
import {
  AbortedError, RemoteRateLimitedError, RemoteRejectedError, RemoteServerError, RemoteUnauthorizedError, RemoteUnreachableError,
  UnsupportedParameterError, type RemoteErrorDetails,
} from '../../engine/protocol.ts';
import type {
  ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Completion, CompletionChunk, CompletionRequest, LoadOptions,
  ModelInfo, RequestOptions,
} from './types.ts';

export interface RemoteEngineOptions {
  /** The server's OpenAI base URL, ending in /v1 (https://host/v1, http://127.0.0.1:8080/v1). */
  remote: string;
  /** Sent as `Authorization: Bearer`. Never in a page: there, point `remote` at your own proxy that adds it. */
  apiKey?: string;
  /**
   * Sieve's request fields the server takes (a Sieve-aware proxy). Others, `attention` above all, are refused
   * with UnsupportedParameterError before anything is sent: a server that does not know a field ignores it.
   */
  serverKnows?: string[];
  /** The fetch to use (default: globalThis.fetch). */
  fetch?: typeof fetch;
}

/** Sieve's fields that an OpenAI-compatible server does not know. */
const SIEVE_ONLY_FIELDS = ['attention'];

type Json = Record<string, unknown>;

const isDense = (a: unknown) => a === 'dense' || (typeof a === 'object' && a !== null && (a as Json).policy === 'dense' && Object.keys(a).length === 1);

export class RemoteEngine {
  readonly chat: { completions: { create: RemoteEngine['createChatCompletion'] } };
  readonly completions: { create: RemoteEngine['createCompletion'] };
  /** The model requests name when they name none (load() sets it). */
  private model: string | null = null;
  private readonly base: string;
  private readonly doFetch: typeof fetch;
  private readonly controllers = new Set<AbortController>();

  constructor(private readonly options: RemoteEngineOptions) {
    let url: URL;
    try { url = new URL(options.remote); } catch { throw new TypeError(`remote: "${options.remote}" is not a URL (https://host/v1)`); }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`remote: "${options.remote}" is not an http(s) URL`);
    this.base = options.remote.replace(/\/+$/, '');
    this.doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.chat = { completions: { create: this.createChatCompletion.bind(this) as RemoteEngine['createChatCompletion'] } };
    this.completions = { create: this.createCompletion.bind(this) as RemoteEngine['createCompletion'] };
  }

  /**
   * Chooses the server's model that requests use by default: `model` is its name (GET /models lists them); the
   * server must list it. Loading happens on the server, so no files are fetched here.
   */
  async load(model: string, options: Pick<LoadOptions, 'signal'> = {}): Promise<ModelInfo> {
    const list = await this.send('GET', '/models', undefined, options.signal) as { data?: { id?: string }[] };
    const ids = (list.data ?? []).map((m) => m.id).filter((id): id is string => typeof id === 'string');
    if (!ids.includes(model)) {
      throw new RemoteRejectedError({ url: `${this.base}/models`, status: 404, serverMessage: `no model "${model}" (the server has ${ids.join(', ') || 'none'})` });
    }
    this.model = model;
    return {
      source: `${this.base} ${model}`, format: 'remote', architecture: 'remote', vocabSize: 0, numLayers: 0, hiddenSize: 0,
      maxPositionEmbeddings: 0, weightBytes: 0, quantization: 'f32', weightFormats: {}, hasTokenizer: true, adapter: `remote: ${this.base}`,
    };
  }

  async unload(): Promise<void> { this.model = null; }
  /** The server decides attention: only dense is known to be there. */
  async listPolicies(): Promise<string[]> { return ['dense']; }
  async listCachedModels(): Promise<string[]> { return []; }
  async isModelCached(): Promise<boolean> { return false; }
  async deleteCachedModel(): Promise<void> {}
  /** Stops every request in flight (each ends as a local one would: a stream with finish_reason "abort"). */
  interrupt(): void { for (const c of this.controllers) c.abort(); }
  terminate(): void { this.interrupt(); }

  createChatCompletion(request: ChatCompletionRequest & { stream: true }, options?: RequestOptions): Promise<AsyncIterable<ChatCompletionChunk>>;
  createChatCompletion(request: ChatCompletionRequest & { stream?: false | null }, options?: RequestOptions): Promise<ChatCompletion>;
  createChatCompletion(request: ChatCompletionRequest, options?: RequestOptions): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>>;
  createChatCompletion(request: ChatCompletionRequest, options: RequestOptions = {}): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> {
    return this.generate('/chat/completions', request as unknown as Json, options) as Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>>;
  }

  createCompletion(request: CompletionRequest & { stream: true }, options?: RequestOptions): Promise<AsyncIterable<CompletionChunk>>;
  createCompletion(request: CompletionRequest & { stream?: false | null }, options?: RequestOptions): Promise<Completion>;
  createCompletion(request: CompletionRequest, options?: RequestOptions): Promise<Completion | AsyncIterable<CompletionChunk>>;
  createCompletion(request: CompletionRequest, options: RequestOptions = {}): Promise<Completion | AsyncIterable<CompletionChunk>> {
    return this.generate('/completions', request as unknown as Json, options) as Promise<Completion | AsyncIterable<CompletionChunk>>;
  }

  private async generate(path: string, request: Json, options: RequestOptions): Promise<unknown> {
    const known = new Set(this.options.serverKnows ?? []);
    const body: Json = { ...request, model: request.model ?? this.model ?? undefined };
    // Dense attention is what such a server does anyway: asking for it changes nothing, so it is not sent.
    if (!known.has('attention') && isDense(request.attention)) delete body.attention;
    const refused = SIEVE_ONLY_FIELDS.filter((f) => body[f] !== undefined && body[f] !== null && !known.has(f));
    if (refused.length > 0) throw new UnsupportedParameterError(refused, `the remote server ${this.base} (an OpenAI-compatible server does not know it; it would be ignored)`);
    if (body.model === undefined) throw new RemoteRejectedError({ url: this.base + path, serverMessage: 'no model named: call load(model) first or give request.model' });
    const stream = request.stream === true;
    if (stream) body.stream_options = { ...(request.stream_options as Json | undefined), include_usage: true };
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) controller.abort();
    this.controllers.add(controller);
    const done = () => { this.controllers.delete(controller); options.signal?.removeEventListener('abort', onAbort); };
    try {
      const response = await this.open('POST', path, body, controller.signal);
      if (!stream) {
        const json = await readJson(response, this.base + path);
        done();
        return json;
      }
      return sseChunks(response, this.base + path, controller.signal, path === '/chat/completions', done);
    } catch (e) {
      done();
      if (controller.signal.aborted) throw new AbortedError('The request was aborted.');
      throw e;
    }
  }

  private async send(method: string, path: string, body: Json | undefined, signal?: AbortSignal): Promise<unknown> {
    return readJson(await this.open(method, path, body, signal), this.base + path);
  }

  /** The response when its status is 2xx; else the typed error for its status. */
  private async open(method: string, path: string, body: Json | undefined, signal?: AbortSignal): Promise<Response> {
    const url = this.base + path;
    const headers: Record<string, string> = { accept: body?.stream ? 'text/event-stream' : 'application/json' };
    if (body) headers['content-type'] = 'application/json';
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    let response: Response;
    try {
      response = await this.doFetch(url, { method, headers, body: body ? JSON.stringify(body) : undefined, signal });
    } catch (e) {
      if (signal?.aborted) throw new AbortedError('The request was aborted.');
      throw new RemoteUnreachableError({ url, reason: `no answer (${(e as Error)?.message ?? String(e)})` });
    }
    if (response.ok) return response;
    throw await statusError(response, url);
  }
}

/** The typed error for a non-2xx answer, with the server's own message (OpenAI's {error: {message}} or text). */
async function statusError(response: Response, url: string): Promise<Error> {
  const text = await response.text().catch(() => '');
  let serverMessage = text.slice(0, 500) || undefined;
  try {
    const j = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    const m = typeof j.error === 'string' ? j.error : j.error?.message ?? j.message;
    if (typeof m === 'string') serverMessage = m;
  } catch { /* plain text */ }
  const details: RemoteErrorDetails = { url, status: response.status, serverMessage };
  const retry = Number(response.headers.get('retry-after'));
  if (Number.isFinite(retry) && retry >= 0 && response.headers.has('retry-after')) details.retryAfterSeconds = retry;
  if (response.status === 401 || response.status === 403) return new RemoteUnauthorizedError(details);
  if (response.status === 429) return new RemoteRateLimitedError(details);
  if (response.status >= 500) return new RemoteServerError(details);
  return new RemoteRejectedError(details);
}

async function readJson(response: Response, url: string): Promise<unknown> {
  const text = await response.text().catch((e: unknown) => { throw new RemoteUnreachableError({ url, reason: `the answer stopped (${(e as Error)?.message})` }); });
  try {
    return JSON.parse(text);
  } catch {
    throw new RemoteServerError({ url, status: response.status, serverMessage: `not JSON: ${text.slice(0, 200)}` });
  }
}

/**
 * A server-sent-events body as chunks: "data: {json}" events up to "data: [DONE]". A body that ends (or breaks)
 * before [DONE] is RemoteUnreachableError ("the stream stopped"); an abort ends it with a finish_reason "abort"
 * chunk, as a local stream does. The last usage chunk is the server's (OpenAI's fields only).
 */
async function* sseChunks(response: Response, url: string, signal: AbortSignal, chat: boolean, done: () => void): AsyncGenerator<unknown> {
  const reader = response.body?.getReader();
  if (!reader) { done(); throw new RemoteServerError({ url, status: response.status, serverMessage: 'a stream without a body' }); }
  const decoder = new TextDecoder();
  let buffer = '';
  let last: Json | null = null;
  try {
    for (;;) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (e) {
        if (signal.aborted) break;
        throw new RemoteUnreachableError({ url, reason: `the stream stopped before its end (${(e as Error)?.message ?? String(e)})` });
      }
      if (r.done) {
        if (signal.aborted) break;
        throw new RemoteUnreachableError({ url, reason: 'the stream stopped before its end (no data: [DONE])' });
      }
      buffer += decoder.decode(r.value, { stream: true });
      let newline: number;
      while ((newline = buffer.search(/\r?\n/)) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer[newline] === '\r' ? 2 : 1));
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]') return;
        let chunk: Json;
        try { chunk = JSON.parse(data) as Json; } catch { throw new RemoteServerError({ url, serverMessage: `a stream event that is not JSON: ${data.slice(0, 200)}` }); }
        if (chunk.error) throw new RemoteServerError({ url, serverMessage: String((chunk.error as Json).message ?? JSON.stringify(chunk.error)) });
        last = chunk;
        yield chunk;
      }
    }
    // Aborted: end as a local stream does.
    if (last) {
      const choice = chat ? { index: 0, delta: {}, logprobs: null, finish_reason: 'abort' } : { index: 0, text: '', logprobs: null, finish_reason: 'abort' };
      yield { ...last, choices: [choice], usage: null };
    }
  } finally {
    done();
    reader.cancel().catch(() => undefined);
  }
}

/** createEngine({ remote }) */
export function createRemoteEngine(options: RemoteEngineOptions): RemoteEngine {
  return new RemoteEngine(options);
}
