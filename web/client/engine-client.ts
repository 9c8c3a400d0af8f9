// SieveClient: the page-side handle on the engine worker, shaped like OpenAI's JS client (and WebLLM's).
import * as Comlink from 'comlink';
import { AbortedError, installSieveErrorTransfer, SHARED_WORKER_NAME, watchWorkerLife, WorkerDiedError, type EngineWorkerApi } from '../../engine/protocol.ts';
import { ChunkChannel } from './chunk-channel.ts';
import { RemoteEngine, type RemoteEngineOptions } from './remote-engine.ts';
import { SharedEngineEndpoint } from './shared-endpoint.ts';
import type {
  ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Completion, CompletionChunk, CompletionRequest,
  EngineInfo, LoadOptions, ModelInfo, RequestOptions,
} from './types.ts';

export interface CreateEngineOptions {
  /** A worker already running workers/engine.worker.ts; by default createEngine starts one. */
  worker?: Worker;
  /**
   * Run the engine in a SharedWorker that every tab of this origin shares: one loaded model, one GPU copy of it, requests
   * taken in turns between tabs (README, "One engine for every tab"). Where that cannot run, a dedicated worker does,
   * and `engine.info` says why.
   */
  shared?: boolean;
}

/** What a page may hold: the in-tab engine (SieveClient) or a remote OpenAI-compatible server (RemoteEngine). */
export type EngineClient = Pick<SieveClient, 'chat' | 'completions' | 'load' | 'unload' | 'listPolicies' | 'listCachedModels' | 'isModelCached' | 'deleteCachedModel' | 'interrupt' | 'terminate'>;

/**
 * What the client talks through: the engine's Worker, or any comlink endpoint that reaches one (the embed script's
 * MessagePort into its cross-origin frame) and can end it.
 */
export interface EngineEndpoint extends Comlink.Endpoint {
  terminate(): void;
  /** Where the engine behind it runs, when the endpoint knows (the shared endpoint); a dedicated worker otherwise. */
  readonly info?: EngineInfo;
  /** Settles once `info` is final. */
  readonly started?: Promise<EngineInfo>;
}

type WorkerEngine = Comlink.Remote<EngineWorkerApi>;

interface QueuedTask {
  run: () => Promise<void>;
}

/**
 * The client runs one worker call at a time in its own queue (the engine also serializes, but only the client
 * knows which request a signal belongs to): `interrupt()` on the worker then always hits the request the
 * aborted signal belongs to, and a request aborted while queued ends with finish_reason "abort" without generating.
 */
export class SieveClient {
  readonly chat: { completions: { create: SieveClient['createChatCompletion'] } };
  readonly completions: { create: SieveClient['createCompletion'] };
  private worker!: EngineEndpoint;
  private live!: WorkerEngine;
  private readonly tasks: QueuedTask[] = [];
  private running = false;
  /** Set while a generation request is in the worker: the abort hook of the request running now. */
  private current: { interrupt: () => void } | null = null;
  private terminated = false;
  /** Set once the worker died; the next call starts a new one (when the client can make workers). */
  private dead: WorkerDiedError | null = null;
  /** Rejects when the worker dies: every call in flight races it, so none waits forever on a dead worker. */
  private death!: Promise<never>;
  private onDeath!: (e: WorkerDiedError) => void;

  /**
   * `spawn` makes a new worker after one died (createEngine passes it); without it a dead worker's client fails
   * every later call with WorkerDiedError.
   */
  constructor(worker: EngineEndpoint, private readonly spawn?: () => EngineEndpoint) {
    installSieveErrorTransfer();
    this.attach(worker);
    this.chat = { completions: { create: this.createChatCompletion.bind(this) as SieveClient['createChatCompletion'] } };
    this.completions = { create: this.createCompletion.bind(this) as SieveClient['createCompletion'] };
  }

  /** Starts talking to `worker`, and watches it: an uncaught error in it or a failed start is its death. */
  private attach(worker: EngineEndpoint): void {
    this.worker = worker;
    this.live = Comlink.wrap<EngineWorkerApi>(worker);
    this.dead = null;
    this.death = new Promise<never>((_, reject) => { this.onDeath = reject; });
    this.death.catch(() => undefined); // observed by the calls that race it
    const target = worker as unknown as Partial<Pick<Worker, 'addEventListener'>>;
    target.addEventListener?.('error', (event: Event) => {
      const message = (event as ErrorEvent).message;
      this.died(message ? `an uncaught error: ${message}` : 'it crashed or could not start');
    });
    // An end with no error (closed, or ended by the browser) fires no event: the worker's life lock says it.
    if (typeof Worker !== 'undefined' && worker instanceof Worker) {
      watchWorkerLife(worker, () => { if (this.worker === worker) this.died('it ended without an error (closed, or ended by the browser)'); });
    }
  }

  /** The worker is gone (or its state unknown after an uncaught error): end it and fail what is in flight. */
  private died(reason: string): void {
    if (this.dead || this.terminated) return;
    this.dead = new WorkerDiedError(reason);
    this.current = null;
    this.worker.terminate();
    this.onDeath(this.dead);
  }

  /** The worker's engine for a new call: a new worker when the last one died. */
  private get remote(): WorkerEngine {
    if (this.dead && !this.terminated) {
      if (!this.spawn) throw this.dead;
      this.attach(this.spawn());
    }
    return this.live;
  }

  /** A call that fails with WorkerDiedError if the worker dies before it answers. */
  private untilDeath<T>(call: () => Promise<T>): Promise<T> {
    const pending = call(); // first: a call after a death starts the new worker, whose death is the one to race
    return Promise.race([pending, this.death]);
  }

  /**
   * Where the engine runs: `worker: 'shared'` (the origin's SharedWorker), or `'dedicated'` (this page's own Worker;
   * with `fallbackReason` when a shared one was asked for), `'starting'` until the shared worker answered (every call
   * waits for that; `await engine.started` for the final value).
   */
  get info(): EngineInfo {
    return this.worker.info ?? DEDICATED;
  }

  /** Settles with `info` once the engine's worker is decided (at once for a dedicated worker). */
  get started(): Promise<EngineInfo> {
    return this.worker.started ?? Promise.resolve(this.info);
  }

  /** Loads a model from a folder URL, a .gguf URL or a Hugging Face resolve URL (see resolveModelUrl). */
  load(url: string, options: LoadOptions = {}): Promise<ModelInfo> {
    const { onProgress, cache, accessToken, catalogId, quantization, calibration, prefillChunk, kvDtype, signal } = options;
    return this.enqueue(() => this.runInterruptible(signal, () => this.remote.load(
      url, onProgress ? Comlink.proxy(onProgress) : undefined, { cache, accessToken, catalogId, quantization, calibration, prefillChunk, kvDtype },
    )));
  }

  /** URLs of the models kept in this browser's model store (loaded with `cache`, a token or a catalog id). */
  listCachedModels(): Promise<string[]> {
    return this.untilDeath(() => this.remote.listCachedModels());
  }

  /** Whether all of a model's files are in this browser's model store (a load then makes no request). */
  isModelCached(url: string): Promise<boolean> {
    return this.untilDeath(() => this.remote.isModelCached(url));
  }

  /** Deletes a model's files from this browser's model store. */
  deleteCachedModel(url: string): Promise<void> {
    return this.untilDeath(() => this.remote.deleteCachedModel(url));
  }

  unload(): Promise<void> {
    return this.enqueue(() => this.remote.unload());
  }

  /** Names of the attention policies the engine registered ('dense' and whatever else this build has). */
  listPolicies(): Promise<string[]> {
    return this.untilDeath(() => this.remote.listPolicies());
  }

  /** Stops the request that is generating now (it ends with finish_reason "abort"); queued ones still run. */
  interrupt(): void {
    this.current?.interrupt();
  }

  /**
   * Stops the worker (and frees its GPU device). The client is unusable afterwards. A shared engine goes on serving the
   * other tabs: this tab's requests stop and its hold on the model is dropped (the last tab's frees it).
   */
  terminate(): void {
    this.terminated = true;
    this.worker.terminate();
    for (const t of this.tasks.splice(0)) void t.run();
  }

  createChatCompletion(request: ChatCompletionRequest & { stream: true }, options?: RequestOptions): Promise<AsyncIterable<ChatCompletionChunk>>;
  createChatCompletion(request: ChatCompletionRequest & { stream?: false | null }, options?: RequestOptions): Promise<ChatCompletion>;
  createChatCompletion(request: ChatCompletionRequest, options?: RequestOptions): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>>;
  createChatCompletion(request: ChatCompletionRequest, options: RequestOptions = {}): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> {
    const progress = prefillProgressProxy(options);
    return this.request<ChatCompletion, ChatCompletionChunk>(request.stream === true, options.signal,
      (onChunk) => this.remote.chatCompletion(request, onChunk, progress) as Promise<ChatCompletion | null>);
  }

  createCompletion(request: CompletionRequest & { stream: true }, options?: RequestOptions): Promise<AsyncIterable<CompletionChunk>>;
  createCompletion(request: CompletionRequest & { stream?: false | null }, options?: RequestOptions): Promise<Completion>;
  createCompletion(request: CompletionRequest, options?: RequestOptions): Promise<Completion | AsyncIterable<CompletionChunk>>;
  createCompletion(request: CompletionRequest, options: RequestOptions = {}): Promise<Completion | AsyncIterable<CompletionChunk>> {
    const progress = prefillProgressProxy(options);
    return this.request<Completion, CompletionChunk>(request.stream === true, options.signal,
      (onChunk) => this.remote.completion(request, onChunk, progress) as Promise<Completion | null>);
  }

  /**
   * One generation request. Streaming: resolves with the chunk iterable once the engine sent its first chunk (so
   * validation errors reject this promise, as in OpenAI's client); errors after that are thrown by the iterator.
   */
  private request<R, C>(stream: boolean, signal: AbortSignal | undefined, call: (onChunk: ((c: C) => void) | undefined) => Promise<R | null>): Promise<R | AsyncIterable<C>> {
    if (!stream) {
      return this.enqueue(() => this.runInterruptible(signal, () => call(undefined))).then((r) => r as R);
    }
    return new Promise<AsyncIterable<C>>((resolve, reject) => {
      let started = false;
      const running = { interrupt: () => void this.remote.interrupt() };
      // A reader that stops early (break in for-await) stops the generation too.
      const channel = new ChunkChannel<C>(() => { if (this.current === running) running.interrupt(); });
      const onChunk = Comlink.proxy((chunk: C) => {
        channel.push(chunk);
        if (!started) { started = true; resolve(channel); }
      });
      this.enqueue(() => this.runInterruptible(signal, () => call(onChunk), running)).then(
        () => { channel.close(); if (!started) resolve(channel); },
        (e: unknown) => { if (started) channel.fail(e); else reject(e); },
      );
    });
  }

  /** Runs a request with `signal` wired to the worker's interrupt() for exactly as long as it is in the worker. */
  private async runInterruptible<T>(signal: AbortSignal | undefined, call: () => Promise<T>, hook: { interrupt: () => void } = { interrupt: () => void this.remote.interrupt() }): Promise<T> {
    this.current = hook;
    const onAbort = () => { if (this.current === hook) hook.interrupt(); };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const pending = call();
      // Aborted while queued: the engine sees the interrupt right after it starts the request, before any token.
      if (signal?.aborted) onAbort();
      return await pending;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (this.current === hook) this.current = null;
    }
  }

  private enqueue<T>(call: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.tasks.push({
        run: async () => {
          if (this.terminated) { reject(new AbortedError('The engine was terminated.')); return; }
          try { resolve(await this.untilDeath(call)); } catch (e) { reject(e); }
        },
      });
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let t = this.tasks.shift(); t; t = this.tasks.shift()) await t.run();
    } finally {
      this.running = false;
    }
  }
}

/** The request's prefill progress callback as a comlink proxy the worker can call, or undefined. */
function prefillProgressProxy(options: RequestOptions) {
  const f = options.onPrefillProgress;
  return f ? Comlink.proxy((p: Parameters<typeof f>[0]) => f(p)) : undefined;
}

export function createEngine(options: RemoteEngineOptions): RemoteEngine;
export function createEngine(options?: CreateEngineOptions): SieveClient;
/**
 * Starts the engine's Web Worker and returns the client that talks to it; with `remote` (an OpenAI-compatible
 * server's /v1 URL, and `apiKey` outside pages), the same API spoken to that server instead.
 */
export function createEngine(options: CreateEngineOptions | RemoteEngineOptions = {}): SieveClient | RemoteEngine {
  if ('remote' in options && options.remote !== undefined) return new RemoteEngine(options);
  const start = () => new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), { type: 'module' });
  const { worker, shared } = options as CreateEngineOptions;
  if (worker) return new SieveClient(worker);
  if (shared) {
    // The same script as the dedicated worker (it serves tabs when started as a SharedWorker): one engine bundle.
    const startShared = () => new SharedWorker(new URL('../../workers/engine.worker.ts', import.meta.url), { type: 'module', name: SHARED_WORKER_NAME });
    const connect = () => new SharedEngineEndpoint(startShared, start);
    return new SieveClient(connect(), connect);
  }
  return new SieveClient(start(), start);
}

const DEDICATED: EngineInfo = { worker: 'dedicated' };
