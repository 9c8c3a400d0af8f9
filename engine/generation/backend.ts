// What generation needs from a forward pass, whatever runs it (the WebGPU engine or the CPU reference).
import type { ModelConfig } from '../model/index.ts';
import type { TokenHistory } from './processors.ts';
import type { SamplingParams } from './sampler.ts';

export interface CacheUsage {
  /** Bytes of KV pages this sequence holds now (not the pool). */
  kvBytes: number;
  /** Tokens the cache holds now (less than tokens seen once a policy evicts). */
  tokensInCache: number;
}

/** How far a prefill is: prompt tokens done of the tokens this prefill feeds (a reused prefix is not counted). */
export interface PrefillProgress {
  done: number;
  total: number;
}

export interface PrefillOptions {
  /** Called as chunks finish on the device (done rising to total; the last call before prefill resolves). */
  onProgress?: (progress: PrefillProgress) => void;
  /**
   * Checked between prefill chunks: once aborted, the backend puts the sequence back where this prefill began and
   * throws AbortedError (details.prefilledTokens: the ids run before it stopped).
   */
  signal?: AbortSignal;
}

/** A request's sampling, for a backend that chooses the ids itself (decodeStream). */
export interface DeviceSampling {
  readonly params: SamplingParams;
  /** The seed it draws with (the request's, or the fresh random one its CPU sampler took). */
  readonly seed: number;
  /** The prompt and the ids generated so far: the penalties' counts, and the step number of the next choice. */
  readonly history: TokenHistory;
}

export interface ForwardBackend {
  readonly config: ModelConfig;
  /** Feeds `ids` after what is cached; returns logits of every row ([n, vocab]) or of the last row only ([vocab]). */
  prefill(ids: number[], rows: 'all' | 'last', options?: PrefillOptions): Promise<Float32Array>;
  /** Feeds one id; returns its logits [vocab]. */
  decode(id: number): Promise<Float32Array>;
  /**
   * Optional: decoding with the ids chosen by the backend (on the GPU), for requests that ask for no logprobs.
   * Feeds `firstId`, then yields each next id up to `maxSteps`: with `sampling` absent the argmax of the logits (ties
   * to the lower id), else the id the CPU TokenSampler would choose from the same logits for the same seed and
   * history. Leaving the loop ends it, and the sequence then holds the prompt and the ids fed (those taken but the
   * last), exactly as decode() step by step would.
   */
  decodeStream?(firstId: number, maxSteps: number, sampling?: DeviceSampling): AsyncGenerator<number, void, undefined>;
  /** Forgets the sequence (frees its cache). */
  reset(): Promise<void>;
  cacheUsage(): CacheUsage;
  /**
   * Optional: the most positions a sequence may reach now. Absent: the model's max_position_embeddings. A backend
   * whose attention policy evicts returns Infinity (the cache stays bounded and positions keep counting).
   */
  contextLength?(): number;
  /** Optional: what bounds contextLength() when it is less than the trained context (CONTEXT_FULL says it). */
  contextBound?(): string | undefined;
  /**
   * Optional, for multi-turn prefix reuse: how many leading ids of `ids` the current sequence already holds
   * (the same ids at the same positions, KV still exact: dense attention, or pages not yet evicted).
   * A backend that keeps no ids history leaves this out, and every request starts from reset().
   */
  cachedPrefixLength?(ids: readonly number[]): number;
  /**
   * Optional, with cachedPrefixLength: keeps positions [0, n) and drops the rest (freeing or un-sharing their pages),
   * so the next prefill continues at position n. The generation loop calls it with n <= cachedPrefixLength(ids).
   */
  truncate?(n: number): Promise<void>;
}
