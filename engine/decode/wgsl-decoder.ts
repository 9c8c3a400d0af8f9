// One decode token of a Llama / Qwen2 / Qwen3 model in our own WGSL, all into one command encoder: no ORT run.
//
// Why (DESIGN.md, "Per-run overhead decides the shape of decode"): a step costs what its dispatches and passes cost
// on the host and the GPU far more than what its bytes cost (SmolLM2-135M on an H200: 0.16 ms of weight reads in a
// 3.35 ms step of 273 dispatches), so a step is few, fat dispatches over buffers and bind groups made once in the
// constructor; encoding it allocates no GPU memory.
//
// Per step, in order:
//   x = embed_tokens[id]
//   per layer: qkv = [Wq; Wk; Wv] norm(x) (+b)                          1 dispatch (matvec.wgsl, 3 segments)
//              attention: q/k norm (qwen3), RoPE, K/V append, decode    PagedAttention: 1 dispatch (2 past one
//              attention over the paged cache, count commit            split's context; policies: their own)
//              x += Wo attn (+b)                                       1 dispatch
//              act = silu(Wg norm(x)) * Wu norm(x)                     1 dispatch
//              x += Wd act                                             1 dispatch
//   logits = lm_head norm(x) (+ greedy argmax)
// Each RMSNorm is fused into the matvecs that read it. Dense decode is 5 dispatches a layer at short context in one
// compute pass for the whole step; a policy's layers keep PagedAttention.encodeLayer (its hooks encode between
// passes). Quantized q/k/v in one dispatch bind 10 storage buffers: on a device that allows only WebGPU's default
// 8, q and k/v are two dispatches (6 a layer).
import type { AttentionPolicy, PagedAttention } from '../attention/index.ts';
import { InvalidArgumentError } from '../errors/index.ts';
import { layerWeight, type ModelConfig } from '../model/index.ts';
import { DecodeKernels, encodeDispatch, matvecLayoutOf, matvecStorageBuffers, type Dispatch, type MatrixBuffer } from './kernels.ts';
import { GpuSampler } from './sampler.ts';
import { GPU_VARIANT, type DecodeKernelVariant } from './variants.ts';

/** What the decoder needs of the uploaded weights (GpuWeights satisfies it): buffers in HF layout, f32, f16 or quantized. */
export interface DecoderWeights {
  has(name: string): boolean;
  get(name: string): MatrixBuffer;
}

export interface DecodeStepOptions {
  /** Defaults to dense (PagedAttention's default). */
  policy?: AttentionPolicy;
  /**
   * Choose the next id on the GPU (greedy argmax into `choice`, which the next step's embedding reads): the host can
   * encode the next step before this one's id is known, and reads back 8 bytes instead of the logits.
   */
  greedy?: boolean;
  /**
   * Choose the next id by the GPU sampler instead (`sampler.begin` set the request): temperature, truncation,
   * penalties, bias and the seeded draw, into `choice` as `greedy` does.
   */
  sample?: boolean;
  /**
   * GPU timestamps of the step (a profile, dense steps only): `perKernel` false writes the one pass's start and end
   * at 0 and 1; true gives every kernel (embed, each layer's qkv, attention, o, gate up, down, the head, the id
   * choice) a pass of its own with its start and end at 2i, 2i + 1 and its kind at kinds[i]. Separate passes cost the
   * barriers between kernels their overlap, so their sum against the one pass's time shows what the step loses
   * between dependent dispatches.
   */
  timestamps?: StepTimestamps;
}

/** Where encodeStep writes a profiled step's timestamps (DecodeStepOptions.timestamps). */
export interface StepTimestamps {
  querySet: GPUQuerySet;
  perKernel: boolean;
  /** perKernel: filled with each pass's kind, in order. */
  kinds: string[];
}

/**
 * The compute passes of one step: one pass throughout, closed where a policy's hooks encode between passes; or, when
 * profiling per kernel, a timed pass per kernel.
 */
class StepPasses {
  private open: GPUComputePassEncoder | null = null;
  constructor(private readonly encoder: GPUCommandEncoder, private readonly timestamps: StepTimestamps | undefined) {}

  /** The pass to encode kernel `kind` into. */
  pass(kind: string, label: string): GPUComputePassEncoder {
    const t = this.timestamps;
    if (t?.perKernel) {
      this.end();
      const i = t.kinds.push(kind) - 1;
      this.open = this.encoder.beginComputePass({ label: `decode ${kind}`, timestampWrites: { querySet: t.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
    }
    this.open ??= this.encoder.beginComputePass({ label, ...(t ? { timestampWrites: { querySet: t.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {}) });
    return this.open;
  }

  end(): void {
    this.open?.end();
    this.open = null;
  }
}

interface LayerDispatches {
  /** RMSNorm + q/k/v into `qkv` (1 dispatch, 2 where the device has too few storage bindings for 3 int matrices). */
  qkv: Dispatch[];
  /** Qwen3's per-head q/k norm for a policy's path (the dense path norms inside its attention kernel). */
  headNorm: Dispatch | null;
  /** [q_norm; k_norm] weights for the dense attention kernel, or null. */
  qkNorm: GPUBuffer | null;
  /** After attention: o_proj + residual, gate/up + SwiGLU, down + residual, each with its kind for a profile. */
  mlp: [string, Dispatch][];
}

/** Elements between the q, k and v parts of `qkv`: 256-byte steps, so each part can be bound or copied on its own. */
const QKV_ALIGN = 64;

export class WgslDecoder {
  /** [vocab] f32 logits of the last encoded step (STORAGE | COPY_SRC). */
  readonly logits: GPUBuffer;
  /**
   * u32 [4] (STORAGE | COPY_SRC | COPY_DST): [0] the id the next step embeds (writeToken, or a greedy step's argmax),
   * [1] 1 when that greedy step saw a NaN or infinite logit.
   */
  readonly choice: GPUBuffer;
  /** The sampler kernel over `logits` and `choice` (encodeStep's `sample`). */
  readonly sampler: GpuSampler;

  private readonly kernels: DecodeKernels;
  /** The residual stream [hidden]. */
  private readonly hidden: GPUBuffer;
  /** q, k, v of the step, not rotated: q at 0, k at kOffset, v at vOffset (elements). */
  private readonly qkv: GPUBuffer;
  readonly kOffset: number;
  readonly vOffset: number;
  /** k and v alone, for a policy's PagedAttention.encodeLayer (copied from qkv). */
  private readonly k: GPUBuffer;
  private readonly v: GPUBuffer;
  /** Attention output [numHeads * headDim], before o_proj. */
  private readonly attn: GPUBuffer;
  /** silu(gate) * up [intermediate]. */
  private readonly act: GPUBuffer;
  private readonly owned: GPUBuffer[] = [];
  private readonly idData = new Uint32Array(1);
  private readonly embedDispatch: Dispatch;
  private readonly layers: LayerDispatches[] = [];
  private readonly headDispatch: Dispatch;
  private readonly argmaxDispatch: Dispatch;

  constructor(
    private readonly device: GPUDevice,
    readonly config: ModelConfig,
    private readonly weights: DecoderWeights,
    private readonly attention: PagedAttention,
    /** The workgroup shapes for this adapter (decodeVariantFor(adapterInfo)); default: a real GPU's. */
    readonly variant: DecodeKernelVariant = GPU_VARIANT,
    /** Storage buffers a kernel may bind (default: the device's limit; a test takes 8 to check the fallback). */
    maxStorageBuffersPerShaderStage = device.limits.maxStorageBuffersPerShaderStage,
  ) {
    const c = config;
    if (attention.numHeads !== c.numHeads || attention.numKvHeads !== c.numKvHeads || attention.headDim !== c.headDim) {
      throw new InvalidArgumentError('attention', `built for ${attention.numHeads}/${attention.numKvHeads} heads of ${attention.headDim}, the model has ${c.numHeads}/${c.numKvHeads} of ${c.headDim}`);
    }
    if (attention.cache.numLayers !== c.numLayers) throw new InvalidArgumentError('attention', `its cache holds ${attention.cache.numLayers} layers, the model has ${c.numLayers}`);
    const qDim = c.numHeads * c.headDim;
    const kvDim = c.numKvHeads * c.headDim;
    const activation = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
    const alloc = (label: string, floats: number, usage = activation): GPUBuffer => {
      const b = device.createBuffer({ label: `decode ${label}`, size: Math.max(16, Math.ceil(floats / 4) * 16), usage });
      this.owned.push(b);
      return b;
    };
    this.kernels = new DecodeKernels(device, c.rmsNormEps, { variant, maxStorageBuffersPerShaderStage });
    this.choice = alloc('choice', 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
    this.hidden = alloc('hidden', c.hiddenSize);
    this.kOffset = Math.ceil(qDim / QKV_ALIGN) * QKV_ALIGN;
    this.vOffset = this.kOffset + Math.ceil(kvDim / QKV_ALIGN) * QKV_ALIGN;
    this.qkv = alloc('qkv', this.vOffset + kvDim);
    this.k = alloc('k', kvDim, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
    this.v = alloc('v', kvDim, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
    this.attn = alloc('attn', qDim);
    this.act = alloc('mlp act', c.intermediateSize);
    this.logits = alloc('logits', c.vocabSize);

    const setup = device.createCommandEncoder({ label: 'decode setup' });
    try {
      this.embedDispatch = this.kernels.embed(this.choice, this.matrix('model.embed_tokens.weight', c.vocabSize, c.hiddenSize), this.hidden);
      for (let l = 0; l < c.numLayers; l++) this.layers.push(this.layer(l, setup, alloc));
      // transformers ties lm_head to embed_tokens after loading when tie_word_embeddings is set, whatever the
      // file holds (engine/prefill's head does the same).
      const head = c.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
      this.headDispatch = this.kernels.matvec('lm_head', 'normed', {
        x: this.hidden, norm: this.vector('model.norm.weight', c.hiddenSize), matrices: [this.matrix(head, c.vocabSize, c.hiddenSize)], out: this.logits,
      });
      this.argmaxDispatch = this.kernels.argmax(this.logits, this.choice, c.vocabSize);
      device.queue.submit([setup.finish()]);
      this.sampler = new GpuSampler(device, this.logits, this.choice, c.vocabSize, variant.argmaxWorkgroupSize);
    } catch (e) {
      this.destroy();
      throw e;
    }
  }

  /** Sets the token of the next step: one queue.writeBuffer. */
  writeToken(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) {
      throw new InvalidArgumentError('id', `token id ${id} is not an integer in [0, ${this.config.vocabSize})`);
    }
    this.idData[0] = id;
    this.device.queue.writeBuffer(this.choice, 0, this.idData);
  }

  /**
   * Encodes one whole decode step into `encoder`. Before it: attention.beginStep(seq, { numTokens: 1, ... }) for
   * this token, and writeToken(id) unless the previous step chose it (greedy); after the encoder is submitted,
   * `logits` holds the step's logits and, with `greedy`, `choice` the next id.
   */
  encodeStep(encoder: GPUCommandEncoder, opts: DecodeStepOptions = {}): void {
    const policy = opts.policy;
    const dense = !policy || policy.name === 'dense';
    // A policy's layers close the pass for their hooks: one timed pass would not cover the step.
    if (opts.timestamps && !dense) throw new InvalidArgumentError('timestamps', 'a profiled decode step is dense (a policy encodes between passes)');
    const passes = new StepPasses(encoder, opts.timestamps);
    const step = dense ? 'decode step' : 'decode embed, layer 0 q/k/v';
    encodeDispatch(passes.pass('embed', step), this.embedDispatch);
    for (let l = 0; l < this.layers.length; l++) {
      const layer = this.layers[l];
      for (const d of layer.qkv) encodeDispatch(passes.pass('qkv', step), d);
      if (dense) {
        this.attention.encodeDecodeLayer(passes.pass('attention', step), {
          layer: l, qkv: this.qkv, kOffset: this.kOffset, vOffset: this.vOffset, out: this.attn, qkNorm: layer.qkNorm, eps: this.config.rmsNormEps,
        });
      } else {
        passes.end();
        const kvBytes = this.config.numKvHeads * this.config.headDim * 4;
        encoder.copyBufferToBuffer(this.qkv, this.kOffset * 4, this.k, 0, kvBytes);
        encoder.copyBufferToBuffer(this.qkv, this.vOffset * 4, this.v, 0, kvBytes);
        if (layer.headNorm) {
          encodeDispatch(passes.pass('qk norm', `decode layer ${l} qk norm`), layer.headNorm);
          passes.end();
        }
        this.attention.encodeLayer(encoder, { layer: l, q: this.qkv, k: this.k, v: this.v, out: this.attn, numTokens: 1, policy });
      }
      for (const [kind, d] of layer.mlp) encodeDispatch(passes.pass(kind, dense ? step : `decode layer ${l} o_proj, MLP`), d);
    }
    const last = dense ? step : 'decode head';
    encodeDispatch(passes.pass('lm_head', last), this.headDispatch);
    if (opts.sample) encodeDispatch(passes.pass('sampler', last), this.sampler.dispatch);
    else if (opts.greedy) encodeDispatch(passes.pass('argmax', last), this.argmaxDispatch);
    passes.end();
  }

  /** Frees the decoder's own buffers (not the weights, not the attention). */
  destroy(): void {
    for (const b of this.owned) b.destroy();
    this.owned.length = 0;
    this.sampler?.destroy();
    this.kernels.destroy();
  }

  private layer(l: number, setup: GPUCommandEncoder, alloc: (label: string, floats: number, usage?: number) => GPUBuffer): LayerDispatches {
    const c = this.config;
    const D = c.hiddenSize;
    const F = c.intermediateSize;
    const qDim = c.numHeads * c.headDim;
    const kvDim = c.numKvHeads * c.headDim;
    const name = (suffix: string) => layerWeight(l, suffix);
    const k = this.kernels;
    const inputNorm = this.vector(name('input_layernorm.weight'), D);
    const q = this.matrix(name('self_attn.q_proj.weight'), qDim, D);
    const kw = this.matrix(name('self_attn.k_proj.weight'), kvDim, D);
    const vw = this.matrix(name('self_attn.v_proj.weight'), kvDim, D);
    const qkvBias = this.joined(setup, alloc, `layer ${l} qkv bias`, [
      [name('self_attn.q_proj.bias'), qDim, 0], [name('self_attn.k_proj.bias'), kvDim, this.kOffset], [name('self_attn.v_proj.bias'), kvDim, this.vOffset],
    ], this.vOffset + kvDim);
    const qkv = this.qkvGroups([q, kw, vw]).map((group) => k.matvec(`layer ${l} ${group.map((i) => 'qkv'[i]).join('')}`, 'normed', {
      x: this.hidden, norm: inputNorm, matrices: group.map((i) => [q, kw, vw][i]), outOffsets: group.map((i) => [0, this.kOffset, this.vOffset][i]),
      bias: qkvBias, out: this.qkv,
    }));
    let headNorm: Dispatch | null = null;
    let qkNorm: GPUBuffer | null = null;
    if (c.qkNorm) {
      const qn = this.vector(name('self_attn.q_norm.weight'), c.headDim);
      const kn = this.vector(name('self_attn.k_norm.weight'), c.headDim);
      headNorm = k.headNorm(`layer ${l} qk norm`, c, this.qkv, this.k, qn, kn);
      qkNorm = this.joined(setup, alloc, `layer ${l} qk norm`, [[name('self_attn.q_norm.weight'), c.headDim, 0], [name('self_attn.k_norm.weight'), c.headDim, c.headDim]], 2 * c.headDim);
    }
    const gateUpBias = this.joined(setup, alloc, `layer ${l} gate/up bias`, [[name('mlp.gate_proj.bias'), F, 0], [name('mlp.up_proj.bias'), F, F]], 2 * F);
    const mlp: [string, Dispatch][] = [
      ['o', k.matvec(`layer ${l} o`, 'residual', {
        x: this.attn, matrices: [this.matrix(name('self_attn.o_proj.weight'), D, qDim)], bias: this.bias(name('self_attn.o_proj.bias'), D), out: this.hidden,
      })],
      ['gate up', k.matvec(`layer ${l} gate up`, 'gated', {
        x: this.hidden, norm: this.vector(name('post_attention_layernorm.weight'), D),
        matrices: [this.matrix(name('mlp.gate_proj.weight'), F, D), this.matrix(name('mlp.up_proj.weight'), F, D)], bias: gateUpBias, out: this.act,
      })],
      ['down', k.matvec(`layer ${l} down`, 'residual', {
        x: this.act, matrices: [this.matrix(name('mlp.down_proj.weight'), D, F)], bias: this.bias(name('mlp.down_proj.bias'), D), out: this.hidden,
      })],
    ];
    return { qkv, headNorm, qkNorm, mlp };
  }

  /**
   * Which of q, k, v (0, 1, 2) share a matvec dispatch: all three when they are stored alike and their buffers fit
   * the device's storage-buffer limit, else q alone and k with v. A GGUF stores them in their own formats (Q4_K_M:
   * q and k in Q4_K, v in Q6_K in some layers): then each run of alike neighbours is one dispatch.
   */
  private qkvGroups(ms: MatrixBuffer[]): number[][] {
    const groups: number[][] = [];
    for (let i = 0; i < ms.length; i++) {
      const last = groups[groups.length - 1];
      if (last && matvecLayoutOf(ms[last[0]]) === matvecLayoutOf(ms[i])) last.push(i);
      else groups.push([i]);
    }
    const fits = (n: number, m: MatrixBuffer) => matvecStorageBuffers(n, !!m.quantized) <= this.kernels.maxStorageBuffers;
    return groups.flatMap((g) => (fits(g.length, ms[g[0]]) ? [g] : g.length === 3 ? [[0], [1, 2]] : g.map((i) => [i])));
  }

  /**
   * One buffer of `total` floats holding the given vectors at their offsets (zeros where a vector is absent), copied
   * once at construction; null when none of them exists. Fused kernels bind one bias (or norm) buffer, not three.
   */
  private joined(setup: GPUCommandEncoder, alloc: (label: string, floats: number, usage?: number) => GPUBuffer, label: string, parts: [string, number, number][], total: number): GPUBuffer | null {
    const present = parts.filter(([n]) => this.weights.has(n));
    if (present.length === 0) return null;
    const buffer = alloc(label, total, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
    for (const [n, length, at] of present) setup.copyBufferToBuffer(this.vector(n, length), 0, buffer, at * 4, length * 4);
    return buffer;
  }

  /** A weight, its shape checked against what the config implies. */
  private checked(name: string, shape: number[]): MatrixBuffer {
    const w = this.weights.get(name);
    if (w.shape.length !== shape.length || w.shape.some((s, i) => s !== shape[i])) {
      throw new InvalidArgumentError('weights', `${name} has shape [${w.shape.join(', ')}], the config implies [${shape.join(', ')}]`);
    }
    return w;
  }

  private matrix(name: string, out: number, inFeatures: number): MatrixBuffer {
    return this.checked(name, [out, inFeatures]);
  }

  private vector(name: string, length: number): GPUBuffer {
    return this.checked(name, [length]).buffer;
  }

  /** A linear layer's bias when the checkpoint has one (o_proj: attention_bias; down_proj: mlp_bias). */
  private bias(name: string, length: number): GPUBuffer | null {
    return this.weights.has(name) ? this.vector(name, length) : null;
  }
}
