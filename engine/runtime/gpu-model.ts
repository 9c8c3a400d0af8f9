// The GPU forward of one model: ORT segment sessions for the dense parts, our paged attention kernels between
// them, on the engine's one device. Implements the generation backend (prefill / decode / reset).
import { PagedAttention, type AttentionPolicy } from '../attention/index.ts';
import { buildSegment, segmentFeedNames, SEGMENT_TENSORS, type SegmentGraph, type SegmentKind } from '../compiler/index.ts';
import { ContextFullError, InvalidArgumentError } from '../errors/index.ts';
import type { CacheUsage, ForwardBackend } from '../generation/index.ts';
import { readBuffer, type EngineDevice } from '../gpu/index.ts';
import { PagedKVCache, type SequenceHandle } from '../kv/index.ts';
import { ropeInverseFrequencies, ropeTable, type LoadedModel, type ModelConfig, type ProgressCallback } from '../model/index.ts';
import { createGpuSession, gpuTensor, ort } from './ort.ts';
import { GpuWeights } from './weights.ts';

/** Largest prefill chunk: longer prompts are prefilled in chunks of this many tokens (bounds activation memory). */
export const MAX_PREFILL_CHUNK = 512;
/** KV pool budget: enough for the whole context, capped so a big model's pool stays within a tab's memory. */
export const MAX_KV_POOL_BYTES = 512 * 1024 * 1024;

const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

interface Segment {
  graph: SegmentGraph;
  session: ort.InferenceSession;
  /** Weight feeds per layer index, built once (ORT tensors over our weight buffers). */
  weightFeeds: Map<number, Record<string, ort.Tensor>>;
}

export class GpuModel implements ForwardBackend {
  private policy: AttentionPolicy | null = null;
  private seq: SequenceHandle;
  private position = 0;

  private constructor(
    private readonly engine: EngineDevice,
    readonly config: ModelConfig,
    private readonly weights: GpuWeights,
    private readonly segments: Record<'embed' | 'layer' | 'head' | 'headLast', Segment>,
    private readonly cache: PagedKVCache,
    private readonly attention: PagedAttention,
    private readonly inverseFrequencies: Float64Array,
    /** int32 ids of the current chunk. */
    private readonly idsBuffer: GPUBuffer,
    /** f32 [chunk, H*d] attention output, read by the next segment. */
    private readonly attnBuffer: GPUBuffer,
  ) {
    this.seq = cache.createSequence();
  }

  static async create(engine: EngineDevice, loaded: LoadedModel, onProgress?: ProgressCallback): Promise<GpuModel> {
    const { device } = engine;
    const config = loaded.config;
    const weights = GpuWeights.upload(device, loaded, onProgress);
    try {
      const has = (name: string) => loaded.weights.has(name);
      const build = async (kind: SegmentKind, lastOnly = false): Promise<Segment> => {
        const graph = buildSegment(config, kind, { tokens: 'dynamic', lastOnly }, has);
        onProgress?.({ phase: 'compile', loadedBytes: 0, totalBytes: 0, file: `${kind}${lastOnly ? ' (last row)' : ''}` });
        const session = await createGpuSession(graph.bytes, device);
        const layers = kind === 'embed' ? [0] : kind === 'head' ? [config.numLayers - 1] : range(config.numLayers - 1);
        const weightFeeds = new Map<number, Record<string, ort.Tensor>>();
        for (const layer of layers) {
          const feeds: Record<string, ort.Tensor> = {};
          for (const [input, name] of Object.entries(segmentFeedNames(graph, layer))) {
            const w = weights.get(name);
            feeds[input] = gpuTensor(w.buffer, w.shape);
          }
          weightFeeds.set(layer, feeds);
        }
        return { graph, session, weightFeeds };
      };
      const segments = {
        embed: await build('embed'),
        layer: await build('layer'),
        head: await build('head'),
        headLast: await build('head', true),
      };
      const c = config;
      const bytesPerToken = c.numLayers * c.numKvHeads * c.headDim * 2 * 4;
      const cache = new PagedKVCache(device, {
        numLayers: c.numLayers,
        numKvHeads: c.numKvHeads,
        headDim: c.headDim,
        maxTokensPerSequence: c.maxPositionEmbeddings,
        memoryBudgetBytes: Math.min(MAX_KV_POOL_BYTES, bytesPerToken * (c.maxPositionEmbeddings + 64)),
      });
      const attention = new PagedAttention(device, cache, {
        numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, ropeLayout: c.ropeLayout, maxPrefillTokens: MAX_PREFILL_CHUNK,
      });
      const idsBuffer = device.createBuffer({ label: 'ids', size: MAX_PREFILL_CHUNK * 4, usage: STORAGE });
      const attnBuffer = device.createBuffer({ label: 'attn', size: MAX_PREFILL_CHUNK * c.numHeads * c.headDim * 4, usage: STORAGE });
      return new GpuModel(engine, config, weights, segments, cache, attention, ropeInverseFrequencies(config), idsBuffer, attnBuffer);
    } catch (e) {
      weights.destroy();
      throw e;
    }
  }

  get weightBytes(): number {
    return this.weights.bytes;
  }

  setPolicy(policy: AttentionPolicy): void {
    this.policy = policy;
  }

  async prefill(ids: number[], rows: 'all' | 'last'): Promise<Float32Array> {
    const vocab = this.config.vocabSize;
    const out = rows === 'all' ? new Float32Array(ids.length * vocab) : null;
    let last: Float32Array | null = null;
    for (let start = 0; start < ids.length; start += MAX_PREFILL_CHUNK) {
      const chunk = ids.slice(start, start + MAX_PREFILL_CHUNK);
      const isLastChunk = start + chunk.length === ids.length;
      const logits = await this.forward(chunk, rows === 'all' ? 'all' : isLastChunk ? 'last' : 'none');
      if (out && logits) out.set(logits, start * vocab);
      if (isLastChunk) last = logits;
    }
    return out ?? (last as Float32Array);
  }

  async decode(id: number): Promise<Float32Array> {
    const logits = await this.forward([id], 'last');
    return logits as Float32Array;
  }

  async reset(): Promise<void> {
    this.cache.release(this.seq);
    this.seq = this.cache.createSequence();
    this.position = 0;
  }

  cacheUsage(): CacheUsage {
    return { kvBytes: this.cache.bytesHeld(this.seq), tokensInCache: this.cache.tokensHeld(this.seq) };
  }

  destroy(): void {
    for (const s of Object.values(this.segments)) void s.session.release();
    // TODO(kv owner): PagedAttention/PagedKVCache destroy()
    (this.attention as unknown as { destroy?: () => void }).destroy?.();
    (this.cache as unknown as { destroy?: () => void }).destroy?.();
    this.weights.destroy();
    this.idsBuffer.destroy();
    this.attnBuffer.destroy();
  }

  /** One chunk through every layer. Logits rows: all, the last only, or none (a middle prefill chunk). */
  private async forward(ids: number[], rows: 'all' | 'last' | 'none'): Promise<Float32Array | null> {
    const { device } = this.engine;
    if (this.engine.lost) throw this.engine.lost;
    const c = this.config;
    const n = ids.length;
    if (this.position + n > c.maxPositionEmbeddings) throw new ContextFullError(this.position + n, c.maxPositionEmbeddings);
    for (const id of ids) if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new InvalidArgumentError('ids', `token id ${id} is not in [0, ${c.vocabSize})`);

    device.queue.writeBuffer(this.idsBuffer, 0, new Int32Array(ids));
    const { cos, sin } = ropeTable(this.inverseFrequencies, this.position, n);
    this.attention.beginStep(this.seq, { startPosition: this.position, numTokens: n, cos, sin });
    const attnTensor = gpuTensor(this.attnBuffer, [n, c.numHeads * c.headDim]);

    let outs = await this.segments.embed.session.run({
      [SEGMENT_TENSORS.ids]: gpuTensor(this.idsBuffer, [n], 'int32'),
      ...this.segments.embed.weightFeeds.get(0),
    });
    let logits: Float32Array | null = null;
    for (let layer = 0; layer < c.numLayers; layer++) {
      const encoder = device.createCommandEncoder({ label: `attention ${layer}` });
      this.attention.encodeLayer(encoder, {
        layer, policy: this.policy ?? undefined,
        q: bufferOf(outs[SEGMENT_TENSORS.q]), k: bufferOf(outs[SEGMENT_TENSORS.k]), v: bufferOf(outs[SEGMENT_TENSORS.v]),
        out: this.attnBuffer, numTokens: n,
      });
      device.queue.submit([encoder.finish()]);
      const hidden = outs[SEGMENT_TENSORS.hiddenOut];
      const isLast = layer === c.numLayers - 1;
      if (isLast && rows === 'none') { disposeAll(outs); break; }
      const segment = isLast ? (rows === 'all' ? this.segments.head : this.segments.headLast) : this.segments.layer;
      const next = await segment.session.run({
        [SEGMENT_TENSORS.hiddenIn]: hidden,
        [SEGMENT_TENSORS.attn]: attnTensor,
        ...segment.weightFeeds.get(layer),
      });
      disposeAll(outs);
      if (isLast) {
        const t = next[SEGMENT_TENSORS.logits];
        const count = (rows === 'all' ? n : 1) * c.vocabSize;
        logits = await readBuffer(device, bufferOf(t), 0, count * 4);
        t.dispose();
      } else {
        outs = next;
      }
    }
    this.position += n;
    return logits;
  }
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
