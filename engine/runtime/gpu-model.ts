// The GPU forward of one model on the engine's one device, all in our own WGSL: prefill a chunk at a time
// (engine/prefill: tiled GEMMs and the paged flash attention, one command encoder per chunk), decode a token at a
// time (engine/decode: the whole token in one command encoder, its kernels in the variant that suits the adapter).
// Implements the generation backend (prefill / decode / reset).
//
// Why no ORT (DESIGN.md's ORT prefill segments are superseded): one ORT run() costs milliseconds of host time on a
// real GPU whatever the graph (0.5 ms in decode, ~2.6 ms per prefill segment on an H200), so L+1 runs per token or
// chunk bound both phases by the host, and ORT 1.30's graph capture fails on our sessions. Decode moved first
// (bench/results/node-decode-h200.json: 104 against 17 tokens/s on a 30-layer model); prefill followed once the H200
// measured both paths in one run (bench/results/node-prefill-h200.json, docs/prefill.md).
import { DEFAULT_PREFILL_CHUNK, PagedAttention, type AttentionPolicy, type EvictionResult, type PrefillSplitRule, type PrefillTile } from '../attention/index.ts';
import { AbortedError, ContextFullError, InvalidArgumentError, NonFiniteLogitsError } from '../errors/index.ts';
import type { CacheUsage, DeviceSampling, ForwardBackend, PrefillOptions } from '../generation/index.ts';
import { checkGpuErrors, type EngineDevice } from '../gpu/index.ts';
import { DEFAULT_KV_MEMORY_BYTES, KV_BUFFER_BYTES, KV_DTYPES, KV_PAGE_SIZE, kvCapacity, PagedKVCache, type KvDtype, type SequenceHandle } from '../kv/index.ts';
import { ropeInverseFrequencies, ropeTable, type LoadedModel, type ModelConfig, type ProgressCallback } from '../model/index.ts';
import { GpuWeights, quantizeOnFor } from './weights.ts';
import { countingEncoder, decodeVariantFor, defaultWeightFormat, WgslDecoder, type DispatchCounts, type GemmTile } from '../decode/index.ts';
import { parseQuantization, type QuantizationMode } from '../quant/index.ts';
import { WgslPrefill, type PrefillTimer } from '../prefill/index.ts';

/** Largest `prefillChunk` a load may ask for: the chunk's activations (ids, q/k/v, attention output) scale with it. */
export const MAX_PREFILL_CHUNK = 4096;
/**
 * Decode steps the host encodes ahead of the id it is waiting for (engine/decode chooses each id on the GPU, by argmax
 * or the sampler kernel, and the next step embeds it from a buffer). One already overlaps encoding with the GPU's
 * step; two leave room for a host hiccup. Steps past a stop are undone: the cache is truncated and the policy rewinds
 * its per-step state (see decodeStream); a policy that cannot (encodesAhead false: Recycled Attention) waits per id.
 */
export const DECODE_ENCODE_AHEAD = 2;


export interface GpuModelOptions {
  /**
   * How the matrices are stored on the GPU (engine/quant): 'f32', 'f16' (packed pairs, f32 sums; no shader-f16
   * needed), or 'int4' / 'int8' blocks of 32 in MatMulNBits' layout, each read by our decode matvecs and prefill
   * GEMMs. Default: defaultWeightFormat(adapter), f16 on real GPUs and f32 on CPU adapters. docs/quantization.md has
   * the measured logit error against f32 and the memory of each.
   */
  quantization?: QuantizationMode;
  /**
   * Prompt tokens per prefill chunk (default DEFAULT_PREFILL_CHUNK): a longer prompt runs in chunks of this many, each
   * through every layer; an evicting policy evicts after each chunk, a selecting policy's metadata grows with each.
   * Smaller chunks bound activation memory and let an abort land sooner; larger ones amortize per-chunk host work.
   */
  prefillChunk?: number;
  /** Split-K rule of prefill attention (engine/attention constants by default); bench/node-prefill compares settings. */
  prefillSplitRule?: PrefillSplitRule;
  /** Prefill attention's tiling (engine/attention PREFILL_TILE_CANDIDATES' first that fits by default); for benches. */
  prefillTile?: PrefillTile;
  /** The prefill GEMM's register tile (the adapter's decode variant's by default); for benches. */
  gemmTile?: GemmTile;
  /** GPU timestamps of every prefill chunk's products and attention (bench/node-prefill); none by default. */
  prefillTimer?: PrefillTimer;
  /**
   * Bytes of GPU memory the KV pool may grow to (default: DEFAULT_KV_MEMORY_BYTES, 1 GiB, or less when the adapter's
   * buffer limits hold less: one buffer per layer at most). The pool starts at `kvGrowthBytes` and grows by that
   * much as sequences need it, in buffers of at most KV_BUFFER_BYTES. kvMemory bounds the dense context:
   * contextLength() reports what it holds (never more than the trained context); engine.stats() what is allocated.
   * A device that refuses the first step fails the load, and a refused growth fails the request, with
   * OUT_OF_GPU_MEMORY (the engine stays usable).
   */
  kvMemory?: number;
  /** Bytes the KV pool grows by at a time (default KV_BUFFER_BYTES); tests and benches make growth visible with less. */
  kvGrowthBytes?: number;
  /**
   * Element type of the KV cache's K and V: 'f16' (two per u32 word, half the bytes, so twice the tokens in kvMemory
   * and half the attention reads) or 'f32'. Default: defaultKvDtype(adapter), f16 on GPUs and f32 on CPU adapters.
   * Attention accumulates in f32 either way; f16 needs no shader-f16 (core WGSL pack2x16float / unpack2x16float).
   */
  kvDtype?: KvDtype;
  /** Aborts the load before the model's buffers and kernels are made: the load throws AbortedError. */
  signal?: AbortSignal;
}

/** Decode steps since the last reset of the profile (host ms; counts per step), for bench/node-decode and bench/decode. */
export interface DecodeProfile {
  /** The decode kernels' variant for this adapter (engine/decode/variants.ts). */
  variant: string;
  steps: number;
  /** Encoding and submitting the whole step (all of it host time). */
  encodeMs: number;
  /** Waiting for the logits (absorbs GPU time still in flight). */
  readbackMs: number;
  totalMs: number;
  /** Compute dispatches and compute passes encoded per step (the last step's: attention's splits grow with context). */
  dispatchesPerStep: number;
  passesPerStep: number;
  /** Of dispatchesPerStep, those the attention policy's hooks encoded (estimators, selection, metadata, eviction). */
  policyDispatchesPerStep: number;
}

const now = () => performance.now();

export class GpuModel implements ForwardBackend {
  private policy: AttentionPolicy | null = null;
  /** Set when the held sequence cannot be continued (evicted, or built under another evicting policy). */
  private mustReset = false;
  private seq: SequenceHandle;
  private position = 0;
  /** The ids the sequence holds, position by position (multi-turn prefix reuse compares against them). */
  private heldIds: number[] = [];
  private profileData: DecodeProfile;
  /** Steps decodeStream encodes ahead of the id it waits for; bench/node-sampler sets 0 to measure waiting per id. */
  encodeAhead = DECODE_ENCODE_AHEAD;
  /** GpuModelOptions.prefillTimer: every prefill chunk's pass timestamps (benches). */
  prefillTimer: PrefillTimer | undefined;

  private constructor(
    private readonly engine: EngineDevice,
    readonly config: ModelConfig,
    private readonly weights: GpuWeights,
    /** The prefill path: a whole chunk in our WGSL. */
    private readonly wgslPrefill: WgslPrefill,
    /** The decode path: our WGSL decoder. */
    private readonly decoder: WgslDecoder,
    /** Decode logits readback, allocated once. */
    private readonly decodeStaging: GPUBuffer,
    /** 16-byte readbacks of greedy steps' choices, DECODE_ENCODE_AHEAD + 1 of them (one per step in flight). */
    private readonly choiceRing: GPUBuffer[],
    private readonly cache: PagedKVCache,
    private readonly attention: PagedAttention,
    private readonly inverseFrequencies: Float64Array,
    /** Buffers this model allocated (destroyed with it). */
    private readonly ownedBuffers: GPUBuffer[],
    /** Prefill logits readback (grows on demand: prefill may allocate, decode never does). */
    private prefillStaging: GPUBuffer | null = null,
  ) {
    this.seq = cache.createSequence();
    this.profileData = this.newProfile();
  }

  private newProfile(): DecodeProfile {
    return { variant: this.decoder.variant.name, steps: 0, encodeMs: 0, readbackMs: 0, totalMs: 0, dispatchesPerStep: 0, passesPerStep: 0, policyDispatchesPerStep: 0 };
  }

  /** A model whose weights are on the CPU (tests, benches, the CPU reference's LoadedModel): uploads them, then build. */
  static async create(engine: EngineDevice, loaded: LoadedModel, onProgress?: ProgressCallback, options: GpuModelOptions = {}): Promise<GpuModel> {
    checkPrefillChunk(options);
    const weights = GpuWeights.upload(engine.device, loaded, onProgress, parseQuantization(options.quantization, defaultWeightFormat(engine.adapterInfo)), quantizeOnFor(engine.adapterInfo));
    await weights.accepted; // a refused tensor: typed, and nothing of it stays
    return GpuModel.build(engine, loaded.config, weights, onProgress, options);
  }

  /**
   * The model over weights already on the GPU (a streaming load's GpuWeightWriter); owns them from here on, and
   * frees them with everything else if building fails.
   */
  static async build(engine: EngineDevice, config: ModelConfig, weights: GpuWeights, onProgress?: ProgressCallback, options: GpuModelOptions = {}): Promise<GpuModel> {
    const { device } = engine;
    const c = config;
    const chunk = options.prefillChunk ?? DEFAULT_PREFILL_CHUNK;
    const owned: GPUBuffer[] = [];
    // Everything made below, freed if a later step fails (a failed load leaves nothing on the device).
    const parts: { destroy(): void }[] = [];
    try {
      checkPrefillChunk(options);
      // A streamed load's last word on its weights: the quantize dispatches' answers and the NaN refusal (one readback).
      await weights.accepted;
      if (options.signal?.aborted) throw new AbortedError('The model load was aborted.');
      // The pool holds the trained context, or what kvMemory holds of it: the dense context is what fits.
      const kvMemory = options.kvMemory ?? defaultKvMemory(device, c.numLayers);
      const kvDtype = options.kvDtype ?? defaultKvDtype(engine.adapterInfo);
      const capacity = kvCapacity(c, c.maxPositionEmbeddings, kvMemory, kvDtype);
      if (capacity.tokens < KV_PAGE_SIZE) {
        throw new InvalidArgumentError('kvMemory', `${kvMemory} bytes hold ${capacity.tokens} tokens of this model (${capacity.bytesPerToken} bytes per token); give at least ${capacity.bytesPerToken * KV_PAGE_SIZE}`);
      }
      const cache = await PagedKVCache.create(device, {
        numLayers: c.numLayers,
        numKvHeads: c.numKvHeads,
        headDim: c.headDim,
        maxTokensPerSequence: capacity.tokens,
        memoryBudgetBytes: capacity.poolBytes,
        growthBytes: options.kvGrowthBytes ?? KV_BUFFER_BYTES,
        dtype: kvDtype,
      });
      parts.push(cache);
      const attention = new PagedAttention(device, cache, {
        numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, ropeLayout: c.ropeLayout, maxPrefillTokens: chunk,
        prefillSplitRule: options.prefillSplitRule, prefillTile: options.prefillTile,
      });
      parts.push(attention);
      const variant = decodeVariantFor(engine.adapterInfo);
      const decoder = new WgslDecoder(device, config, weights, attention, variant);
      parts.push(decoder);
      const wgslPrefill = new WgslPrefill(device, config, weights, attention, chunk, options.gemmTile ? { ...variant, gemmTile: options.gemmTile } : variant);
      parts.push(wgslPrefill);
      const decodeStaging = device.createBuffer({ label: 'decode logits staging', size: c.vocabSize * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      owned.push(decodeStaging);
      const choiceRing = Array.from({ length: DECODE_ENCODE_AHEAD + 1 }, (_, i) => {
        const b = device.createBuffer({ label: `decode choice readback ${i}`, size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
        owned.push(b);
        return b;
      });
      const model = new GpuModel(engine, config, weights, wgslPrefill, decoder, decodeStaging, choiceRing, cache, attention, ropeInverseFrequencies(config), owned);
      model.prefillTimer = options.prefillTimer;
      return model;
    } catch (e) {
      for (const part of parts) part.destroy();
      weights.destroy();
      for (const b of owned) b.destroy();
      throw e;
    }
  }

  get weightBytes(): number {
    return this.weights.bytes;
  }

  /** Tensors per storage format ('f32', 'f16', 'int4/32+min', 'int8/16', ...): a GGUF's tensors keep their own. */
  get weightFormats(): Record<string, number> {
    return this.weights.formats();
  }

  /**
   * The format the load asked for (or the adapter's default): f32, f16 and bf16 matrices take it; norms and biases
   * stay f32, and a GGUF's block tensors keep theirs (weightFormats tells).
   */
  get quantization(): QuantizationMode {
    return this.weights.format;
  }

  setPolicy(policy: AttentionPolicy): void {
    // Before any step: a policy whose parameters do not fit this model fails here, not halfway through a step.
    policy.checkModel?.(this.config);
    if (policy === this.policy) return;
    // An evicting policy's scores describe the sequence it built, and a policy's per-page metadata (Quest's key
    // bounds, Double Sparsity's and FASA's label caches) is written as tokens are appended: a new policy of either
    // kind has nothing for the cached tokens, so it starts from an empty cache rather than select with zeros.
    if (this.policy?.needs.evicts || policy.needs.evicts || policy.needs.metadata.length > 0) this.mustReset = true;
    this.policy?.destroy?.();
    this.policy = policy;
  }

  /** Decode timings accumulated since the last call; resets them. */
  takeProfile(): DecodeProfile {
    const p = this.profileData;
    this.profileData = this.newProfile();
    return p;
  }

  async prefill(ids: number[], rows: 'all' | 'last', options: PrefillOptions = {}): Promise<Float32Array> {
    const vocab = this.config.vocabSize;
    this.checkTokens(ids);
    const out = rows === 'all' ? new Float32Array(ids.length * vocab) : null;
    let last: Float32Array | null = null;
    const size = this.attention.maxPrefillTokens;
    const total = ids.length;
    // Progress as the device finishes each chunk (onSubmittedWorkDone: no wait on the host, so chunks stay queued back
    // to back); a late report never goes backwards past the final one.
    let reported = 0;
    const report = (done: number) => {
      if (done <= reported) return;
      reported = done;
      options.onProgress?.({ done, total });
    };
    const startPosition = this.position;
    // The pool grows for the whole prompt before any chunk runs: a refused growth fails with nothing changed.
    await this.cache.ensure(this.seq, ids.length);
    for (let start = 0; start < ids.length; start += size) {
      if (options.signal?.aborted) await this.abortPrefill(startPosition, start);
      const chunk = ids.slice(start, start + size);
      const isLastChunk = start + chunk.length === ids.length;
      const logits = await this.prefillChunk(chunk, rows === 'all' ? 'all' : isLastChunk ? 'last' : 'none');
      if (out && logits) out.set(logits, start * vocab);
      if (isLastChunk) last = logits;
      else if (options.onProgress) void this.engine.device.queue.onSubmittedWorkDone().then(() => report(start + chunk.length), () => undefined);
    }
    report(total);
    return out ?? (last as Float32Array);
  }

  /**
   * An abort between chunks: the sequence goes back to where this prefill began (the chunks done are dropped), so the
   * cache is as if the request had not run. An evicting policy's scores and kept set cannot be rolled back: its
   * sequence starts again on the next request (which then prefills the whole conversation).
   */
  private async abortPrefill(startPosition: number, prefilled: number): Promise<never> {
    await checkGpuErrors(this.engine.device); // a chunk done whose policy state the device refused: that, not the abort
    if (prefilled > 0) {
      if (this.policy?.needs.evicts || startPosition === 0) await this.reset();
      else await this.truncate(startPosition);
    }
    throw new AbortedError('The request was aborted during prefill.', { prefilledTokens: prefilled });
  }

  async decode(id: number): Promise<Float32Array> {
    this.checkTokens([id]);
    // The first token of a sequence has nothing cached: the prefill kernels handle it.
    if (this.position === 0) return (await this.prefillChunk([id], 'last')) as Float32Array;
    return this.decodeStep(id);
  }

  async reset(): Promise<void> {
    this.mustReset = false;
    this.cache.release(this.seq);
    this.seq = this.cache.createSequence();
    this.position = 0;
    this.heldIds = [];
  }

  /** How many leading ids of `ids` the sequence already holds (a conversation's earlier turns). */
  cachedPrefixLength(ids: readonly number[]): number {
    if (this.mustReset) return 0;
    let n = 0;
    while (n < ids.length && n < this.heldIds.length && ids[n] === this.heldIds[n]) n++;
    // Evicted tokens are gone, so an evicting policy's sequence cannot be cut back: it goes on from its end (the next
    // turn of a chat, whose prompt starts with every id fed so far) or starts again. Going on is what keeps a long
    // chat's turns from re-reading the whole conversation: each prefills only its new ids into the bounded cache.
    if (this.policy?.needs.evicts && (n < this.heldIds.length || n === ids.length)) return 0;
    return n;
  }

  /** Keeps positions [0, n): the next prefill continues at n, reusing the kept pages (dense attention). */
  async truncate(n: number): Promise<void> {
    if (!Number.isInteger(n) || n < 0 || n > this.position) throw new InvalidArgumentError('truncate', `must be in [0, ${this.position}], got ${n}`);
    if (n === 0) return this.reset();
    if (n === this.position) return; // keeps everything (the only cut an evicted sequence allows)
    if (this.policy?.needs.evicts) throw new InvalidArgumentError('truncate', `an evicting policy's sequence goes on from its end (${this.position}) or restarts (0), got ${n}`);
    this.cache.truncate(this.seq, n);
    this.position = n;
    this.heldIds.length = n;
  }

  /**
   * What a sequence can hold: under dense attention the trained context or, when the KV pool holds fewer, what it
   * holds; unbounded under an evicting policy (the cache stays bounded).
   */
  contextLength(): number {
    return this.policy?.needs.evicts ? Infinity : this.denseContextLength();
  }

  /** Positions a sequence can hold under dense attention: min(trained context, what the KV pool holds). */
  denseContextLength(): number {
    return this.cache.capacityTokens;
  }

  /** Why the context is what it is when the KV pool, not the training, bounds it (for CONTEXT_FULL); else undefined. */
  contextBound(): string | undefined {
    const c = this.config;
    if (this.contextLength() >= c.maxPositionEmbeddings) return undefined;
    const perToken = this.memoryStats().kvBytesPerToken;
    const f16 = this.cache.dtype === 'f32' ? ' (or kvDtype f16: about twice the tokens)' : '';
    return `what ${this.cache.maxPoolBytes} bytes of KV memory hold at ${perToken} bytes per token; the model was trained for ${c.maxPositionEmbeddings}: load with a larger kvMemory for more${f16}`;
  }

  cacheUsage(): CacheUsage {
    return { kvBytes: this.cache.bytesHeld(this.seq), tokensInCache: this.cache.tokensHeld(this.seq) };
  }

  /** Frees every GPU buffer of the model, the policy's state included. */
  async destroy(): Promise<void> {
    this.decoder.destroy();
    this.wgslPrefill.destroy();
    for (const b of this.ownedBuffers) b.destroy();
    this.prefillStaging?.destroy();
    this.prefillStaging = null;
    this.policy?.destroy?.();
    this.policy = null;
    this.attention.destroy();
    this.cache.destroy();
    this.weights.destroy();
  }

  /**
   * GPU memory of the model now: weights, the KV pool as allocated, what it may grow to (kvMemory's pages), the bytes
   * of it in use, their peak, and the prefill chunk's activations.
   */
  memoryStats(): { weightBytes: number; kvDtype: KvDtype; kvPoolBytes: number; kvPoolLimitBytes: number; kvInUseBytes: number; kvPeakBytes: number; kvBytesPerToken: number; prefillActivationBytes: number } {
    const cache = this.cache;
    return {
      weightBytes: this.weights.bytes,
      kvDtype: cache.dtype,
      // The WGSL path's chunk buffers (ORT's own activations are ORT's, counted only in the device's live bytes).
      prefillActivationBytes: this.wgslPrefill?.activationBytes ?? 0,
      kvPoolBytes: cache.poolBytes,
      kvPoolLimitBytes: cache.maxPoolBytes,
      kvInUseBytes: cache.bytesInUse,
      kvPeakBytes: cache.peakBytesInUse,
      kvBytesPerToken: cache.numLayers * cache.numKvHeads * cache.bytesPerPage / cache.pageSize,
    };
  }

  private checkTokens(ids: number[]): void {
    const c = this.config;
    if (this.engine.lost) throw this.engine.lost;
    // With an evicting policy positions keep counting past the trained context (RoPE is defined for any position;
    // quality beyond it is the model's extrapolation: docs/attention/streaming.md); the cache stays bounded.
    if (this.position + ids.length > this.contextLength()) throw new ContextFullError(this.position + ids.length, this.contextLength(), this.contextBound());
    for (const id of ids) if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new InvalidArgumentError('ids', `token id ${id} is not an integer in [0, ${c.vocabSize})`);
  }

  /** One decode step on our WGSL: every layer in one command encoder; the only wait is the logits readback. */
  private async decodeStep(id: number): Promise<Float32Array> {
    const decoder = this.decoder;
    const { device } = this.engine;
    const p = this.profileData;
    const t0 = now();
    await this.cache.ensure(this.seq, 1);
    const { cos, sin } = ropeTable(this.inverseFrequencies, this.position, 1);
    // beginStep throws (context full, out of pages) before any GPU work is queued.
    this.attention.beginStep(this.seq, { startPosition: this.position, numTokens: 1, cos, sin });
    decoder.writeToken(id);
    const counts: DispatchCounts = { dispatches: 0, passes: 0 };
    const encoder = countingEncoder(device.createCommandEncoder({ label: 'decode step' }), counts);
    decoder.encodeStep(encoder, { policy: this.policy ?? undefined });
    const evicted = this.attention.endStep(encoder);
    encoder.copyBufferToBuffer(decoder.logits, 0, this.decodeStaging, 0, this.config.vocabSize * 4);
    device.queue.submit([encoder.finish()]);
    this.afterEviction(evicted);
    const t1 = now();
    const logits = await this.readDecodeLogits();
    await checkGpuErrors(device); // what a policy made lazily in this step, refused: typed, the logits unused
    this.position += 1;
    this.heldIds.push(id);
    p.steps += 1;
    this.recordStepCounts(counts);
    p.encodeMs += t1 - t0;
    p.readbackMs += now() - t1;
    p.totalMs += now() - t0;
    return logits;
  }

  /**
   * Decoding with every id chosen on the GPU: feeds `firstId`, then yields each next id as it arrives, up to `maxSteps`:
   * the argmax, or with `sampling` the sampler kernel's id (the CPU TokenSampler's rule, seed and history). The host
   * encodes up to DECODE_ENCODE_AHEAD steps ahead (each step's embedding reads the id the one before chose), so the
   * GPU never waits for a readback, and reads back 16 bytes per step instead of the logits. The consumer stops by
   * leaving the loop (return()); the steps encoded past the last id it took are then undone, so the cache holds
   * exactly what a step-by-step run would: the prompt and the ids fed. Undoing is rewinding the step counters and the
   * policy (AttentionPolicy.rewind: an evicting policy puts its victims and scores back from its undo log), then
   * truncating the cache; a policy whose steps cannot be undone (encodesAhead false: Recycled Attention) waits for
   * each id (still chosen on the GPU).
   */
  async *decodeStream(firstId: number, maxSteps: number, sampling?: DeviceSampling): AsyncGenerator<number, void, undefined> {
    this.checkTokens([firstId]);
    if (!Number.isInteger(maxSteps) || maxSteps < 0) throw new InvalidArgumentError('maxSteps', `must be a non-negative integer, got ${maxSteps}`);
    if (maxSteps === 0) return;
    if (this.position === 0) throw new InvalidArgumentError('decodeStream', 'needs a prefilled sequence (the first token has nothing cached)');
    const { device } = this.engine;
    const decoder = this.decoder;
    const p = this.profileData;
    const policy = this.policy;
    const ahead = policy?.encodesAhead === false ? 0 : Math.min(this.encodeAhead, policy?.maxRewind ?? Infinity);
    const stepOptions = { policy: policy ?? undefined, greedy: !sampling, sample: !!sampling };
    if (sampling) decoder.sampler.begin(sampling);
    const start = this.position;
    const fedIds = [firstId];
    /** Slots the cache held before each encoded step (an evicting policy holds fewer than the positions). */
    const heldBefore: number[] = [];
    const pending: Promise<{ id: number; nonFinite: boolean }>[] = [];
    let encoded = 0;
    let taken = 0;
    const t0 = now();
    const encodeNext = () => {
      const t = now();
      const position = start + encoded;
      if (position + 1 > this.contextLength()) throw new ContextFullError(position + 1, this.contextLength(), this.contextBound());
      const { cos, sin } = ropeTable(this.inverseFrequencies, position, 1);
      heldBefore.push(this.cache.tokensHeld(this.seq));
      this.attention.beginStep(this.seq, { startPosition: position, numTokens: 1, cos, sin });
      if (encoded === 0) decoder.writeToken(firstId);
      const counts: DispatchCounts = { dispatches: 0, passes: 0 };
      const encoder = countingEncoder(device.createCommandEncoder({ label: 'decode step, id chosen on the GPU' }), counts);
      decoder.encodeStep(encoder, stepOptions);
      const evicted = this.attention.endStep(encoder);
      const slot = this.choiceRing[encoded % this.choiceRing.length];
      encoder.copyBufferToBuffer(decoder.choice, 0, slot, 0, 16);
      device.queue.submit([encoder.finish()]);
      this.afterEviction(evicted);
      encoded += 1;
      this.position = start + encoded;
      this.recordStepCounts(counts);
      p.encodeMs += now() - t;
      pending.push(slot.mapAsync(GPUMapMode.READ).then(() => {
        const v = new Uint32Array(slot.getMappedRange(0, 8).slice(0));
        slot.unmap();
        return { id: v[0], nonFinite: v[1] !== 0 };
      }));
    };
    try {
      while (taken < maxSteps) {
        while (encoded < maxSteps && encoded - taken <= ahead) {
          // Growth replaces arena buffers; steps already submitted read the old ones (the copy is queued after them).
          await this.cache.ensure(this.seq, 1);
          encodeNext();
        }
        const t = now();
        const choice = await (pending.shift() as Promise<{ id: number; nonFinite: boolean }>);
        p.readbackMs += now() - t;
        await checkGpuErrors(device);
        if (choice.nonFinite) throw new NonFiniteLogitsError(start + taken);
        taken += 1;
        fedIds.push(choice.id);
        yield choice.id;
      }
    } finally {
      // Steps in flight finish before anything else touches their buffers; their ids are dropped.
      await Promise.allSettled(pending);
      pending.length = 0;
      // The steps that count fed fedIds[0 .. taken): the last id taken is the consumer's, not fed.
      const kept = start + taken;
      if (encoded > taken) {
        const firstStep = this.attention.rewindSteps(this.seq, encoded - taken);
        const dropped = heldBefore.slice(taken);
        policy?.rewind?.(encoded - taken, { device, cache: this.cache, seq: this.seq, firstStep, heldBefore: dropped });
        this.cache.truncate(this.seq, dropped[0]);
      }
      this.position = kept;
      this.heldIds.push(...fedIds.slice(0, taken));
      p.steps += taken;
      p.totalMs += now() - t0;
    }
  }

  /** The profile's per-step counts: the last step's (attention's splits grow with the context). */
  private recordStepCounts(counts: DispatchCounts): void {
    const p = this.profileData;
    p.dispatchesPerStep = counts.dispatches;
    p.passesPerStep = counts.passes;
    p.policyDispatchesPerStep = this.attention.stepPolicyDispatches;
  }

  private async readDecodeLogits(): Promise<Float32Array> {
    await this.decodeStaging.mapAsync(GPUMapMode.READ);
    const logits = new Float32Array(this.decodeStaging.getMappedRange().slice(0));
    this.decodeStaging.unmap();
    return logits;
  }

  /**
   * One prefill chunk through every layer, in one command encoder and one submit; the only wait is the logits
   * readback. Logits rows: all, the last only, or none (a middle chunk).
   */
  private async prefillChunk(ids: number[], rows: 'all' | 'last' | 'none'): Promise<Float32Array | null> {
    const { device } = this.engine;
    const prefill = this.wgslPrefill;
    const n = ids.length;
    const { cos, sin } = ropeTable(this.inverseFrequencies, this.position, n);
    this.attention.beginStep(this.seq, { startPosition: this.position, numTokens: n, cos, sin });
    const encoder = device.createCommandEncoder({ label: 'prefill chunk' });
    const logits = prefill.encodeChunk(encoder, { ids, rows, policy: this.policy ?? undefined, timer: this.prefillTimer });
    const evicted = this.attention.endStep(encoder);
    const bytes = (rows === 'all' ? n : 1) * this.config.vocabSize * 4;
    const staging = logits ? this.prefillStagingFor(bytes) : null;
    if (logits && staging) encoder.copyBufferToBuffer(logits, 0, staging, 0, bytes);
    device.queue.submit([encoder.finish()]);
    this.afterEviction(evicted);
    this.position += n;
    this.heldIds.push(...ids);
    if (!staging) return null;
    await staging.mapAsync(GPUMapMode.READ, 0, bytes);
    const out = new Float32Array(staging.getMappedRange(0, bytes).slice(0));
    staging.unmap();
    await checkGpuErrors(device);
    return out;
  }

  /** After an evicting step was submitted: the GPU compacted every head to `tokensHeld`; free the tail pages. */
  private afterEviction(evicted: EvictionResult | null): void {
    if (!evicted) return;
    this.cache.truncate(this.seq, evicted.tokensHeld);
  }

  /** The prefill logits readback, grown to `bytes` when smaller. */
  private prefillStagingFor(bytes: number): GPUBuffer {
    if (!this.prefillStaging || this.prefillStaging.size < bytes) {
      this.prefillStaging?.destroy();
      this.prefillStaging = this.engine.device.createBuffer({ label: 'prefill logits staging', size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    }
    return this.prefillStaging;
  }

}

function checkKvMemory(options: GpuModelOptions): void {
  for (const [name, m] of [['kvMemory', options.kvMemory], ['kvGrowthBytes', options.kvGrowthBytes]] as const) {
    if (m !== undefined && (!Number.isSafeInteger(m) || m <= 0)) throw new InvalidArgumentError(name, `must be a positive integer of bytes, got ${m}`);
  }
  if (options.kvDtype !== undefined && !KV_DTYPES.includes(options.kvDtype)) {
    throw new InvalidArgumentError('kvDtype', `must be one of ${KV_DTYPES.join(', ')}, got ${JSON.stringify(options.kvDtype)}`);
  }
}

/**
 * The KV dtype a load gets unless it says otherwise: f16 on a real GPU, where attention at long context is bound by
 * reading K and V (half the bytes) and the pool holds twice the tokens; f32 on a CPU adapter (SwiftShader, llvmpipe:
 * decodeVariantFor's test), where unpacking costs CPU time and nothing is bound by memory bandwidth, and where CI runs
 * the golden tests, so those keep comparing f32 attention with transformers while the f16 cache is tested explicitly.
 */
export function defaultKvDtype(adapter: { vendor?: string; architecture?: string; description?: string }): KvDtype {
  return decodeVariantFor(adapter).name === 'cpu-adapter' ? 'f32' : 'f16';
}

/**
 * kvMemory unless the load says otherwise: DEFAULT_KV_MEMORY_BYTES, or what the adapter's buffer limits let the pool
 * hold when that is less (each layer's pages in one binding at most: numLayers buffers of the binding limit).
 */
export function defaultKvMemory(device: GPUDevice, numLayers: number): number {
  const binding = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  return Math.min(DEFAULT_KV_MEMORY_BYTES, numLayers * binding);
}

/** The load options' checks, made before any download (the engine) and again before building. */
export function checkGpuModelOptions(options: GpuModelOptions): void {
  checkPrefillChunk(options);
}

function checkPrefillChunk(options: GpuModelOptions): void {
  checkKvMemory(options);
  const chunk = options.prefillChunk ?? DEFAULT_PREFILL_CHUNK;
  if (!Number.isInteger(chunk) || chunk < 1 || chunk > MAX_PREFILL_CHUNK) {
    throw new InvalidArgumentError('prefillChunk', `must be an integer in [1, ${MAX_PREFILL_CHUNK}] tokens, got ${chunk}`);
  }
}
