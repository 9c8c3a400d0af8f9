// The attention-policy interface: what a policy needs from the engine, and the hooks the decode loop calls.
import type { PagedKVCache, SequenceHandle } from '../kv/index.ts';
import type { ModelConfig } from '../model/index.ts';

/*
 * Shaped after vLLM's attention backends: the decode loop knows only this interface; each policy lives in its own
 * folder (engine/attention/<policy>/) with its kernels and its CPU reference selection. All hooks encode GPU work
 * into the given command encoder (outside any open pass) and never read the GPU back.
 *
 * GQA: policies select per KV head (summing probabilities, or taking the max of estimates, over the query heads of
 * the group) so one list serves the whole group.
 */

/** Whether a policy selects single tokens or whole pages. */
export type PolicyGranularity = 'token' | 'page';

/** What the attention kernel must emit for the policy at a layer and step. */
export type AttentionStatistic = 'none' | 'logits' | 'probability-column-sums';

/** Metadata the cache keeps for the policy beside the pages. */
export type KVMetadataKind = 'page-key-min-max' | 'token-label-channels' | 'token-scores';

export type AttentionPhase = 'prefill' | 'decode';

export interface PolicyNeeds {
  /** Layers always attended densely (TidalDecode, Quest, Double Sparsity: 0 and 1), or all of them. */
  readonly denseLayers: 'all' | readonly number[];
  readonly granularity: PolicyGranularity;
  /** Statistics the attention kernel must emit at this layer, phase and decode step. */
  statistics(layer: number, phase: AttentionPhase, step: number): AttentionStatistic;
  readonly metadata: readonly KVMetadataKind[];
  /** Evicting policies free pages (bounded memory); selecting ones only read less. */
  readonly evicts: boolean;
  /** Kind of the per-model calibration artifact the policy needs (Double Sparsity, FASA), or null. */
  readonly calibration: string | null;
  /**
   * Base a of the prefill row weights of 'probability-column-sums' at `layer`: row i of an n-row chunk weighs
   * a^(n-1-i) (A2SF's forgetting factor, so a chunk scores as n single steps would). 1 (plain column sums) when absent.
   */
  prefillRowDecay?(layer: number): number;
}

/** Where the hooks run: one layer of one step of one sequence. */
export interface PolicyStepContext {
  readonly device: GPUDevice;
  readonly cache: PagedKVCache;
  readonly seq: SequenceHandle;
  readonly layer: number;
  readonly phase: AttentionPhase;
  /** Decode steps this sequence took before this one (0 during prefill and on the first decode step). */
  readonly step: number;
  /** True position of the first token of this step (the logical counter, not the number of cached slots). */
  readonly startPosition: number;
  readonly numTokens: number;
  /** This step's queries, [numTokens][numHeads * headDim] f32, not rotated (Recycled Attention's similarity test). */
  readonly query: GPUBuffer | null;
  /** The softmax scale, 1 / sqrt(headDim). */
  readonly scale: number;
}

/**
 * What one layer of a decode step reads. Lists are GPU buffers the policy fills on the GPU:
 * `indices` [numKvHeads][maxPerHead] u32 cache slots (tokens) or block-table page indices (pages),
 * `lengths` [numKvHeads] u32 valid entries per KV head.
 */
export type AttentionPlan =
  | { readonly kind: 'dense' }
  | { readonly kind: 'tokens' | 'pages'; readonly indices: GPUBuffer; readonly lengths: GPUBuffer; readonly maxPerHead: number };

/**
 * Statistics the attention kernels emitted for the policy (the buffer is null when it asked for none): f32
 * [numKvHeads][stride] by cache slot of this (layer, KV head), valid for the slots the head holds after this step.
 * The buffer is reused by the next layer: consume it inside the hook that receives it.
 */
export interface AttentionStatistics {
  readonly kind: AttentionStatistic;
  readonly buffer: GPUBuffer | null;
  readonly stride: number;
}

/** What rewind() is told about the dropped decode steps of a sequence. */
export interface PolicyRewindContext {
  readonly device: GPUDevice;
  readonly cache: PagedKVCache;
  readonly seq: SequenceHandle;
  /** The decode step number (PolicyStepContext.step) of the first step dropped. */
  readonly firstStep: number;
  /** Slots each (layer, KV head) held before each dropped step, oldest first. */
  readonly heldBefore: readonly number[];
}

/** Result of an eviction: the slots each (layer, KV head) holds after the policy compacted them to the front. */
export interface EvictionResult {
  readonly tokensHeld: number;
}

export interface AttentionPolicy {
  readonly name: string;
  readonly needs: PolicyNeeds;
  /**
   * Called when the policy is set on a model, before any step: throws a typed error when its parameters do not fit
   * the model (a per-layer list of the wrong length, a layer past the last), so nothing fails mid-step.
   */
  checkModel?(config: ModelConfig): void;
  /** After a prefill chunk's attention at `layer`, with the statistics asked for (H2O's column sums). */
  afterPrefill?(encoder: GPUCommandEncoder, ctx: PolicyStepContext, stats: AttentionStatistics): void;
  /** After this step's K/V were appended at `layer` (Quest's page min/max, Double Sparsity's label cache). */
  onAppend?(encoder: GPUCommandEncoder, ctx: PolicyStepContext): void;
  /** Which slots a decode step reads at `layer`; may encode the policy's estimator kernel first. */
  plan(encoder: GPUCommandEncoder, ctx: PolicyStepContext): AttentionPlan;
  /** After a decode step's attention at `layer`, with the statistics asked for. */
  afterAttention?(encoder: GPUCommandEncoder, ctx: PolicyStepContext, stats: AttentionStatistics): void;
  /**
   * After all layers of a step (PagedAttention.endStep; ctx.layer is -1): compacts the kept slots to the front of
   * every (layer, KV head) on the GPU and sets the GPU counts; returns how many each holds (the same for all, so the CPU can free the tail pages without a
   * readback), or null when nothing was evicted.
   */
  evict?(encoder: GPUCommandEncoder, ctx: PolicyStepContext): EvictionResult | null;
  /**
   * False when decode steps under this policy cannot be encoded ahead of their token: a step encoded past a stop is
   * undone by truncating the cache and calling rewind(), which an evicting policy's compaction does not survive (its
   * victims are overwritten). Absent or true: truncation is enough, because the policy's state either is rebuilt from
   * what the cache holds (Quest's page bounds are recomputed from a page's keys on append; lists are made each step)
   * or is rewound by rewind().
   */
  readonly encodesAhead?: boolean;
  /**
   * The last `steps` decode steps were dropped (encoded ahead past a stop): put the policy's own per-step state, and
   * what its kernels changed in the cache beyond appending (an eviction's moves), back as it was before them. The
   * caller then truncates the cache to ctx.heldBefore[0]. Submits its own GPU work.
   */
  rewind?(steps: number, ctx: PolicyRewindContext): void;
  /** Most steps rewind() can undo (the engine encodes no further ahead); absent: any number. */
  readonly maxRewind?: number;
  /**
   * Frees the policy's GPU buffers (scores, lists, label caches: some as large as a fraction of the KV pool). The
   * engine makes a policy per request, so GpuModel calls this when another policy replaces it and when the model is
   * destroyed, rather than leaving device memory to the garbage collector. Work already submitted is unaffected
   * (WebGPU destroys a buffer after the queue is done with it); a later hook rebuilds the state.
   */
  destroy?(): void;
}

/** The request's `attention` option: a policy name and its parameters. */
export interface AttentionSpec {
  policy: string;
  /** Tokens a policy may read (selecting) or keep (evicting) per step. */
  budget?: number;
  [param: string]: unknown;
}

/**
 * What the engine knows when it creates a policy for a model: its config (so defaults fit it and misfits fail at
 * once) and the calibration artifact of the policy's method when one was given or found beside the model.
 */
export interface PolicyContext {
  readonly config: ModelConfig;
  /** The artifact (parsed JSON) for the policy's calibration method (needs.calibration), or undefined. */
  readonly calibration?: unknown;
  /** Where the engine looked for it (for the missing-calibration message), e.g. "none beside <url>". */
  readonly calibrationSearched?: string;
}

export type PolicyFactory = (spec: AttentionSpec, context?: PolicyContext) => AttentionPolicy;
