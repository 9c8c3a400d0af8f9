// Dispatches one layer of attention on the paged KV cache: RoPE, K/V append, then causal prefill attention or
// split-K decode attention over the slots the policy plans, writing [n][H*d] for the next ORT segment.
import { BufferLimitError, InvalidArgumentError } from '../errors/index.ts';
import { countingEncoder, isCpuAdapter, withDeferredGpuErrorScopes, type DispatchCounts } from '../gpu/index.ts';
import type { KvDtype, PagedKVCache, SequenceHandle } from '../kv/index.ts';
import type { RopeLayout } from '../model/index.ts';
import { decodeLibrary, kvLibrary, linkWgsl, type DecodeChunkVariant } from '../wgsl/index.ts';
import appendSourceRaw from './append.wgsl?raw';
import {
  DECODE_CHUNK, DECODE_MAX_GROUP, DECODE_ONE_WORKGROUP_SLOTS, DECODE_TARGET_SPLITS, LAYER_UNIFORM_STRIDE, MAX_HEAD_DIM, PREFILL_MAX_SPLITS, PREFILL_MIN_TILES_PER_SPLIT,
  PREFILL_SPLIT_PARTIALS_BYTES, PREFILL_SPLIT_TARGET_WORKGROUPS, PREFILL_TILE_CANDIDATES, STEP_HEADER_BYTES, DECODE_WORKGROUP_SIZE, WORKGROUP_SIZE, type PrefillTile,
} from './constants.ts';
import decodeSourceRaw from './decode-attention.wgsl?raw';
import decodeListSourceRaw from './decode-list-attention.wgsl?raw';
import decodeStepSourceRaw from './decode-step-attention.wgsl?raw';
import { DensePolicy } from './dense/policy.ts';
import type { AttentionPhase, AttentionPolicy, AttentionStatistics, EvictionResult, PolicyStepContext } from './policy.ts';
import prefillSourceRaw from './prefill-attention.wgsl?raw';
import statisticsSourceRaw from './statistics.wgsl?raw';

// The kernels with their //#include lines resolved (engine/wgsl): RoPE, query staging and the split shared, the K/V
// page access of the cache's dtype (kvLibrary) and the decode split's variant (decodeLibrary), linked once per pair.
type KernelSources = Record<'append' | 'decode' | 'decodeList' | 'decodeStep' | 'prefill' | 'statistics', string>;
const linkedSources = new Map<string, KernelSources>();
function kernelSources(dtype: KvDtype, variant: DecodeChunkVariant): KernelSources {
  const key = `${dtype}:${variant}`;
  let sources = linkedSources.get(key);
  if (!sources) {
    const library = kvLibrary(dtype);
    const decode = decodeLibrary(dtype, variant);
    sources = {
      append: linkWgsl(appendSourceRaw, library),
      decode: linkWgsl(decodeSourceRaw, decode),
      decodeList: linkWgsl(decodeListSourceRaw, decode),
      decodeStep: linkWgsl(decodeStepSourceRaw, decode),
      prefill: linkWgsl(prefillSourceRaw, library),
      statistics: linkWgsl(statisticsSourceRaw, library),
    };
    linkedSources.set(key, sources);
  }
  return sources;
}

/** The decode split's variant for a device: 'serial' on CPU adapters, 'lanes' on GPUs (constants.ts says why). */
export function decodeChunkVariantFor(device: GPUDevice): DecodeChunkVariant {
  // adapterInfo is on GPUDevice since Chrome 133 / dawn.node; a device without it is taken for a GPU.
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  return info && isCpuAdapter(info) ? 'serial' : 'lanes';
}

export interface PagedAttentionOptions {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  ropeLayout: RopeLayout;
  /** Largest prefill chunk; sizes the step buffer (RoPE table) once. */
  maxPrefillTokens: number;
  /** When a prefill step splits its key range across workgroups (split-K); defaults in constants.ts. */
  prefillSplitRule?: PrefillSplitRule;
  /** Prefill attention's tiling (default: the first of PREFILL_TILE_CANDIDATES the device fits); benches try others. */
  prefillTile?: PrefillTile;
  /** Cached slots up to which encodeDecodeLayer takes one workgroup per KV head (default DECODE_ONE_WORKGROUP_SLOTS). */
  decodeOneWorkgroupSlots?: number;
  /** Splits per KV head encodeDecodeLayer keeps at most, walking runs of chunks past it (default DECODE_TARGET_SPLITS). */
  decodeTargetSplits?: number;
  /** The decode split's kernel variant (engine/wgsl decode-chunk; default decodeChunkVariantFor(device)). */
  decodeChunkVariant?: DecodeChunkVariant;
}

/**
 * Split-K of prefill attention: a step splits each workgroup's key tiles into S runs when its grid has fewer than
 * targetWorkgroups workgroups (S = ceil(target / grid)), keeping at least minTilesPerSplit tiles per run.
 */
export interface PrefillSplitRule {
  targetWorkgroups: number;
  minTilesPerSplit: number;
}

export interface AttentionStepParams {
  startPosition: number;
  numTokens: number;
  /** RoPE rows for positions startPosition .. startPosition + numTokens - 1, [numTokens][headDim / 2] each. */
  cos: Float32Array;
  sin: Float32Array;
}

export interface AttentionLayerInputs {
  layer: number;
  /** [n][numHeads * headDim] f32, not rotated. */
  q: GPUBuffer;
  /** [n][numKvHeads * headDim] f32, not rotated. */
  k: GPUBuffer;
  v: GPUBuffer;
  /** [n][numHeads * headDim] f32, written. */
  out: GPUBuffer;
  /** Must equal the step's numTokens when given (a guard against mixing up steps). */
  numTokens?: number;
  /** Defaults to dense. */
  policy?: AttentionPolicy;
}

/** One layer of a dense decode step inside the decoder's compute pass (encodeDecodeLayer). */
export interface DecodeLayerInputs {
  layer: number;
  /** The fused projection's output: q [numHeads * headDim] at 0, k and v at kOffset and vOffset (elements), not rotated. */
  qkv: GPUBuffer;
  kOffset: number;
  vOffset: number;
  /** [numHeads * headDim] f32, written. */
  out: GPUBuffer;
  /** [q_norm; k_norm] (qwen3's per-head RMSNorm weights, 2 * headDim), or null. */
  qkNorm: GPUBuffer | null;
  /** RMSNorm epsilon of the q/k norm. */
  eps?: number;
}

/** decode-step-attention.wgsl's pipelines for one qkv layout. */
interface DecodeStepKernels {
  attend: GPUComputePipeline;
  appendSplit: GPUComputePipeline;
  reduceCommit: GPUComputePipeline;
  /** Per layer, per entry point. */
  staticGroups: Record<'attend' | 'appendSplit' | 'reduceCommit', GPUBindGroup[]>;
}

interface CurrentStep {
  seq: SequenceHandle;
  startPosition: number;
  numTokens: number;
  /** Slots the CPU reserved per (layer, KV head), this step's tokens included: sizes the decode grid. */
  tokensHeld: number;
  /** Split-K runs of a prefill step (1: none). */
  splits: number;
  step: number;
  /** The policy of the step's layers (the last encodeLayer's): endStep asks it to evict. */
  policy: AttentionPolicy | null;
}

type StatisticsKernel = 'decodeRows' | 'decodeColumns' | 'decodeLogits' | 'prefillColumns';

/** Decode over a policy's list: pipelines and per-layer groups, built on first use of each list kind. */
interface ListKernels {
  split: GPUComputePipeline;
  reduce: GPUComputePipeline;
  splitGroups: GPUBindGroup[];
  reduceGroups: GPUBindGroup[];
}

/** The statistics kernels, built on the first step whose policy asks for statistics (most requests never do). */
interface StatisticsKernels {
  pipelines: Record<StatisticsKernel, GPUComputePipeline>;
  /** Per layer: one group serves the four kernels (they share an explicit layout). */
  groups: GPUBindGroup[];
  /** The groups over the cache's arenas as they are now (made again when the pool grows). */
  makeGroups: () => GPUBindGroup[];
  ioLayout: GPUBindGroupLayout;
  /** [numKvHeads][stride] f32: what the policy's hook reads. */
  stats: GPUBuffer;
  /** [numLayers] f32 prefill row-weight bases, mirrored in `decayValues` so they are written only when they change. */
  decay: GPUBuffer;
  decayValues: Float32Array<ArrayBuffer>;
}

const NO_STATISTICS: AttentionStatistics = { kind: 'none', buffer: null, stride: 0 };
/** Bind groups of the segments' buffers kept at most; ORT's buffer pool cycles through a few per step. */
const MAX_IO_BIND_GROUPS = 256;

/**
 * Usage per step: cache-independent setup once, then
 *   attention.beginStep(seq, { startPosition, numTokens, cos, sin });   // reserves pages, one writeBuffer
 *   for each layer: ...ORT segment...; attention.encodeLayer(encoder, { layer, q, k, v, out, policy });
 *   device.queue.submit([encoder.finish()]);
 * The step buffer is shared by all steps: submit a step's commands before the next beginStep.
 */
export class PagedAttention {
  readonly device: GPUDevice;
  readonly cache: PagedKVCache;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly ropeLayout: RopeLayout;
  readonly maxPrefillTokens: number;

  private readonly stepBuffer: GPUBuffer;
  private readonly stepData: ArrayBuffer;
  private readonly layerUniforms: GPUBuffer;
  private readonly partials: GPUBuffer;
  /** (max, sum) per (query head, row) [H][maxPrefillTokens][2] f32: written by prefill attention and decodeRows. */
  private readonly rows: GPUBuffer;
  /** Query rows per prefill workgroup (the dispatch's x divisor). */
  private readonly prefillRows: number;
  private readonly prefillTileKeys: number;
  private readonly splitRule: PrefillSplitRule;
  /** Most split-K runs a step may take (the partials buffer holds that many per row); 1: never split. */
  private readonly maxPrefillSplits: number;
  /** Split-K partials [n][H][S][d + 2] f32. */
  private readonly splitPartials: GPUBuffer;
  private readonly pipelines: Record<'append' | 'commit' | 'prefill' | 'merge' | 'split' | 'reduce', GPUComputePipeline>;
  private staticGroups: Record<'append' | 'commit' | 'prefill' | 'merge' | 'split' | 'reduce', GPUBindGroup[]>;
  /** The cache generation the bind groups over its arenas were made for (the pool grows by replacing buffers). */
  private boundGeneration: number;
  private readonly makeStaticGroups: () => typeof this.staticGroups;
  private readonly ioGroups = new Map<string, GPUBindGroup>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  private readonly decodeSteps = new Map<number, number>();
  private readonly dense = new DensePolicy();
  private current: CurrentStep | null = null;
  /** Dispatches the policy's hooks encoded in the current step (the profile's policy share). */
  private readonly policyCounts: DispatchCounts = { dispatches: 0, passes: 0 };
  private statistics: StatisticsKernels | null = null;
  /** By list kind and entries per head (the indices' row stride, a pipeline constant; fixed per policy). */
  private readonly listKernels = new Map<string, ListKernels>();
  private readonly maxSplits: number;
  private readonly decodeStepKernels = new Map<string, DecodeStepKernels>();
  private readonly decodeOneWorkgroupSlots: number;
  private readonly decodeTargetSplits: number;
  /** Bound where a kernel's optional input is absent (never read). */
  private readonly placeholder: GPUBuffer;
  /** The kernels linked for the cache's KV dtype and the decode split's variant. */
  private readonly sources: KernelSources;
  /** The decode split's variant and its threads per workgroup (WG of the decode kernels). */
  readonly decodeChunkVariant: DecodeChunkVariant;
  private readonly decodeWorkgroupSize: number;

  constructor(device: GPUDevice, cache: PagedKVCache, options: PagedAttentionOptions) {
    const { numHeads: H, numKvHeads: G, headDim: d, ropeLayout, maxPrefillTokens } = options;
    if (G !== cache.numKvHeads || d !== cache.headDim) throw new InvalidArgumentError('numKvHeads/headDim', `the cache holds ${cache.numKvHeads} KV heads of dim ${cache.headDim}`);
    if (!Number.isInteger(H / G)) throw new InvalidArgumentError('numHeads', `${H} query heads do not divide into ${G} KV heads`);
    if (d % 2 !== 0 || d > MAX_HEAD_DIM) throw new InvalidArgumentError('headDim', `must be even and at most ${MAX_HEAD_DIM}, got ${d}`);
    if (!Number.isInteger(maxPrefillTokens) || maxPrefillTokens < 1) throw new InvalidArgumentError('maxPrefillTokens', `must be a positive integer, got ${maxPrefillTokens}`);
    const group = H / G;
    if (group > DECODE_MAX_GROUP) throw new InvalidArgumentError('numHeads', `GQA groups above ${DECODE_MAX_GROUP} query heads per KV head are not supported`);
    // engine/wgsl decode-chunk's workgroup arrays: qs, dotParts (vec4 per head and slot), probs, slotBase and a list's
    // skipped flags, splitMax / splitScale and decode-step's headScale, the merge's mergeShared.
    const variant = options.decodeChunkVariant ?? decodeChunkVariantFor(device);
    if (!(variant in DECODE_WORKGROUP_SIZE)) throw new InvalidArgumentError('decodeChunkVariant', `must be one of ${Object.keys(DECODE_WORKGROUP_SIZE).join(', ')}, got ${JSON.stringify(variant)}`);
    const decodeWorkgroup = DECODE_WORKGROUP_SIZE[variant];
    // decode-chunk-lanes: qs, dotParts (a vec4 per head and slot), probs; -serial: qs, splitAcc, probs, chunkMax and
    // the split's max / sum / scale per thread. Both: slotBase and a list's skipped flags, headScale, mergeShared.
    const chunkShared = variant === 'lanes' ? group * d + 5 * group * DECODE_CHUNK + 2 * DECODE_MAX_GROUP : 2 * group * d + group * DECODE_CHUNK + 4 * decodeWorkgroup;
    const decodeShared = (chunkShared + 2 * DECODE_CHUNK + DECODE_MAX_GROUP + 1 + decodeWorkgroup) * 4;
    if (decodeShared > device.limits.maxComputeWorkgroupStorageSize) {
      throw new BufferLimitError('The decode attention workgroup', decodeShared, device.limits.maxComputeWorkgroupStorageSize, 'maxComputeWorkgroupStorageSize');
    }
    this.device = device;
    this.cache = cache;
    this.numHeads = H;
    this.numKvHeads = G;
    this.headDim = d;
    this.ropeLayout = ropeLayout;
    this.maxPrefillTokens = maxPrefillTokens;
    this.decodeChunkVariant = variant;
    this.decodeWorkgroupSize = decodeWorkgroup;
    this.sources = kernelSources(cache.dtype, variant);

    const L = cache.numLayers;
    // One split more than the slots need: a page list's virtual slots (its pages plus the newest) may pass the
    // sequence's slot count by a page.
    const maxSplits = Math.ceil(cache.maxTokensPerSequence / DECODE_CHUNK) + 1;
    this.maxSplits = maxSplits;
    // At least a whole MAX_HEAD_DIM RoPE row: decode-step-attention.wgsl binds the header and one row as a uniform.
    this.stepData = new ArrayBuffer(STEP_HEADER_BYTES + Math.max(maxPrefillTokens * d, MAX_HEAD_DIM) * 4);
    this.stepBuffer = device.createBuffer({
      label: 'attention-step', size: this.stepData.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.placeholder = device.createBuffer({ label: 'attention-placeholder', size: 16, usage: GPUBufferUsage.STORAGE });
    this.layerUniforms = device.createBuffer({ label: 'attention-layers', size: L * LAYER_UNIFORM_STRIDE, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    const layerData = new Uint32Array(L * LAYER_UNIFORM_STRIDE / 4);
    for (let l = 0; l < L; l++) layerData[l * LAYER_UNIFORM_STRIDE / 4] = l;
    device.queue.writeBuffer(this.layerUniforms, 0, layerData);
    this.partials = device.createBuffer({ label: 'attention-decode-partials', size: H * maxSplits * (d + 2) * 4, usage: GPUBufferUsage.STORAGE });
    this.rows = device.createBuffer({ label: 'attention-statistics-rows', size: H * maxPrefillTokens * 2 * 4, usage: GPUBufferUsage.STORAGE });
    const prefill = prefillTiling(d, device.limits, options.prefillTile);
    this.prefillRows = 4 * prefill.RT;
    this.prefillTileKeys = 4 * prefill.CT;
    this.decodeOneWorkgroupSlots = options.decodeOneWorkgroupSlots ?? DECODE_ONE_WORKGROUP_SLOTS;
    this.decodeTargetSplits = options.decodeTargetSplits ?? DECODE_TARGET_SPLITS;
    if (!Number.isInteger(this.decodeTargetSplits) || this.decodeTargetSplits < 1) throw new InvalidArgumentError('decodeTargetSplits', `must be a positive integer, got ${this.decodeTargetSplits}`);
    this.splitRule = options.prefillSplitRule ?? { targetWorkgroups: PREFILL_SPLIT_TARGET_WORKGROUPS, minTilesPerSplit: PREFILL_MIN_TILES_PER_SPLIT };
    const bytesPerSplit = maxPrefillTokens * H * (d + 2) * 4;
    this.maxPrefillSplits = Math.max(1, Math.min(PREFILL_MAX_SPLITS, Math.floor(PREFILL_SPLIT_PARTIALS_BYTES / bytesPerSplit)));
    this.splitPartials = device.createBuffer({
      label: 'attention-prefill-split-partials', size: this.maxPrefillSplits > 1 ? this.maxPrefillSplits * bytesPerSplit : 16, usage: GPUBufferUsage.STORAGE,
    });

    const shape = { D: d, NUM_KV_HEADS: G, NUM_LAYERS: L, PAGE: cache.pageSize, MAX_PAGES: cache.maxPagesPerSequence, INTERLEAVED: ropeLayout === 'interleaved' ? 1 : 0 };
    const scale = 1 / Math.sqrt(d);
    const make = (code: string, entryPoint: string, constants: Record<string, number>): GPUComputePipeline =>
      device.createComputePipeline({ label: `attention-${entryPoint}`, layout: 'auto', compute: { module: device.createShaderModule({ label: entryPoint, code }), entryPoint, constants } });
    this.pipelines = {
      append: make(this.sources.append, 'append', shape),
      commit: make(this.sources.append, 'commit', shape),
      prefill: make(this.sources.prefill, 'prefill', { ...shape, NUM_HEADS: H, SCALE: scale, MAX_ROWS: maxPrefillTokens, ...prefill }),
      merge: make(this.sources.prefill, 'merge', { ...shape, NUM_HEADS: H, SCALE: scale, MAX_ROWS: maxPrefillTokens, ...prefill }),
      split: make(this.sources.decode, 'split', { ...shape, NUM_HEADS: H, SCALE: scale, MAX_SPLITS: maxSplits, Q_FLOATS: group * d, SCORE_FLOATS: group * DECODE_CHUNK, WG: decodeWorkgroup }),
      reduce: make(this.sources.decode, 'reduce', { ...shape, NUM_HEADS: H, SCALE: scale, MAX_SPLITS: maxSplits, Q_FLOATS: group * d, SCORE_FLOATS: group * DECODE_CHUNK, WG: decodeWorkgroup }),
    };

    const resources = (l: number): Record<number, GPUBindingResource> => {
      const arena = cache.arenaOf(l);
      return {
        0: { buffer: this.stepBuffer },
        1: { buffer: this.layerUniforms, offset: l * LAYER_UNIFORM_STRIDE, size: 16 },
        2: { buffer: arena.pages },
        3: { buffer: arena.positions },
        4: { buffer: cache.blockTables },
        5: { buffer: cache.counts },
        6: { buffer: this.partials },
        7: { buffer: this.rows },
        8: { buffer: this.splitPartials },
      };
    };
    const bindings: Record<keyof typeof this.pipelines, number[]> = {
      append: [0, 1, 2, 3, 4, 5],
      commit: [0, 1, 5],
      prefill: [0, 1, 2, 3, 4, 5, 7, 8],
      merge: [0, 7, 8],
      split: [0, 1, 2, 4, 5, 6],
      reduce: [0, 1, 5, 6],
    };
    this.makeStaticGroups = () => {
      const groups: typeof this.staticGroups = { append: [], commit: [], prefill: [], merge: [], split: [], reduce: [] };
      for (let l = 0; l < L; l++) {
        const r = resources(l);
        for (const kind of Object.keys(bindings) as (keyof typeof bindings)[]) {
          groups[kind].push(device.createBindGroup({
            label: `attention-${kind}-layer-${l}`,
            layout: this.pipelines[kind].getBindGroupLayout(0),
            entries: bindings[kind].map((binding) => ({ binding, resource: r[binding] })),
          }));
        }
      }
      return groups;
    };
    this.staticGroups = this.makeStaticGroups();
    this.boundGeneration = cache.generation;
  }

  /**
   * Starts a step of `seq`: reserves pages for its tokens in every (layer, KV head) and writes the step
   * parameters and RoPE table with one writeBuffer. Throws ContextFullError before any work.
   */
  beginStep(seq: SequenceHandle, params: AttentionStepParams): void {
    const { startPosition, numTokens: n, cos, sin } = params;
    if (!Number.isInteger(n) || n < 1 || n > this.maxPrefillTokens) throw new InvalidArgumentError('numTokens', `must be in [1, ${this.maxPrefillTokens}], got ${n}`);
    if (!Number.isInteger(startPosition) || startPosition < 0) throw new InvalidArgumentError('startPosition', `must be a non-negative integer, got ${startPosition}`);
    const half = this.headDim / 2;
    if (cos.length < n * half || sin.length < n * half) throw new InvalidArgumentError('cos/sin', `need ${n} rows of ${half}, got ${cos.length} and ${sin.length} values`);
    this.cache.reserve(seq, n);
    if (this.cache.generation !== this.boundGeneration) this.rebindArenas();
    const header = new Uint32Array(this.stepData, 0, 4);
    header[0] = seq.slot;
    header[1] = startPosition;
    header[2] = n;
    const splits = n > 1 ? this.prefillSplits(n, this.cache.tokensHeld(seq)) : 1;
    header[3] = splits;
    const table = new Float32Array(this.stepData, STEP_HEADER_BYTES, 2 * n * half);
    table.set(cos.subarray(0, n * half), 0);
    table.set(sin.subarray(0, n * half), n * half);
    this.device.queue.writeBuffer(this.stepBuffer, 0, this.stepData, 0, STEP_HEADER_BYTES + 2 * n * half * 4);
    const decoded = this.decodeSteps.get(seq.id) ?? 0;
    if (n === 1) this.decodeSteps.set(seq.id, decoded + 1);
    this.current = { seq, startPosition, numTokens: n, tokensHeld: this.cache.tokensHeld(seq), splits, step: decoded, policy: null };
    this.policyCounts.dispatches = 0;
    this.policyCounts.passes = 0;
  }

  /** Dispatches the policy's hooks (estimators, selection, metadata, eviction) encoded in the current step so far. */
  get stepPolicyDispatches(): number {
    return this.policyCounts.dispatches;
  }

  /**
   * Forgets the last `steps` decode steps of `seq` (encoded ahead past a stop and dropped): its step counter goes
   * back. Returns the step number of the first one dropped (the next step takes it again).
   */
  rewindSteps(seq: SequenceHandle, steps: number): number {
    const decoded = this.decodeSteps.get(seq.id) ?? 0;
    if (!Number.isInteger(steps) || steps < 0 || steps > decoded) throw new InvalidArgumentError('steps', `must be in [0, ${decoded}], got ${steps}`);
    this.decodeSteps.set(seq.id, decoded - steps);
    return decoded - steps;
  }

  /** Encodes RoPE + append + attention + count commit of one layer for the current step. */
  encodeLayer(encoder: GPUCommandEncoder, inputs: AttentionLayerInputs): void {
    const st = this.current;
    if (!st) throw new InvalidArgumentError('encodeLayer', 'call beginStep first');
    const { layer, q, k, v, out } = inputs;
    const n = st.numTokens;
    if (inputs.numTokens !== undefined && inputs.numTokens !== n) throw new InvalidArgumentError('numTokens', `the step has ${n} tokens, got ${inputs.numTokens}`);
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.cache.numLayers) throw new InvalidArgumentError('layer', `must be in [0, ${this.cache.numLayers}), got ${layer}`);
    const H = this.numHeads;
    const G = this.numKvHeads;
    const d = this.headDim;
    const qBytes = n * H * d * 4;
    const kvBytes = n * G * d * 4;
    if (q.size < qBytes || out.size < qBytes) throw new InvalidArgumentError('q/out', `need ${qBytes} bytes, got ${q.size} and ${out.size}`);
    if (k.size < kvBytes || v.size < kvBytes) throw new InvalidArgumentError('k/v', `need ${kvBytes} bytes, got ${k.size} and ${v.size}`);

    const policy: AttentionPolicy = inputs.policy ?? this.dense;
    st.policy = policy;
    const phase: AttentionPhase = n > 1 ? 'prefill' : 'decode';
    const ctx: PolicyStepContext = {
      device: this.device, cache: this.cache, seq: st.seq, layer, phase, step: st.step, startPosition: st.startPosition, numTokens: n,
      query: q, scale: 1 / Math.sqrt(d),
    };
    const statistic = policy.needs.statistics(layer, phase, st.step);
    if (statistic === 'logits' && phase === 'prefill') throw new InvalidArgumentError('policy', `${policy.name} asks for logits at prefill; the kernels emit them at decode steps only`);

    let pass = encoder.beginComputePass({ label: `attention-append-${layer}` });
    pass.setPipeline(this.pipelines.append);
    pass.setBindGroup(0, this.staticGroups.append[layer]);
    pass.setBindGroup(1, this.ioGroup('append', [k, v]));
    pass.dispatchWorkgroups(Math.ceil(G * d / 2 / WORKGROUP_SIZE), n);
    pass.end();
    // The policy's hooks encode through a counting view of the encoder: the profile reports what they add.
    const policyEncoder = policy === this.dense ? encoder : countingEncoder(encoder, this.policyCounts);
    policy.onAppend?.(policyEncoder, ctx);

    // Prefill always reads everything; decode reads what the policy plans, except on its dense layers.
    const denseLayer = phase === 'prefill' || policy.needs.denseLayers === 'all' || policy.needs.denseLayers.includes(layer);
    const plan = denseLayer ? { kind: 'dense' as const } : policy.plan(policyEncoder, ctx);

    pass = encoder.beginComputePass({ label: `attention-${phase}-${layer}` });
    if (phase === 'prefill') {
      pass.setPipeline(this.pipelines.prefill);
      pass.setBindGroup(0, this.staticGroups.prefill[layer]);
      pass.setBindGroup(1, this.ioGroup('prefill', [q, out]));
      pass.dispatchWorkgroups(Math.ceil(n * (H / G) / this.prefillRows), G, st.splits);
      if (st.splits > 1) {
        pass.setPipeline(this.pipelines.merge);
        pass.setBindGroup(0, this.staticGroups.merge[layer]);
        pass.setBindGroup(1, this.ioGroup('merge', [out]));
        pass.dispatchWorkgroups(Math.ceil(n * H * d / WORKGROUP_SIZE));
      }
    } else if (plan.kind !== 'dense') {
      const virtualSlots = plan.kind === 'tokens' ? plan.maxPerHead + 1 : (plan.maxPerHead + 1) * this.cache.pageSize;
      if (!Number.isInteger(plan.maxPerHead) || plan.maxPerHead < 0 || Math.ceil(virtualSlots / DECODE_CHUNK) > this.maxSplits) {
        throw new InvalidArgumentError('policy', `${policy.name} planned lists of up to ${plan.maxPerHead} ${plan.kind}, more than the sequence can hold`);
      }
      const list = this.listKernelsFor(plan.kind, plan.maxPerHead);
      pass.setPipeline(list.split);
      pass.setBindGroup(0, list.splitGroups[layer]);
      pass.setBindGroup(1, this.listIoGroup(list.split, [q, plan.indices, plan.lengths], [0, 2, 3]));
      pass.dispatchWorkgroups(Math.ceil(virtualSlots / DECODE_CHUNK), G);
      pass.setPipeline(list.reduce);
      pass.setBindGroup(0, list.reduceGroups[layer]);
      pass.setBindGroup(1, this.listIoGroup(list.reduce, [out, plan.lengths], [1, 3]));
      pass.dispatchWorkgroups(H);
    } else {
      pass.setPipeline(this.pipelines.split);
      pass.setBindGroup(0, this.staticGroups.split[layer]);
      pass.setBindGroup(1, this.ioGroup('split', [q]));
      pass.dispatchWorkgroups(Math.ceil(st.tokensHeld / DECODE_CHUNK), G);
      pass.setPipeline(this.pipelines.reduce);
      pass.setBindGroup(0, this.staticGroups.reduce[layer]);
      pass.setBindGroup(1, this.ioGroup('reduce', [out]));
      pass.dispatchWorkgroups(H);
    }
    pass.setPipeline(this.pipelines.commit);
    pass.setBindGroup(0, this.staticGroups.commit[layer]);
    pass.dispatchWorkgroups(1);
    pass.end();

    const stats = statistic === 'none' ? NO_STATISTICS : this.encodeStatistics(policyEncoder, layer, phase, q, policy, statistic);
    if (phase === 'prefill') policy.afterPrefill?.(policyEncoder, ctx, stats);
    else policy.afterAttention?.(policyEncoder, ctx, stats);
  }

  /**
   * Encodes one layer of a dense decode step into the caller's compute pass (decode-step-attention.wgsl): q/k norm,
   * RoPE, the K/V append, attention over every cached slot and the count commit, in one dispatch while the step's
   * context fits one workgroup's walk (DECODE_ONE_WORKGROUP_SLOTS), else a split and a merge. No policy hooks run:
   * for a policy, use encodeLayer.
   */
  encodeDecodeLayer(pass: GPUComputePassEncoder, inputs: DecodeLayerInputs): void {
    const st = this.current;
    if (!st) throw new InvalidArgumentError('encodeDecodeLayer', 'call beginStep first');
    if (st.numTokens !== 1) throw new InvalidArgumentError('numTokens', `encodeDecodeLayer encodes decode steps (1 token), the step has ${st.numTokens}`);
    const { layer } = inputs;
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.cache.numLayers) throw new InvalidArgumentError('layer', `must be in [0, ${this.cache.numLayers}), got ${layer}`);
    st.policy = this.dense;
    const k = this.decodeStepKernelsFor(inputs);
    const io = this.decodeStepIoGroup(k.attend, inputs);
    if (st.tokensHeld <= this.decodeOneWorkgroupSlots) {
      pass.setPipeline(k.attend);
      pass.setBindGroup(0, k.staticGroups.attend[layer]);
      pass.setBindGroup(1, io);
      pass.dispatchWorkgroups(1, this.numKvHeads);
      return;
    }
    pass.setPipeline(k.appendSplit);
    pass.setBindGroup(0, k.staticGroups.appendSplit[layer]);
    pass.setBindGroup(1, this.decodeStepIoGroup(k.appendSplit, inputs));
    pass.dispatchWorkgroups(decodeStepSplits(st.tokensHeld, this.decodeTargetSplits), this.numKvHeads);
    pass.setPipeline(k.reduceCommit);
    pass.setBindGroup(0, k.staticGroups.reduceCommit[layer]);
    pass.setBindGroup(1, this.decodeStepIoGroup(k.reduceCommit, inputs));
    pass.dispatchWorkgroups(this.numKvHeads);
  }

  private decodeStepKernelsFor(inputs: DecodeLayerInputs): DecodeStepKernels {
    const key = `${inputs.kOffset}:${inputs.vOffset}:${inputs.qkNorm ? 1 : 0}:${inputs.eps ?? 1e-6}`;
    const known = this.decodeStepKernels.get(key);
    if (known) return known;
    // Made at a model's first decode step, in the GPU's error scopes (engine/gpu): refused, the step fails typed and
    // the next makes them again.
    return withDeferredGpuErrorScopes(this.device, 'the decode attention kernels', () => this.createDecodeStepKernels(inputs, key), {
      release: () => this.decodeStepKernels.delete(key),
    });
  }

  private createDecodeStepKernels(inputs: DecodeLayerInputs, key: string): DecodeStepKernels {
    const { device, cache, numHeads: H, numKvHeads: G, headDim: d } = this;
    const group = H / G;
    const module = device.createShaderModule({ label: 'attention-decode-step', code: this.sources.decodeStep });
    const constants = {
      D: d, NUM_HEADS: H, NUM_KV_HEADS: G, NUM_LAYERS: cache.numLayers, PAGE: cache.pageSize, MAX_PAGES: cache.maxPagesPerSequence,
      MAX_SPLITS: this.maxSplits, INTERLEAVED: this.ropeLayout === 'interleaved' ? 1 : 0, SCALE: 1 / Math.sqrt(d),
      Q_FLOATS: group * d, SCORE_FLOATS: group * DECODE_CHUNK, K_OFFSET: inputs.kOffset, V_OFFSET: inputs.vOffset,
      QK_NORM: inputs.qkNorm ? 1 : 0, EPS: inputs.eps ?? 1e-6, TARGET_SPLITS: this.decodeTargetSplits, WG: this.decodeWorkgroupSize,
    };
    const make = (entryPoint: string) => device.createComputePipeline({ label: `attention-${entryPoint}-${key}`, layout: 'auto', compute: { module, entryPoint, constants } });
    const pipelines = { attend: make('attend'), appendSplit: make('appendSplit'), reduceCommit: make('reduceCommit') };
    // attend walks every chunk as one split, so it leaves no partials.
    const bindings = { attend: [0, 1, 2, 3, 4, 5], appendSplit: [0, 1, 2, 3, 4, 5, 6], reduceCommit: [0, 1, 5, 6] };
    const stepBinding = { buffer: this.stepBuffer, offset: 0, size: STEP_HEADER_BYTES + MAX_HEAD_DIM * 4 };
    const staticGroups = { attend: [] as GPUBindGroup[], appendSplit: [] as GPUBindGroup[], reduceCommit: [] as GPUBindGroup[] };
    for (let l = 0; l < cache.numLayers; l++) {
      const arena = cache.arenaOf(l);
      const r: Record<number, GPUBindingResource> = {
        0: stepBinding, 1: { buffer: this.layerUniforms, offset: l * LAYER_UNIFORM_STRIDE, size: 16 }, 2: { buffer: arena.pages },
        3: { buffer: arena.positions }, 4: { buffer: cache.blockTables }, 5: { buffer: cache.counts }, 6: { buffer: this.partials },
      };
      for (const kind of Object.keys(bindings) as (keyof typeof bindings)[]) {
        staticGroups[kind].push(device.createBindGroup({
          label: `attention-${kind}-layer-${l}`, layout: pipelines[kind].getBindGroupLayout(0),
          entries: bindings[kind].map((binding) => ({ binding, resource: r[binding] })),
        }));
      }
    }
    const kernels = { ...pipelines, staticGroups };
    this.decodeStepKernels.set(key, kernels);
    return kernels;
  }

  /** Group 1 of a decode-step kernel (attend: qkv, out, qk norm; appendSplit: qkv, qk norm; reduceCommit: out), cached. */
  private decodeStepIoGroup(pipeline: GPUComputePipeline, inputs: DecodeLayerInputs): GPUBindGroup {
    const norm = inputs.qkNorm ?? this.placeholder;
    if (pipeline.label.startsWith('attention-reduceCommit')) return this.listIoGroup(pipeline, [inputs.out], [1]);
    if (pipeline.label.startsWith('attention-appendSplit')) return this.listIoGroup(pipeline, [inputs.qkv, norm], [0, 2]);
    return this.listIoGroup(pipeline, [inputs.qkv, inputs.out, norm], [0, 1, 2]);
  }

  /**
   * Ends the step after its last layer: an evicting policy compacts every (layer, KV head) on the GPU. When it
   * evicted, the caller submits and then calls cache.truncate(seq, tokensHeld) so the CPU frees the tail pages.
   */
  endStep(encoder: GPUCommandEncoder): EvictionResult | null {
    const st = this.current;
    if (!st) throw new InvalidArgumentError('endStep', 'call beginStep first');
    const policy = st.policy;
    if (!policy?.evict) return null;
    return policy.evict(countingEncoder(encoder, this.policyCounts), {
      device: this.device, cache: this.cache, seq: st.seq, layer: -1, phase: st.numTokens > 1 ? 'prefill' : 'decode', step: st.step,
      startPosition: st.startPosition, numTokens: st.numTokens, query: null, scale: 1 / Math.sqrt(this.headDim),
    });
  }

  /**
   * Encodes the statistic of this layer's step (statistics.wgsl) after its attention and commit. Under a list plan
   * the column sums use the step's softmax normalizer, so they are exact for the slots read (Recycled Attention asks
   * for them on full steps, whose list is every slot).
   */
  private encodeStatistics(
    encoder: GPUCommandEncoder, layer: number, phase: AttentionPhase, q: GPUBuffer, policy: AttentionPolicy, statistic: 'logits' | 'probability-column-sums',
  ): AttentionStatistics {
    const st = this.current as CurrentStep;
    const k = this.statisticsKernels();
    if (phase === 'prefill') {
      const a = policy.needs.prefillRowDecay?.(layer) ?? 1;
      if (!(a > 0 && a <= 1)) throw new InvalidArgumentError('policy', `${policy.name}'s prefill row decay at layer ${layer} must be in (0, 1], got ${a}`);
      // Written only when it changes; queue writes land before the step's commands, and each layer has its entry.
      if (k.decayValues[layer] !== a) {
        k.decayValues[layer] = a;
        this.device.queue.writeBuffer(k.decay, layer * 4, k.decayValues, layer, 1);
      }
    }
    const group = this.numHeads / this.numKvHeads;
    const io = this.ioGroup('statistics', [q]);
    const pass = encoder.beginComputePass({ label: `attention-statistics-${layer}` });
    const dispatch = (kernel: StatisticsKernel, x: number, y: number) => {
      pass.setPipeline(k.pipelines[kernel]);
      pass.setBindGroup(0, k.groups[layer]);
      pass.setBindGroup(1, io);
      pass.dispatchWorkgroups(x, y);
    };
    const slots = Math.ceil(st.tokensHeld / WORKGROUP_SIZE);
    if (statistic === 'logits') {
      dispatch('decodeLogits', slots, this.numKvHeads);
    } else if (phase === 'prefill') {
      // The prefill attention kernel wrote each row's max and sum.
      dispatch('prefillColumns', slots, this.numKvHeads);
    } else {
      dispatch('decodeRows', this.numHeads, 1);
      dispatch('decodeColumns', slots, this.numKvHeads);
    }
    pass.end();
    return { kind: statistic, buffer: k.stats, stride: this.cache.maxTokensPerSequence };
  }

  private listKernelsFor(kind: 'tokens' | 'pages', maxPerHead: number): ListKernels {
    const key = `${kind}:${maxPerHead}`;
    const known = this.listKernels.get(key);
    if (known) return known;
    // Made at the first step of a selecting policy, in the GPU's error scopes (engine/gpu), as above.
    return withDeferredGpuErrorScopes(this.device, `the ${kind}-list attention kernels`, () => this.createListKernels(kind, maxPerHead, key), {
      release: () => this.listKernels.delete(key),
    });
  }

  private createListKernels(kind: 'tokens' | 'pages', maxPerHead: number, key: string): ListKernels {
    const { device, cache, numHeads: H, numKvHeads: G, headDim: d } = this;
    const group = H / G;
    const module = device.createShaderModule({ label: `attention-decode-list-${kind}`, code: this.sources.decodeList });
    const constants = {
      D: d, NUM_HEADS: H, NUM_KV_HEADS: G, NUM_LAYERS: cache.numLayers, PAGE: cache.pageSize, MAX_PAGES: cache.maxPagesPerSequence,
      MAX_SPLITS: this.maxSplits, INTERLEAVED: this.ropeLayout === 'interleaved' ? 1 : 0, SCALE: 1 / Math.sqrt(d),
      Q_FLOATS: group * d, SCORE_FLOATS: group * DECODE_CHUNK, LIST_KIND: kind === 'tokens' ? 1 : 2,
      MAX_PER_HEAD: Math.max(1, maxPerHead), WG: this.decodeWorkgroupSize,
    };
    const make = (entryPoint: string) => device.createComputePipeline({ label: `attention-${entryPoint}-${kind}`, layout: 'auto', compute: { module, entryPoint, constants } });
    const split = make('splitList');
    const reduce = make('reduceList');
    const groups = (pipeline: GPUComputePipeline, bindings: number[]) => Array.from({ length: cache.numLayers }, (_, l) => {
      const resources: Record<number, GPUBindingResource> = {
        0: { buffer: this.stepBuffer }, 1: { buffer: this.layerUniforms, offset: l * LAYER_UNIFORM_STRIDE, size: 16 },
        2: { buffer: cache.arenaOf(l).pages }, 4: { buffer: cache.blockTables }, 5: { buffer: cache.counts }, 6: { buffer: this.partials },
      };
      return device.createBindGroup({
        label: `attention-list-layer-${l}`, layout: pipeline.getBindGroupLayout(0),
        entries: bindings.map((binding) => ({ binding, resource: resources[binding] })),
      });
    });
    const kernels = { split, reduce, splitGroups: groups(split, [0, 1, 2, 4, 5, 6]), reduceGroups: groups(reduce, [6]) };
    this.listKernels.set(key, kernels);
    return kernels;
  }

  /** Bind group 1 of a list kernel over the plan's buffers, cached by buffer identity. */
  private listIoGroup(pipeline: GPUComputePipeline, buffers: GPUBuffer[], bindings: number[]): GPUBindGroup {
    const key = `${pipeline.label}${buffers.map((b) => ':' + this.bufferId(b)).join('')}`;
    let group = this.ioGroups.get(key);
    if (!group) {
      if (this.ioGroups.size >= MAX_IO_BIND_GROUPS) this.ioGroups.clear();
      group = this.device.createBindGroup({
        label: `${pipeline.label}-io`, layout: pipeline.getBindGroupLayout(1),
        entries: buffers.map((buffer, i) => ({ binding: bindings[i], resource: { buffer } })),
      });
      this.ioGroups.set(key, group);
    }
    return group;
  }

  private statisticsKernels(): StatisticsKernels {
    if (this.statistics) return this.statistics;
    // Made at the first step of a policy that asks for statistics, in the GPU's error scopes (engine/gpu), as above.
    return withDeferredGpuErrorScopes(this.device, 'the attention statistics kernels and buffer', () => this.createStatisticsKernels(), {
      release: (k) => {
        if (this.statistics !== k) return;
        for (const b of [k.stats, k.decay]) b.destroy();
        this.statistics = null;
      },
    });
  }

  private createStatisticsKernels(): StatisticsKernels {
    const { device, cache, numHeads: H, numKvHeads: G, headDim: d } = this;
    const L = cache.numLayers;
    const stride = cache.maxTokensPerSequence;
    // COPY_SRC: a policy may keep a step's statistics by copying them (Recycled Attention's full steps, tests).
    const stats = device.createBuffer({ label: 'attention-statistics', size: G * stride * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    const decayValues = new Float32Array(L).fill(1);
    const decay = device.createBuffer({ label: 'attention-statistics-decay', size: L * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(decay, 0, decayValues);
    const module = device.createShaderModule({ label: 'attention-statistics', code: this.sources.statistics });
    const constants = {
      D: d, NUM_HEADS: H, NUM_KV_HEADS: G, NUM_LAYERS: L, PAGE: cache.pageSize, MAX_PAGES: cache.maxPagesPerSequence,
      MAX_SPLITS: this.maxSplits, MAX_ROWS: this.maxPrefillTokens, STRIDE: stride, INTERLEAVED: this.ropeLayout === 'interleaved' ? 1 : 0,
      SCALE: 1 / Math.sqrt(d), Q_FLOATS: (H / G) * d,
    };
    // One explicit layout for the four kernels (an 'auto' layout is private to its pipeline), so a layer's bind
    // groups serve them all.
    const entry = (binding: number, type: GPUBufferBindingType): GPUBindGroupLayoutEntry => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type } });
    const staticLayout = device.createBindGroupLayout({
      label: 'attention-statistics-static',
      entries: [
        entry(0, 'read-only-storage'), entry(1, 'uniform'), ...[2, 3, 4, 5, 6].map((b) => entry(b, 'read-only-storage')),
        entry(7, 'storage'), entry(8, 'storage'), entry(9, 'read-only-storage'),
      ],
    });
    const ioLayout = device.createBindGroupLayout({ label: 'attention-statistics-io', entries: [entry(0, 'read-only-storage')] });
    const layout = device.createPipelineLayout({ label: 'attention-statistics', bindGroupLayouts: [staticLayout, ioLayout] });
    const kernels: StatisticsKernel[] = ['decodeRows', 'decodeColumns', 'decodeLogits', 'prefillColumns'];
    const pipelines = Object.fromEntries(kernels.map((entryPoint) => [entryPoint, device.createComputePipeline({
      label: `attention-${entryPoint}`, layout, compute: { module, entryPoint, constants },
    })])) as Record<StatisticsKernel, GPUComputePipeline>;
    const makeGroups = () => Array.from({ length: L }, (_, l) => {
      const arena = cache.arenaOf(l);
      const resources: GPUBindingResource[] = [
        { buffer: this.stepBuffer }, { buffer: this.layerUniforms, offset: l * LAYER_UNIFORM_STRIDE, size: 16 },
        { buffer: arena.pages }, { buffer: arena.positions }, { buffer: cache.blockTables }, { buffer: cache.counts },
        { buffer: this.partials }, { buffer: stats }, { buffer: this.rows }, { buffer: decay },
      ];
      return device.createBindGroup({
        label: `attention-statistics-layer-${l}`, layout: staticLayout, entries: resources.map((resource, binding) => ({ binding, resource })),
      });
    });
    this.statistics = { pipelines, groups: makeGroups(), makeGroups, ioLayout, stats, decay, decayValues };
    return this.statistics;
  }

  /** The pool grew (its arenas are new buffers): every bind group over them is made again. */
  private rebindArenas(): void {
    this.staticGroups = this.makeStaticGroups();
    this.listKernels.clear();
    if (this.statistics) this.statistics.groups = this.statistics.makeGroups();
    this.boundGeneration = this.cache.generation;
  }

  /** Split-K runs of the current step's prefill attention (1: not split), for tests and benches. */
  get stepSplits(): number {
    return this.current?.splits ?? 1;
  }

  /**
   * Split-K runs for a prefill step of n tokens over `slots` cached slots (this step's included): enough to bring the
   * grid to the rule's target, each run keeping at least minTilesPerSplit key tiles, at most maxPrefillSplits.
   */
  private prefillSplits(n: number, slots: number): number {
    const grid = Math.ceil(n * (this.numHeads / this.numKvHeads) / this.prefillRows) * this.numKvHeads;
    const tiles = Math.ceil(slots / this.prefillTileKeys);
    const wanted = Math.ceil(this.splitRule.targetWorkgroups / grid);
    return Math.max(1, Math.min(this.maxPrefillSplits, wanted, Math.floor(tiles / this.splitRule.minTilesPerSplit)));
  }

  /** Frees every buffer this object created (the cache's buffers are the cache's own: PagedKVCache.destroy). */
  destroy(): void {
    for (const b of [this.stepBuffer, this.layerUniforms, this.partials, this.rows, this.splitPartials, this.placeholder]) b.destroy();
    this.decodeStepKernels.clear();
    const st = this.statistics;
    if (st) for (const b of [st.stats, st.decay]) b.destroy();
    this.statistics = null;
    this.ioGroups.clear();
    this.listKernels.clear();
  }

  /** Bind group 1 of a kernel over the segment's buffers, cached by buffer identity. */
  private ioGroup(kind: 'append' | 'prefill' | 'merge' | 'split' | 'reduce' | 'statistics', buffers: GPUBuffer[]): GPUBindGroup {
    const key = kind + buffers.map((b) => ':' + this.bufferId(b)).join('');
    let group = this.ioGroups.get(key);
    if (!group) {
      if (this.ioGroups.size >= MAX_IO_BIND_GROUPS) this.ioGroups.clear();
      // append binds (k, v) at 0, 1; prefill (q, out) at 0, 1; split q at 0; reduce out at 1.
      const first = kind === 'reduce' || kind === 'merge' ? 1 : 0;
      group = this.device.createBindGroup({
        label: `attention-${kind}-io`,
        layout: kind === 'statistics' ? this.statisticsKernels().ioLayout : this.pipelines[kind].getBindGroupLayout(1),
        entries: buffers.map((buffer, i) => ({ binding: first + i, resource: { buffer } })),
      });
      this.ioGroups.set(key, group);
    }
    return group;
  }

  private bufferId(buffer: GPUBuffer): number {
    let id = this.bufferIds.get(buffer);
    if (id === undefined) {
      id = this.nextBufferId++;
      this.bufferIds.set(buffer, id);
    }
    return id;
  }
}

/** Workgroup bytes and threads of prefill-attention.wgsl under `tile` for head dim d (the sizes of its arrays). */
function tilingOf(d: number, tile: PrefillTile) {
  const CT = tile.keyGroups;
  const RT = tile.rowGroups;
  const BR = 4 * RT;
  const BC = 4 * CT;
  const DC = 4 * CT;
  const chunks = Math.ceil(d / DC);
  const constants = { CT, RT, WG: CT * RT, Q_VEC4S: BR * chunks * DC / 4, KV_VEC4S: BC * DC / 4, P_VEC4S: BR * BC / 4, M_VEC4S: CT * RT };
  // The vec4 arrays and the 64-slot positions tile.
  const bytes = (constants.Q_VEC4S + constants.KV_VEC4S + constants.P_VEC4S + constants.M_VEC4S) * 16 + 64 * 4;
  return { constants, bytes, chunks };
}

/**
 * The prefill kernel's tiling for head dim d (pipeline constants of prefill-attention.wgsl): `tile` when given (a
 * bench's candidate; refused typed when the device cannot run it), else the first of PREFILL_TILE_CANDIDATES whose
 * workgroup memory and threads fit the device and whose head-dim chunks fit the kernel's output registers.
 */
export function prefillTiling(
  d: number, limits: Pick<GPUSupportedLimits, 'maxComputeWorkgroupStorageSize' | 'maxComputeInvocationsPerWorkgroup'>, tile?: PrefillTile,
): Record<'CT' | 'RT' | 'WG' | 'Q_VEC4S' | 'KV_VEC4S' | 'P_VEC4S' | 'M_VEC4S', number> {
  const fits = (t: PrefillTile) => {
    const { bytes, chunks, constants } = tilingOf(d, t);
    return chunks <= 4 && bytes <= limits.maxComputeWorkgroupStorageSize && constants.WG <= limits.maxComputeInvocationsPerWorkgroup;
  };
  if (tile) {
    if (![4, 8, 16].includes(tile.keyGroups) || !Number.isInteger(tile.rowGroups) || tile.rowGroups < 1) {
      throw new InvalidArgumentError('prefillTile', `keyGroups must be 4, 8 or 16 and rowGroups a positive integer, got ${tile.keyGroups} x ${tile.rowGroups}`);
    }
    const { bytes, chunks } = tilingOf(d, tile);
    if (chunks > 4) throw new InvalidArgumentError('prefillTile', `${tile.keyGroups} key groups take head dim ${d} in ${chunks} chunks; the kernel holds 4: use more key groups`);
    if (!fits(tile)) throw new BufferLimitError(`The prefill attention workgroup (${tile.keyGroups} x ${tile.rowGroups})`, bytes, limits.maxComputeWorkgroupStorageSize, 'maxComputeWorkgroupStorageSize');
    return tilingOf(d, tile).constants;
  }
  const picked = PREFILL_TILE_CANDIDATES.find(fits);
  if (!picked) {
    const smallest = PREFILL_TILE_CANDIDATES[PREFILL_TILE_CANDIDATES.length - 1];
    throw new BufferLimitError('The prefill attention workgroup', tilingOf(d, smallest).bytes, limits.maxComputeWorkgroupStorageSize, 'maxComputeWorkgroupStorageSize');
  }
  return tilingOf(d, picked).constants;
}

/**
 * Splits of a dense decode step over `slots` cached slots (decode-step-attention.wgsl's chunksPerSplit, which the
 * kernels compute alike): a chunk each up to `targetSplits` chunks, then runs of chunks that keep the splits at most
 * that many.
 */
export function decodeStepSplits(slots: number, targetSplits = DECODE_TARGET_SPLITS): number {
  const chunks = Math.ceil(slots / DECODE_CHUNK);
  const perSplit = Math.max(1, Math.ceil(chunks / targetSplits));
  return Math.ceil(chunks / perSplit);
}
