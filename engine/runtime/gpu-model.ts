// The GPU forward of one model: ORT segment sessions for the dense parts, our paged attention kernels between
// them, on the engine's one device. Implements the generation backend (prefill / decode / reset).
//
// Prefill runs on ORT: one dynamic-length session per segment kind serves every layer, weights bound as graph
// inputs (uploaded once). Decode runs, by default, on our own WGSL (engine/decode): the whole token in ONE
// command encoder. Why: one ORT run() costs ~0.5 ms of host time on a real GPU whatever the graph, so L+1 runs
// per token cap a 30-layer model near 60 tokens/s, and ORT 1.30's graph capture fails on our sessions (see
// graphCapture below). The ORT decode path (static n=1 sessions with fixed buffers) stays as `decoder: 'ort'`,
// so bench/decode measures both in the same run.
import { DEFAULT_PREFILL_CHUNK, PagedAttention, type AttentionPolicy, type EvictionResult } from '../attention/index.ts';
import { buildSegment, segmentWeightFeeds, SEGMENT_TENSORS, type SegmentGraph, type SegmentKind, type SegmentShape } from '../compiler/index.ts';
import { ContextFullError, InvalidArgumentError } from '../errors/index.ts';
import type { CacheUsage, ForwardBackend, PrefillOptions } from '../generation/index.ts';
import type { EngineDevice } from '../gpu/index.ts';
import { PagedKVCache, type SequenceHandle } from '../kv/index.ts';
import { ropeInverseFrequencies, ropeTable, type LoadedModel, type ModelConfig, type ProgressCallback } from '../model/index.ts';
import { createGpuSession, gpuTensor, ort } from './ort.ts';
import { GpuWeights } from './weights.ts';
import { DecodeKernels, encodeDispatch, WgslDecoder, type Dispatch } from '../decode/index.ts';
import { parseQuantization, quantizationSpec, type QuantizationMode } from '../quant/index.ts';

/** Largest `prefillChunk` a load may ask for: the chunk's activations (ids, q/k/v, attention output) scale with it. */
export const MAX_PREFILL_CHUNK = 4096;
/** KV pool budget: enough for the whole context, capped so a big model's pool stays within a tab's memory. */
export const MAX_KV_POOL_BYTES = 512 * 1024 * 1024;

const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

export interface GpuModelOptions {
  /**
   * Who runs the dense parts of a decode step: our WGSL kernels or ORT's static sessions. Default: ours on a real
   * GPU (6.4x faster than ORT on an H200, bench/results/node-decode-h200.json), ORT's on a software adapter, where
   * SwiftShader runs ORT's kernels 3x faster than ours (0.26 vs 0.8 s/token, bench/results/decode.json).
   */
  decoder?: 'wgsl' | 'ort';
  /**
   * Replay decode sessions from ORT graph capture. Off by default: with onnxruntime-web 1.30 in Chromium, a
   * captured session given our pre-allocated GPU-buffer fetches fails on its run with "Cannot set properties
   * of undefined (setting 'Symbol(gpuBufferMetadata)')" (measured 2026-11-28, SwiftShader adapter). The static
   * sessions with fixed buffers below are what a capture would replay, so turning it on needs no other change.
   */
  graphCapture?: boolean;
  /**
   * Weights quantized at load (engine/quant): 'int4' or 'int8' blocks of 32 in MatMulNBits' layout, run by ORT's
   * MatMulNBits in prefill and by our quantized matvec kernels in decode; default 'f32'. docs/quantization.md has
   * the measured logit error against f32 and the memory of each.
   */
  quantization?: QuantizationMode;
  /**
   * Prompt tokens per prefill chunk (default DEFAULT_PREFILL_CHUNK): a longer prompt runs in chunks of this many, each
   * through every layer; an evicting policy evicts after each chunk, a selecting policy's metadata grows with each.
   * Smaller chunks bound activation memory and let an abort land sooner; larger ones amortize per-chunk host work.
   */
  prefillChunk?: number;
}

/** Host-side time spent per phase since the last reset of the profile (ms), for bench/decode. */
export interface DecodeProfile {
  decoder: 'wgsl' | 'ort';
  steps: number;
  /** ORT decoder: awaited run() calls. */
  segmentMs: number;
  /** ORT decoder: encoding and submitting our attention kernels between runs. */
  attentionMs: number;
  /** WGSL decoder: encoding and submitting the whole step. */
  encodeMs: number;
  /** Waiting for the logits (absorbs GPU time still in flight). */
  readbackMs: number;
  totalMs: number;
  graphCapture: boolean;
}

interface Segment {
  graph: SegmentGraph;
  session: ort.InferenceSession;
  /** Weight feeds per layer index, built once (ORT tensors over our weight buffers). */
  weightFeeds: Map<number, Record<string, ort.Tensor>>;
}

/** The decode path's fixed buffers and one session per layer junction. */
interface DecodePath {
  embed: ort.InferenceSession;
  layers: ort.InferenceSession[];
  head: ort.InferenceSession;
  feeds: Record<string, ort.Tensor>[]; // per session index: 0 embed, 1..L-1 layers, L head
  fetches: Record<string, ort.Tensor>[];
  buffers: GPUBuffer[];
  /** int32 [1]: the step's token id. */
  ids: GPUBuffer;
  q: GPUBuffer;
  k: GPUBuffer;
  v: GPUBuffer;
  attn: GPUBuffer;
  logits: GPUBuffer;
  graphCapture: boolean;
  /** Quantized table: our gather into the embed session's hidden_in, run before it each step. */
  embedGather: Dispatch | null;
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

  private constructor(
    private readonly engine: EngineDevice,
    readonly config: ModelConfig,
    private readonly weights: GpuWeights,
    private readonly prefillSegments: Record<'embed' | 'layer' | 'head' | 'headLast', Segment>,
    /** The ORT decode path (decoder: 'ort'), or null. */
    private readonly decodePath: DecodePath | null,
    /** The WGSL decode path (decoder: 'wgsl'), or null. */
    private readonly decoder: WgslDecoder | null,
    /** Decode logits readback, allocated once. */
    private readonly decodeStaging: GPUBuffer,
    private readonly cache: PagedKVCache,
    private readonly attention: PagedAttention,
    private readonly inverseFrequencies: Float64Array,
    /** int32 ids of the current prefill chunk. */
    private readonly idsBuffer: GPUBuffer,
    /** f32 [chunk, H*d] attention output of a prefill chunk, read by the next segment. */
    private readonly attnBuffer: GPUBuffer,
    /** Buffers this model allocated (destroyed with it). */
    private readonly ownedBuffers: GPUBuffer[],
    /** Quantized embedding table: our gather kernels and the prefill chunk's gathered rows; null with f32 weights. */
    private readonly quantizedEmbed: { kernels: DecodeKernels; hidden: GPUBuffer } | null,
    /** Prefill logits readback (grows on demand: prefill may allocate, decode never does). */
    private prefillStaging: GPUBuffer | null = null,
  ) {
    this.seq = cache.createSequence();
    this.profileData = this.newProfile();
  }

  private newProfile(): DecodeProfile {
    return emptyProfile(this.decodePath?.graphCapture ?? false, this.decoder ? 'wgsl' : 'ort');
  }

  static async create(engine: EngineDevice, loaded: LoadedModel, onProgress?: ProgressCallback, options: GpuModelOptions = {}): Promise<GpuModel> {
    const { device } = engine;
    const config = loaded.config;
    const c = config;
    const quantization = quantizationSpec(parseQuantization(options.quantization));
    const chunk = options.prefillChunk ?? DEFAULT_PREFILL_CHUNK;
    if (!Number.isInteger(chunk) || chunk < 1 || chunk > MAX_PREFILL_CHUNK) {
      throw new InvalidArgumentError('prefillChunk', `must be an integer in [1, ${MAX_PREFILL_CHUNK}] tokens, got ${chunk}`);
    }
    const weights = GpuWeights.upload(device, loaded, onProgress, quantization);
    const owned: GPUBuffer[] = [];
    // Everything made below, freed if a later step fails (a failed load leaves nothing on the device).
    const sessions: ort.InferenceSession[] = [];
    const parts: { destroy(): void }[] = [];
    const alloc = (label: string, bytes: number) => {
      const b = device.createBuffer({ label, size: Math.max(16, Math.ceil(bytes / 16) * 16), usage: STORAGE });
      owned.push(b);
      return b;
    };
    try {
      const has = (name: string) => loaded.weights.has(name);
      const feedsFor = (graph: SegmentGraph, layer: number) => {
        const feeds: Record<string, ort.Tensor> = {};
        for (const { input, weight, part } of segmentWeightFeeds(graph, layer)) {
          const w = weights.get(weight);
          const info = graph.tensors[input];
          const buffer = part === 'data' ? w.buffer : part === 'scales' ? w.quantized?.scales : w.quantized?.zeroPoints;
          if (!buffer) throw new Error(`internal: ${weight} has no ${part} for input ${input}`);
          feeds[input] = gpuTensor(buffer, info.dims as number[], info.dataType);
        }
        return feeds;
      };
      const compile = async (kind: SegmentKind, shape: SegmentShape, graphCapture = false) => {
        const graph = buildSegment(config, kind, shape, has, { quantization });
        onProgress?.({ phase: 'compile', loadedBytes: 0, totalBytes: 0, file: `${kind} (${shape.tokens} tokens)` });
        const session = await createGpuSession(graph.bytes, device, { graphCapture });
        sessions.push(session);
        return { graph, session };
      };
      const prefillSegment = async (kind: SegmentKind, lastOnly = false): Promise<Segment> => {
        const { graph, session } = await compile(kind, { tokens: 'dynamic', lastOnly });
        const layers = kind === 'embed' ? [0] : kind === 'head' ? [c.numLayers - 1] : range(c.numLayers - 1);
        return { graph, session, weightFeeds: new Map(layers.map((l) => [l, feedsFor(graph, l)])) };
      };
      const prefillSegments = {
        embed: await prefillSegment('embed'),
        layer: await prefillSegment('layer'),
        head: await prefillSegment('head'),
        headLast: await prefillSegment('head', true),
      };

      // Decode path: fixed buffers. hidden ping-pongs between two buffers; q/k/v/attn are shared by all layers
      // (layer i's attention consumes them before layer i+1's segment overwrites them: queue order).
      const D = c.hiddenSize;
      const hidden = [alloc('decode hidden 0', D * 4), alloc('decode hidden 1', D * 4)];
      const q = alloc('decode q', c.numHeads * c.headDim * 4);
      const k = alloc('decode k', c.numKvHeads * c.headDim * 4);
      const v = alloc('decode v', c.numKvHeads * c.headDim * 4);
      const attn = alloc('decode attn', c.numHeads * c.headDim * 4);
      const logits = alloc('decode logits', c.vocabSize * 4);
      const ids = alloc('decode id', 4);
      // A quantized table is gathered by our kernel (the compiler's header says why), in prefill and ORT decode.
      const embedTable = weights.get('model.embed_tokens.weight');
      const quantizedEmbed = embedTable.quantized
        ? { kernels: new DecodeKernels(device, c.rmsNormEps), hidden: alloc('prefill embeddings', chunk * D * 4) }
        : null;
      if (quantizedEmbed) parts.push(quantizedEmbed.kernels);
      const decodeEmbedded = quantizedEmbed ? alloc('decode embedding', D * 4) : null;
      const t = (b: GPUBuffer, dims: number[], type: 'float32' | 'int32' = 'float32') => gpuTensor(b, dims, type);
      const qkvFetches = { [SEGMENT_TENSORS.q]: t(q, [1, c.numHeads * c.headDim]), [SEGMENT_TENSORS.k]: t(k, [1, c.numKvHeads * c.headDim]), [SEGMENT_TENSORS.v]: t(v, [1, c.numKvHeads * c.headDim]) };
      const hiddenT = (i: number) => t(hidden[i % 2], [1, D]);

      const build = async (graphCapture: boolean): Promise<DecodePath> => {
        const sessions: ort.InferenceSession[] = [];
        const feeds: Record<string, ort.Tensor>[] = [];
        const fetches: Record<string, ort.Tensor>[] = [];
        const embed = await compile('embed', { tokens: 1 }, graphCapture);
        sessions.push(embed.session);
        const embedInput: Record<string, ort.Tensor> = decodeEmbedded ? { [SEGMENT_TENSORS.hiddenIn]: t(decodeEmbedded, [1, D]) } : { [SEGMENT_TENSORS.ids]: t(ids, [1], 'int32') };
        feeds.push({ ...embedInput, ...feedsFor(embed.graph, 0) });
        fetches.push({ [SEGMENT_TENSORS.hiddenOut]: hiddenT(0), ...qkvFetches });
        // Session i (layer junction i-1 -> i) reads hidden[(i-1)%2] and writes hidden[i%2].
        for (let layer = 0; layer < c.numLayers - 1; layer++) {
          const s = await compile('layer', { tokens: 1 }, graphCapture);
          sessions.push(s.session);
          feeds.push({ [SEGMENT_TENSORS.hiddenIn]: hiddenT(layer), [SEGMENT_TENSORS.attn]: t(attn, [1, c.numHeads * c.headDim]), ...feedsFor(s.graph, layer) });
          fetches.push({ [SEGMENT_TENSORS.hiddenOut]: hiddenT(layer + 1), ...qkvFetches });
        }
        const head = await compile('head', { tokens: 1, lastOnly: true }, graphCapture);
        sessions.push(head.session);
        feeds.push({ [SEGMENT_TENSORS.hiddenIn]: hiddenT(c.numLayers - 1), [SEGMENT_TENSORS.attn]: t(attn, [1, c.numHeads * c.headDim]), ...feedsFor(head.graph, c.numLayers - 1) });
        fetches.push({ [SEGMENT_TENSORS.logits]: t(logits, [1, c.vocabSize]) });
        return {
          embed: sessions[0], layers: sessions.slice(1, -1), head: sessions[sessions.length - 1], feeds, fetches,
          buffers: owned, ids, q, k, v, attn, logits, graphCapture,
          embedGather: quantizedEmbed && decodeEmbedded ? quantizedEmbed.kernels.embed(ids, embedTable, decodeEmbedded, 1) : null,
        };
      };
      const useOrtDecoder = (options.decoder ?? defaultDecoder(engine)) === 'ort';
      const decodePath = useOrtDecoder ? await build(options.graphCapture ?? false) : null;

      // K and V in f32 plus the u32 true position of every slot (PagedKVCache.bytesPerPage counts the same).
      const bytesPerToken = c.numLayers * c.numKvHeads * (c.headDim * 2 + 1) * 4;
      const cache = new PagedKVCache(device, {
        numLayers: c.numLayers,
        numKvHeads: c.numKvHeads,
        headDim: c.headDim,
        maxTokensPerSequence: c.maxPositionEmbeddings,
        memoryBudgetBytes: Math.min(MAX_KV_POOL_BYTES, bytesPerToken * (c.maxPositionEmbeddings + 64)),
      });
      parts.push(cache);
      const attention = new PagedAttention(device, cache, {
        numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, ropeLayout: c.ropeLayout, maxPrefillTokens: chunk,
      });
      parts.push(attention);
      const decoder = useOrtDecoder ? null : new WgslDecoder(device, config, weights, attention);
      if (decoder) parts.push(decoder);
      const decodeStaging = device.createBuffer({ label: 'decode logits staging', size: c.vocabSize * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      owned.push(decodeStaging);
      const idsBuffer = alloc('prefill ids', chunk * 4);
      const attnBuffer = alloc('prefill attn', chunk * c.numHeads * c.headDim * 4);
      return new GpuModel(engine, config, weights, prefillSegments, decodePath, decoder, decodeStaging, cache, attention, ropeInverseFrequencies(config), idsBuffer, attnBuffer, owned, quantizedEmbed);
    } catch (e) {
      for (const session of sessions) await session.release().catch(() => undefined);
      for (const part of parts) part.destroy();
      weights.destroy();
      for (const b of owned) b.destroy();
      throw e;
    }
  }

  get weightBytes(): number {
    return this.weights.bytes;
  }

  /** How the weights are stored on the GPU. */
  get quantization(): QuantizationMode {
    const q = this.weights.quantization;
    return q === null ? 'f32' : q.bits === 4 ? 'int4' : 'int8';
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
    for (let start = 0; start < ids.length; start += size) {
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

  async decode(id: number): Promise<Float32Array> {
    this.checkTokens([id]);
    // The first token of a sequence has nothing cached: the prefill kernels handle it.
    if (this.position === 0) return (await this.prefillChunk([id], 'last')) as Float32Array;
    return this.decoder ? this.decodeStepWgsl(this.decoder, id) : this.decodeStepOrt(this.decodePath as DecodePath, id);
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

  /** The trained context under dense attention; unbounded under an evicting policy (the cache stays bounded). */
  contextLength(): number {
    return this.policy?.needs.evicts ? Infinity : this.config.maxPositionEmbeddings;
  }

  /** Positions a sequence can hold under dense attention. */
  denseContextLength(): number {
    return this.config.maxPositionEmbeddings;
  }

  cacheUsage(): CacheUsage {
    return { kvBytes: this.cache.bytesHeld(this.seq), tokensInCache: this.cache.tokensHeld(this.seq) };
  }

  /**
   * Frees every GPU buffer and ORT session of the model, the policy's state included. Awaited: ORT's session release
   * is asynchronous, and the engine builds the next model only once this one is gone.
   */
  async destroy(): Promise<void> {
    const sessions = Object.values(this.prefillSegments).map((s) => s.session);
    const d = this.decodePath;
    if (d) sessions.push(d.embed, ...d.layers, d.head);
    this.decoder?.destroy();
    this.quantizedEmbed?.kernels.destroy();
    for (const b of this.ownedBuffers) b.destroy();
    this.prefillStaging?.destroy();
    this.prefillStaging = null;
    this.policy?.destroy?.();
    this.policy = null;
    this.attention.destroy();
    this.cache.destroy();
    this.weights.destroy();
    for (const s of sessions) await s.release();
  }

  /** GPU memory of the model now: weights, the KV pool as allocated, the bytes of it in use, and their peak. */
  memoryStats(): { weightBytes: number; kvPoolBytes: number; kvInUseBytes: number; kvPeakBytes: number; kvBytesPerToken: number } {
    const cache = this.cache;
    return {
      weightBytes: this.weights.bytes,
      kvPoolBytes: cache.poolBytes,
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
    if (this.position + ids.length > this.contextLength()) throw new ContextFullError(this.position + ids.length, c.maxPositionEmbeddings);
    for (const id of ids) if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new InvalidArgumentError('ids', `token id ${id} is not an integer in [0, ${c.vocabSize})`);
  }

  /** One decode step on our WGSL: every layer in one command encoder; the only wait is the logits readback. */
  private async decodeStepWgsl(decoder: WgslDecoder, id: number): Promise<Float32Array> {
    const { device } = this.engine;
    const p = this.profileData;
    const t0 = now();
    const { cos, sin } = ropeTable(this.inverseFrequencies, this.position, 1);
    // beginStep throws (context full, out of pages) before any GPU work is queued.
    this.attention.beginStep(this.seq, { startPosition: this.position, numTokens: 1, cos, sin });
    decoder.writeToken(id);
    const encoder = device.createCommandEncoder({ label: 'decode step' });
    decoder.encodeStep(encoder, { policy: this.policy ?? undefined });
    const evicted = this.attention.endStep(encoder);
    encoder.copyBufferToBuffer(decoder.logits, 0, this.decodeStaging, 0, this.config.vocabSize * 4);
    device.queue.submit([encoder.finish()]);
    this.afterEviction(evicted);
    const t1 = now();
    const logits = await this.readDecodeLogits();
    this.position += 1;
    this.heldIds.push(id);
    p.steps += 1;
    p.encodeMs += t1 - t0;
    p.readbackMs += now() - t1;
    p.totalMs += now() - t0;
    return logits;
  }

  private async readDecodeLogits(): Promise<Float32Array> {
    await this.decodeStaging.mapAsync(GPUMapMode.READ);
    const logits = new Float32Array(this.decodeStaging.getMappedRange().slice(0));
    this.decodeStaging.unmap();
    return logits;
  }

  /** One decode step on ORT's static sessions and fixed buffers (L+1 runs); kept for comparison in bench/decode. */
  private async decodeStepOrt(d: DecodePath, id: number): Promise<Float32Array> {
    const { device } = this.engine;
    const c = this.config;
    const p = this.profileData;
    const t0 = now();
    let segmentMs = 0;
    let attentionMs = 0;
    device.queue.writeBuffer(d.ids, 0, new Int32Array([id]));
    if (d.embedGather) this.encodeGather(d.embedGather);
    const { cos, sin } = ropeTable(this.inverseFrequencies, this.position, 1);
    this.attention.beginStep(this.seq, { startPosition: this.position, numTokens: 1, cos, sin });
    const sessions = [d.embed, ...d.layers, d.head];
    for (let i = 0; i < sessions.length; i++) {
      let t = now();
      await sessions[i].run(d.feeds[i], d.fetches[i]);
      segmentMs += now() - t;
      if (i === sessions.length - 1) break;
      t = now();
      const encoder = device.createCommandEncoder();
      this.attention.encodeLayer(encoder, { layer: i, q: d.q, k: d.k, v: d.v, out: d.attn, numTokens: 1, policy: this.policy ?? undefined });
      device.queue.submit([encoder.finish()]);
      attentionMs += now() - t;
    }
    const t1 = now();
    const encoder = device.createCommandEncoder();
    const evicted = this.attention.endStep(encoder);
    encoder.copyBufferToBuffer(d.logits, 0, this.decodeStaging, 0, c.vocabSize * 4);
    device.queue.submit([encoder.finish()]);
    this.afterEviction(evicted);
    const logits = await this.readDecodeLogits();
    this.position += 1;
    this.heldIds.push(id);
    p.steps += 1;
    p.segmentMs += segmentMs;
    p.attentionMs += attentionMs;
    p.readbackMs += now() - t1;
    p.totalMs += now() - t0;
    return logits;
  }

  /** One prefill chunk through every layer. Logits rows: all, the last only, or none (a middle chunk). */
  private async prefillChunk(ids: number[], rows: 'all' | 'last' | 'none'): Promise<Float32Array | null> {
    const { device } = this.engine;
    const c = this.config;
    const n = ids.length;
    const seg = this.prefillSegments;
    device.queue.writeBuffer(this.idsBuffer, 0, new Int32Array(ids));
    const { cos, sin } = ropeTable(this.inverseFrequencies, this.position, n);
    this.attention.beginStep(this.seq, { startPosition: this.position, numTokens: n, cos, sin });
    const attnTensor = gpuTensor(this.attnBuffer, [n, c.numHeads * c.headDim]);

    let embedInput: Record<string, ort.Tensor>;
    if (this.quantizedEmbed) {
      const { kernels, hidden } = this.quantizedEmbed;
      this.encodeGather(kernels.embed(this.idsBuffer, this.weights.get('model.embed_tokens.weight'), hidden, n));
      embedInput = { [SEGMENT_TENSORS.hiddenIn]: gpuTensor(hidden, [n, c.hiddenSize]) };
    } else {
      embedInput = { [SEGMENT_TENSORS.ids]: gpuTensor(this.idsBuffer, [n], 'int32') };
    }
    let outs = await seg.embed.session.run({ ...embedInput, ...seg.embed.weightFeeds.get(0) });
    let logits: Float32Array | null = null;
    for (let layer = 0; layer < c.numLayers; layer++) {
      const encoder = device.createCommandEncoder({ label: `prefill attention ${layer}` });
      this.attention.encodeLayer(encoder, {
        layer, policy: this.policy ?? undefined, numTokens: n, out: this.attnBuffer,
        q: bufferOf(outs[SEGMENT_TENSORS.q]), k: bufferOf(outs[SEGMENT_TENSORS.k]), v: bufferOf(outs[SEGMENT_TENSORS.v]),
      });
      const isLast = layer === c.numLayers - 1;
      // Eviction after the last layer's attention, in its encoder: the head segment never reads the cache.
      const evicted = isLast ? this.attention.endStep(encoder) : null;
      device.queue.submit([encoder.finish()]);
      this.afterEviction(evicted);
      if (isLast && rows === 'none') { disposeAll(outs); break; }
      const segment = isLast ? (rows === 'all' ? seg.head : seg.headLast) : seg.layer;
      const next = await segment.session.run({
        [SEGMENT_TENSORS.hiddenIn]: outs[SEGMENT_TENSORS.hiddenOut],
        [SEGMENT_TENSORS.attn]: attnTensor,
        ...segment.weightFeeds.get(layer),
      });
      disposeAll(outs);
      if (isLast) {
        const t = next[SEGMENT_TENSORS.logits];
        logits = await this.readPrefillLogits(bufferOf(t), (rows === 'all' ? n : 1) * c.vocabSize * 4);
        t.dispose();
      } else {
        outs = next;
      }
    }
    this.position += n;
    this.heldIds.push(...ids);
    return logits;
  }

  /** After an evicting step was submitted: the GPU compacted every head to `tokensHeld`; free the tail pages. */
  private afterEviction(evicted: EvictionResult | null): void {
    if (!evicted) return;
    this.cache.truncate(this.seq, evicted.tokensHeld);
  }

  /** Submits our quantized embedding gather; queue order puts it before the embed session's run. */
  private encodeGather(d: Dispatch): void {
    const encoder = this.engine.device.createCommandEncoder({ label: 'embedding gather' });
    const pass = encoder.beginComputePass();
    encodeDispatch(pass, d);
    pass.end();
    this.engine.device.queue.submit([encoder.finish()]);
  }

  private async readPrefillLogits(buffer: GPUBuffer, bytes: number): Promise<Float32Array> {
    const { device } = this.engine;
    if (!this.prefillStaging || this.prefillStaging.size < bytes) {
      this.prefillStaging?.destroy();
      this.prefillStaging = device.createBuffer({ label: 'prefill logits staging', size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    }
    const encoder = device.createCommandEncoder();
    encoder.copyBufferToBuffer(buffer, 0, this.prefillStaging, 0, bytes);
    device.queue.submit([encoder.finish()]);
    await this.prefillStaging.mapAsync(GPUMapMode.READ, 0, bytes);
    const out = new Float32Array(this.prefillStaging.getMappedRange(0, bytes).slice(0));
    this.prefillStaging.unmap();
    return out;
  }
}

/** CPU implementations of WebGPU (SwiftShader in Chromium, lavapipe/llvmpipe in Mesa). */
const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe/i;

export function defaultDecoder(engine: EngineDevice): 'wgsl' | 'ort' {
  const a = engine.adapterInfo;
  return SOFTWARE_ADAPTER.test(`${a.vendor} ${a.architecture} ${a.description}`) ? 'ort' : 'wgsl';
}

function emptyProfile(graphCapture: boolean, decoder: 'wgsl' | 'ort'): DecodeProfile {
  return { decoder, steps: 0, segmentMs: 0, attentionMs: 0, encodeMs: 0, readbackMs: 0, totalMs: 0, graphCapture };
}

function bufferOf(t: ort.Tensor): GPUBuffer {
  return t.gpuBuffer as GPUBuffer;
}

function disposeAll(outs: Record<string, ort.Tensor>): void {
  for (const t of Object.values(outs)) t.dispose();
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
