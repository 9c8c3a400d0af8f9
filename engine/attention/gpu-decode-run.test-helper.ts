// Test helper: sequences decoded token by token through PagedAttention and the WGSL decoder, as GpuModel's decode
// loop runs them. One run keeps its decoder for many policies in turn: compiling the decoder's pipelines is most of
// a test's time on SwiftShader, so a file compiles them once per model instead of once per policy.
import { decodeVariantFor, WgslDecoder } from '../decode/index.ts';
import { PagedKVCache, type KvDtype, type SequenceHandle } from '../kv/index.ts';
import { ropeInverseFrequencies, ropeTable, type LoadedModel, type ModelConfig } from '../model/index.ts';
import { GpuWeights } from '../runtime/index.ts';
import type { DecodeChunkVariant } from '../wgsl/index.ts';
import { PagedAttention } from './paged-attention.ts';
import type { AttentionPolicy } from './policy.ts';

/** Positions a test sequence may reach by default: the selecting and evicting tests decode a page and a half at most. */
const MAX_TOKENS = 64;

export interface GpuDecodeRunOptions {
  kvDtype?: KvDtype;
  maxTokens?: number;
  /** PagedAttentionOptions' thresholds of the dense decode kernels (one workgroup walking all; splits of chunk runs). */
  decodeOneWorkgroupSlots?: number;
  decodeTargetSplits?: number;
  /** The decode split's variant (default: the adapter's). */
  decodeChunkVariant?: DecodeChunkVariant;
}

export class GpuDecodeRun {
  readonly cache: PagedKVCache;
  readonly config: ModelConfig;
  private readonly attention: PagedAttention;
  private readonly decoder: WgslDecoder;
  private readonly staging: GPUBuffer;
  private readonly inv: Float64Array;
  private current: { seq: SequenceHandle; policy: AttentionPolicy } | null = null;
  private position = 0;

  constructor(private readonly device: GPUDevice, loaded: LoadedModel, options: GpuDecodeRunOptions = {}) {
    const maxTokens = options.maxTokens ?? MAX_TOKENS;
    const c = loaded.config;
    this.config = c;
    this.cache = new PagedKVCache(device, {
      numLayers: c.numLayers, numKvHeads: c.numKvHeads, headDim: c.headDim, maxTokensPerSequence: maxTokens,
      memoryBudgetBytes: 2 * c.numLayers * c.numKvHeads * c.headDim * 2 * 4 * (maxTokens + 64), dtype: options.kvDtype,
    });
    this.attention = new PagedAttention(device, this.cache, {
      numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, ropeLayout: c.ropeLayout, maxPrefillTokens: 1,
      decodeOneWorkgroupSlots: options.decodeOneWorkgroupSlots, decodeTargetSplits: options.decodeTargetSplits,
      decodeChunkVariant: options.decodeChunkVariant,
    });
    this.decoder = new WgslDecoder(device, c, GpuWeights.upload(device, loaded), this.attention, decodeVariantFor(device.adapterInfo));
    this.staging = device.createBuffer({ size: c.vocabSize * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.inv = ropeInverseFrequencies(c);
  }

  /** The sequence of the last `start`. */
  get seq(): SequenceHandle {
    if (!this.current) throw new Error('GpuDecodeRun: call start(policy) first');
    return this.current.seq;
  }

  /** Starts an empty sequence under `policy`, as GpuModel.reset then setPolicy do (the last policy is freed). */
  start(policy: AttentionPolicy): void {
    if (this.current) {
      this.cache.release(this.current.seq);
      if (this.current.policy !== policy) this.current.policy.destroy?.();
    }
    policy.checkModel?.(this.config);
    this.current = { seq: this.cache.createSequence(), policy };
    this.position = 0;
  }

  /** Decodes one token at the next position; returns its logits. An evicting policy's tail pages are freed after. */
  async step(id: number): Promise<Float32Array> {
    const { seq, policy } = this.current ?? (() => { throw new Error('GpuDecodeRun: call start(policy) first'); })();
    const { cos, sin } = ropeTable(this.inv, this.position, 1);
    this.attention.beginStep(seq, { startPosition: this.position, numTokens: 1, cos, sin });
    this.decoder.writeToken(id);
    const encoder = this.device.createCommandEncoder();
    this.decoder.encodeStep(encoder, { policy });
    const evicted = this.attention.endStep(encoder);
    encoder.copyBufferToBuffer(this.decoder.logits, 0, this.staging, 0, this.staging.size);
    this.device.queue.submit([encoder.finish()]);
    if (evicted) this.cache.truncate(seq, evicted.tokensHeld);
    await this.staging.mapAsync(GPUMapMode.READ);
    const logits = new Float32Array(this.staging.getMappedRange().slice(0));
    this.staging.unmap();
    this.position += 1;
    return logits;
  }

  /**
   * A new sequence of `ids` under `policy`: every step's logits. `firstAsPrefill`: the first token is not counted as a
   * decode step (PagedAttention.rewindSteps after it), as PolicyReferenceModel counts a one-token prefill, so a policy
   * scheduled by step number (Recycled's stride) keeps the reference's schedule.
   */
  async decodeAll(policy: AttentionPolicy, ids: readonly number[], opts: { firstAsPrefill?: boolean } = {}): Promise<Float32Array[]> {
    this.start(policy);
    const out: Float32Array[] = [];
    for (const id of ids) {
      out.push(await this.step(id));
      if (opts.firstAsPrefill && out.length === 1) this.attention.rewindSteps(this.seq, 1);
    }
    return out;
  }
}

/** Largest |a - b| over every step's logits. */
export function maxLogitDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((row, s) => row.forEach((v, i) => { m = Math.max(m, Math.abs(v - b[s][i])); }));
  return m;
}
