// The client's types, derived from the worker engine's signatures so the page needs only engine/protocol.ts.
import type { SieveEngine, WeightFormat } from '../../engine/protocol.ts';

export type { ModelInfo, PrefillProgress } from '../../engine/protocol.ts';
import type { PrefillProgress } from '../../engine/protocol.ts';

type ChatCompletionMethod = SieveEngine['chatCompletion'];
type CompletionMethod = SieveEngine['completion'];

/** OpenAI's chat.completions request, plus Sieve's `attention` and sampling extensions. */
export type ChatCompletionRequest = Parameters<ChatCompletionMethod>[0];
export type ChatCompletionChunk = Parameters<NonNullable<Parameters<ChatCompletionMethod>[1]>>[0];
export type ChatCompletion = NonNullable<Awaited<ReturnType<ChatCompletionMethod>>>;
export type ChatCompletionMessageParam = ChatCompletionRequest['messages'][number];

/** OpenAI's (legacy) completions request: a raw prompt, text or token ids. */
export type CompletionRequest = Parameters<CompletionMethod>[0];
export type CompletionChunk = Parameters<NonNullable<Parameters<CompletionMethod>[1]>>[0];
export type Completion = NonNullable<Awaited<ReturnType<CompletionMethod>>>;

/** prompt/completion tokens plus prefill and decode tokens/s, kv_bytes and tokens_in_cache. */
export type CompletionUsage = NonNullable<ChatCompletionChunk['usage']>;
export type FinishReason = NonNullable<ChatCompletionChunk['choices'][number]['finish_reason']>;
/** "dense", "tidal:256" or {policy, budget, ...}. */
export type AttentionRequest = NonNullable<ChatCompletionRequest['attention']>;

/** What load() reports: the engine's phase ('fetch' | 'parse' | 'upload' | 'compile') and bytes. */
export type LoadProgress = Parameters<NonNullable<Parameters<SieveEngine['load']>[1]>>[0];

/** Per-call options, as in OpenAI's client. */
export interface RequestOptions {
  /**
   * Ends the request with finish_reason "abort" and the text so far (a stream then ends normally), whether it was
   * running or still queued behind another request.
   */
  signal?: AbortSignal;
  /**
   * Hears how far the prompt's prefill is, {done, total} prompt tokens (a reused conversation prefix is not counted),
   * as its chunks finish on the GPU: once for a short prompt, once per chunk (prefillChunk tokens) for a long one.
   */
  onPrefillProgress?: (progress: PrefillProgress) => void;
}

export interface LoadOptions {
  onProgress?: (p: LoadProgress) => void;
  /** Keep the files in this browser (OPFS): resumable, verified, and read with no request on later loads. */
  cache?: boolean;
  /** Hugging Face access token for gated repositories (sent as `Authorization: Bearer`); implies cache. */
  accessToken?: string;
  /** A models/catalog.json id: adapter and quota are checked before any download; implies cache. */
  catalogId?: string;
  /**
   * How the matrices are stored on the GPU: 'f32', 'f16' (half the bytes, f32 sums; no shader-f16 needed), or
   * quantized at load to 'int8' / 'int4' (docs/quantization.md). Default: 'f16' on real GPUs, 'f32' on software
   * adapters (or the catalog entry's smaller format); `info.quantization` says which was used.
   */
  quantization?: WeightFormat;
  /**
   * Calibration artifacts (parsed `sieve calibrate` JSON, one or a list) for Double Sparsity / FASA; without them the
   * engine looks for `<method>.calibration.json` beside the model (docs/calibration.md).
   */
  calibration?: unknown;
  /** Prompt tokens per prefill chunk (default 512): a longer prompt is prefilled chunk by chunk. */
  prefillChunk?: number;
  /**
   * Element type of the KV cache: 'f16' (half the bytes: twice the context in the same KV memory, and faster long
   * decode) or 'f32'. Default: 'f16' on GPUs, 'f32' on software adapters (SwiftShader). Attention sums in f32 either way.
   */
  kvDtype?: 'f16' | 'f32';
  /**
   * Stops the load (queued or running): the download is cancelled (with `cache`, what arrived is kept and the next
   * load resumes from it), and load() rejects with AbortedError; a model loaded before stays loaded.
   */
  signal?: AbortSignal;
}

/** engine.info: where the engine runs (createEngine({ shared: true }) asks for the origin's shared worker). */
export interface EngineInfo {
  /** 'shared': the SharedWorker of every tab of this origin; 'dedicated': this page's own Worker; 'starting': not yet known. */
  worker: 'shared' | 'dedicated' | 'starting';
  /** Why a shared engine was asked for and a dedicated one runs (no SharedWorker, or no WebGPU inside one, ...). */
  fallbackReason?: string;
}
