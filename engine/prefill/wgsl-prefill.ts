// A whole prefill chunk of a Llama / Qwen2 / Qwen3 model in our own WGSL, into ONE command encoder: no ORT run.
//
// Per chunk of n tokens (rows), in order:
//   x = embed_tokens[ids]                                   (decode's gather, f32 or quantized table, n rows)
//   per layer: h = rmsnorm(x); q, k, v = h Wq^T, h Wk^T, h Wv^T (+b)    three GEMMs (gemm.wgsl)
//              qwen3: per-head norm of q and k                (decode's head norm, n rows)
//              attention (PagedAttention: RoPE, K/V append, flash prefill attention) -> attn
//              x += attn Wo^T (+b); h = rmsnorm(x); g, u = h Wg^T, h Wu^T; x += (silu(g) * u) Wd^T
//   head: last row only (the decode matvec on a copy of the last row: a 128-row GEMM tile would compute 127 rows
//         of vocab-wide logits for nothing), or all rows (`sieve logits`: rmsnorm, then a GEMM over the vocabulary)
// 9 dispatches of ours a layer (10 with qk norm) plus the attention's, in one compute pass between attentions.
// Every buffer and bind group is made here once, for chunks of up to maxTokens; a chunk writes one 16-byte uniform
// (its row count) and encodes. Why not ORT (bench/results/node-prefill-h200.json): each ORT run() costs ~2.6 ms of
// host time on the H200, and a chunk took L+1 of them.
import type { AttentionPolicy, PagedAttention } from '../attention/index.ts';
import { DecodeKernels, encodeDispatch, type DecodeKernelVariant, type DecoderWeights, type Dispatch, type MatrixBuffer } from '../decode/index.ts';
import { InvalidArgumentError } from '../errors/index.ts';
import { withDeferredGpuErrorScopes } from '../gpu/index.ts';
import { layerWeight, type ModelConfig } from '../model/index.ts';
import { PrefillKernels, type RowDispatch } from './gemm.ts';
import type { PrefillTimer } from './prefill-timer.ts';

interface LayerDispatches {
  /** norm, q, k, v (and qwen3's head norm: a decode-kernel dispatch whose token count is set per chunk). */
  beforeAttention: RowDispatch[];
  headNorm: Dispatch | null;
  /** o_proj + residual, norm, gate, up, down + residual. */
  afterAttention: RowDispatch[];
}

export interface PrefillChunkOptions {
  /** The chunk's token ids, 1 .. maxTokens of them (attention.beginStep for them must come first). */
  ids: readonly number[];
  /** Logits of every row, of the last row, or none (a middle chunk). */
  rows: 'all' | 'last' | 'none';
  policy?: AttentionPolicy;
  /** GPU timestamps of the chunk's passes (benches: products and attention apart). */
  timer?: PrefillTimer;
}

export class WgslPrefill {
  private readonly kernels: PrefillKernels;
  private readonly decodeKernels: DecodeKernels;
  /** vec4<u32> uniform: x = the chunk's rows. */
  private readonly dims: GPUBuffer;
  private readonly dimsData = new Uint32Array(4);
  /** u32 [maxTokens]: the chunk's ids. */
  private readonly ids: GPUBuffer;
  /** The residual stream [maxTokens][hidden]. */
  private readonly hidden: GPUBuffer;
  /** Normalized rows [maxTokens][hidden]. */
  private readonly normed: GPUBuffer;
  private readonly q: GPUBuffer;
  private readonly k: GPUBuffer;
  private readonly v: GPUBuffer;
  private readonly attn: GPUBuffer;
  private readonly gate: GPUBuffer;
  private readonly up: GPUBuffer;
  /** The last row of the residual stream [hidden], and its logits [vocab]. */
  private readonly lastRow: GPUBuffer;
  readonly lastLogits: GPUBuffer;
  /** Logits of every row [maxTokens][vocab], made at the first 'all' chunk (`sieve logits` only). */
  private allLogits: { buffer: GPUBuffer; norm: RowDispatch; head: RowDispatch } | null = null;
  private readonly owned: GPUBuffer[] = [];
  private readonly embedDispatch: Dispatch;
  private readonly layers: LayerDispatches[] = [];
  private readonly headDispatch: Dispatch;
  /** GPU bytes of the chunk's activations (everything above but the weights), for engine.stats(). */
  activationBytes = 0;

  constructor(
    private readonly device: GPUDevice,
    readonly config: ModelConfig,
    private readonly weights: DecoderWeights,
    private readonly attention: PagedAttention,
    readonly maxTokens: number,
    variant: DecodeKernelVariant,
  ) {
    const c = config;
    const T = maxTokens;
    const qDim = c.numHeads * c.headDim;
    const kvDim = c.numKvHeads * c.headDim;
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const alloc = (label: string, floats: number, bufferUsage = usage): GPUBuffer => {
      const size = Math.max(16, Math.ceil(floats / 4) * 16);
      const b = device.createBuffer({ label: `prefill ${label}`, size, usage: bufferUsage });
      this.owned.push(b);
      this.activationBytes += size;
      return b;
    };
    try {
      this.dims = alloc('dims', 4, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
      this.kernels = new PrefillKernels(device, c.rmsNormEps, this.dims, variant.gemmTile);
      this.decodeKernels = new DecodeKernels(device, c.rmsNormEps, { variant });
      this.ids = alloc('ids', T);
      this.hidden = alloc('hidden', T * c.hiddenSize);
      this.normed = alloc('normed', T * c.hiddenSize);
      this.q = alloc('q', T * qDim);
      this.k = alloc('k', T * kvDim);
      this.v = alloc('v', T * kvDim);
      this.attn = alloc('attn', T * qDim);
      this.gate = alloc('gate', T * c.intermediateSize);
      this.up = alloc('up', T * c.intermediateSize);
      this.lastRow = alloc('last row', c.hiddenSize);
      this.lastLogits = alloc('last logits', c.vocabSize);
      this.embedDispatch = this.decodeKernels.embed(this.ids, this.matrix('model.embed_tokens.weight', c.vocabSize, c.hiddenSize), this.hidden, T);
      for (let l = 0; l < c.numLayers; l++) this.layers.push(this.layer(l));
      const head = this.headMatrix();
      const finalNorm = this.vector('model.norm.weight', c.hiddenSize);
      this.headDispatch = this.decodeKernels.matvec('lm_head', 'normed', { x: this.lastRow, norm: finalNorm, matrices: [head], out: this.lastLogits });
    } catch (e) {
      this.destroy();
      throw e;
    }
  }

  /**
   * Encodes one chunk into `encoder` (after attention.beginStep for its tokens; the caller ends the step). Returns
   * the buffer holding the asked logits rows ([vocab] for 'last', [n][vocab] for 'all'), or null for 'none'.
   */
  encodeChunk(encoder: GPUCommandEncoder, opts: PrefillChunkOptions): GPUBuffer | null {
    const n = opts.ids.length;
    const c = this.config;
    if (n < 1 || n > this.maxTokens) throw new InvalidArgumentError('ids', `a chunk holds 1 to ${this.maxTokens} tokens, got ${n}`);
    this.dimsData[0] = n;
    this.device.queue.writeBuffer(this.dims, 0, this.dimsData);
    this.device.queue.writeBuffer(this.ids, 0, new Uint32Array(opts.ids));
    const embed = this.embedDispatch;
    const timer = opts.timer;
    timer?.beginChunk();
    let pass = encoder.beginComputePass({ label: 'prefill embed, layer 0 q/k/v', timestampWrites: timer?.pass('products', false) });
    encodeDispatch(pass, { ...embed, workgroups: [embed.workgroups[0], n] });
    for (let l = 0; l < this.layers.length; l++) {
      const layer = this.layers[l];
      for (const d of layer.beforeAttention) d.encode(pass, n);
      if (layer.headNorm) encodeDispatch(pass, { ...layer.headNorm, workgroups: [layer.headNorm.workgroups[0], n] });
      pass.end();
      this.attention.encodeLayer(encoder, { layer: l, q: this.q, k: this.k, v: this.v, out: this.attn, numTokens: n, policy: opts.policy });
      pass = encoder.beginComputePass({ label: `prefill layer ${l} o_proj, MLP`, timestampWrites: timer?.pass('products', true) });
      for (const d of layer.afterAttention) d.encode(pass, n);
    }
    if (opts.rows === 'all') {
      const all = this.allLogitsDispatches();
      all.norm.encode(pass, n);
      all.head.encode(pass, n);
      pass.end();
      timer?.endChunk(encoder);
      return all.buffer;
    }
    pass.end();
    if (opts.rows === 'none') {
      timer?.endChunk(encoder);
      return null;
    }
    const rowBytes = c.hiddenSize * 4;
    encoder.copyBufferToBuffer(this.hidden, (n - 1) * rowBytes, this.lastRow, 0, rowBytes);
    pass = encoder.beginComputePass({ label: 'prefill lm_head (last row)', timestampWrites: timer?.pass('head', false) });
    encodeDispatch(pass, this.headDispatch);
    pass.end();
    timer?.endChunk(encoder);
    return this.lastLogits;
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
    this.owned.length = 0;
    this.allLogits?.buffer.destroy();
    this.allLogits = null;
    this.kernels?.destroy();
    this.decodeKernels?.destroy();
  }

  private allLogitsDispatches(): { buffer: GPUBuffer; norm: RowDispatch; head: RowDispatch } {
    if (this.allLogits) return this.allLogits;
    // Made at the first `sieve logits` chunk, after the load's error scopes: in deferred ones (engine/gpu), so a
    // refused [maxTokens][vocab] buffer or pipeline fails that chunk typed at its readback (checkGpuErrors) and the
    // next 'all' chunk makes them again.
    return withDeferredGpuErrorScopes(this.device, 'the prefill all-rows logits buffer and lm_head kernel', () => {
      const c = this.config;
      const buffer = this.device.createBuffer({ label: 'prefill all logits', size: this.maxTokens * c.vocabSize * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
      const norm = this.kernels.rmsNorm('final norm', this.hidden, this.vector('model.norm.weight', c.hiddenSize), this.normed, c.hiddenSize);
      const head = this.kernels.gemm('lm_head', { x: this.normed, w: this.headMatrix(), out: buffer });
      this.allLogits = { buffer, norm, head };
      return this.allLogits;
    }, {
      release: (made) => {
        made.buffer.destroy();
        if (this.allLogits === made) this.allLogits = null;
      },
    });
  }

  private layer(l: number): LayerDispatches {
    const c = this.config;
    const D = c.hiddenSize;
    const F = c.intermediateSize;
    const qDim = c.numHeads * c.headDim;
    const kvDim = c.numKvHeads * c.headDim;
    const name = (suffix: string) => layerWeight(l, suffix);
    const k = this.kernels;
    const proj = (p: string, rows: number, inF: number) => this.matrix(name(p), rows, inF);
    const beforeAttention = [
      k.rmsNorm(`layer ${l} input norm`, this.hidden, this.vector(name('input_layernorm.weight'), D), this.normed, D),
      k.gemm(`layer ${l} q`, { x: this.normed, w: proj('self_attn.q_proj.weight', qDim, D), bias: this.bias(name('self_attn.q_proj.bias'), qDim), out: this.q }),
      k.gemm(`layer ${l} k`, { x: this.normed, w: proj('self_attn.k_proj.weight', kvDim, D), bias: this.bias(name('self_attn.k_proj.bias'), kvDim), out: this.k }),
      k.gemm(`layer ${l} v`, { x: this.normed, w: proj('self_attn.v_proj.weight', kvDim, D), bias: this.bias(name('self_attn.v_proj.bias'), kvDim), out: this.v }),
    ];
    const headNorm = c.qkNorm
      ? this.decodeKernels.headNorm(`layer ${l} qk norm`, c, this.q, this.k,
        this.vector(name('self_attn.q_norm.weight'), c.headDim), this.vector(name('self_attn.k_norm.weight'), c.headDim), this.maxTokens)
      : null;
    const afterAttention = [
      k.gemm(`layer ${l} o`, { x: this.attn, w: proj('self_attn.o_proj.weight', D, qDim), bias: this.bias(name('self_attn.o_proj.bias'), D), out: this.hidden, add: true }),
      k.rmsNorm(`layer ${l} post-attention norm`, this.hidden, this.vector(name('post_attention_layernorm.weight'), D), this.normed, D),
      k.gemm(`layer ${l} gate`, { x: this.normed, w: proj('mlp.gate_proj.weight', F, D), bias: this.bias(name('mlp.gate_proj.bias'), F), out: this.gate }),
      k.gemm(`layer ${l} up`, { x: this.normed, w: proj('mlp.up_proj.weight', F, D), bias: this.bias(name('mlp.up_proj.bias'), F), out: this.up }),
      k.gemm(`layer ${l} down`, { x: this.gate, x2: this.up, w: proj('mlp.down_proj.weight', D, F), bias: this.bias(name('mlp.down_proj.bias'), D), out: this.hidden, add: true }),
    ];
    return { beforeAttention, headNorm, afterAttention };
  }

  /** transformers ties lm_head to embed_tokens when tie_word_embeddings is set, whatever the file holds. */
  private headMatrix(): MatrixBuffer {
    const c = this.config;
    return this.matrix(c.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight', c.vocabSize, c.hiddenSize);
  }

  private matrix(name: string, out: number, inFeatures: number): MatrixBuffer {
    const w = this.weights.get(name);
    if (w.shape.length !== 2 || w.shape[0] !== out || w.shape[1] !== inFeatures) {
      throw new InvalidArgumentError('weights', `${name} has shape [${w.shape.join(', ')}], the config implies [${out}, ${inFeatures}]`);
    }
    return w;
  }

  private vector(name: string, length: number): GPUBuffer {
    const w = this.weights.get(name);
    if (w.shape.length !== 1 || w.shape[0] !== length) throw new InvalidArgumentError('weights', `${name} has shape [${w.shape.join(', ')}], the config implies [${length}]`);
    return w.buffer;
  }

  private bias(name: string, length: number): GPUBuffer | null {
    return this.weights.has(name) ? this.vector(name, length) : null;
  }
}
