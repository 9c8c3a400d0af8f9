// One decode token of a Llama / Qwen2 / Qwen3 model in our own WGSL, all into one command encoder: no ORT run.
//
// Why (DESIGN.md, "Per-run overhead decides the shape of decode"): ORT Web's graph capture fails for our decode
// sessions, so a step through ORT costs L+1 run() calls of ~0.5 ms host time each. Here a step is a fixed list of
// dispatches over buffers and bind groups made once in the constructor; encoding it allocates no GPU memory.
//
// Per step, in order:
//   x = embed_tokens[id]
//   per layer: q = Wq norm(x) (+b); k, v = Wk norm(x) (+b), Wv norm(x) (+b); qwen3: per-head norm of q and k;
//              attention (PagedAttention: RoPE, K/V append, paged decode attention) -> attn;
//              x += Wo attn (+b); act = silu(Wg norm(x)) * Wu norm(x); x += Wd act
//   logits = lm_head norm(x)
// Each RMSNorm is fused into the matvecs that read it, so a layer is 5 dispatches of ours (6 with qk norm) plus
// the attention's, and the whole step is 5L + 2 of ours.
//
// Quantized weights (engine/quant; GpuWeights marks them): the same step over matvec-quant.wgsl, which reads the
// int4/int8 blocks and dequantizes in registers. Two quantized matrices in one dispatch would need more storage
// bindings than WebGPU's default 8, so q, k, v, gate and up are one dispatch each and down_proj applies the SwiGLU
// to its input: 7 dispatches a layer.
import type { AttentionPolicy, PagedAttention } from '../attention/index.ts';
import { InvalidArgumentError } from '../errors/index.ts';
import { layerWeight, type ModelConfig } from '../model/index.ts';
import { DecodeKernels, encodeDispatch, type Dispatch, type MatrixBuffer } from './kernels.ts';
import { GPU_VARIANT, type DecodeKernelVariant } from './variants.ts';

/** What the decoder needs of the uploaded weights (GpuWeights satisfies it): buffers in HF layout, f32 or quantized. */
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
}

interface LayerDispatches {
  /** Before attention: q, k/v, and qwen3's head norm. */
  attentionInputs: Dispatch[];
  /** After attention: o_proj + residual, gate/up, down + residual. */
  attentionOutputs: Dispatch[];
}

export class WgslDecoder {
  /** [vocab] f32 logits of the last encoded step (STORAGE | COPY_SRC). */
  readonly logits: GPUBuffer;
  /**
   * u32 [4] (STORAGE | COPY_SRC | COPY_DST): [0] the id the next step embeds (writeToken, or a greedy step's argmax),
   * [1] 1 when that greedy step saw a NaN or infinite logit.
   */
  readonly choice: GPUBuffer;

  private readonly kernels: DecodeKernels;
  /** The residual stream [hidden]. */
  private readonly hidden: GPUBuffer;
  private readonly q: GPUBuffer;
  private readonly k: GPUBuffer;
  private readonly v: GPUBuffer;
  /** Attention output [numHeads * headDim], before o_proj. */
  private readonly attn: GPUBuffer;
  /** silu(gate) * up [intermediate]; with quantized weights, the gate projection alone. */
  private readonly act: GPUBuffer;
  /** The up projection [intermediate] (quantized weights only: down_proj applies the SwiGLU). */
  private readonly up: GPUBuffer | null;
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
    this.kernels = new DecodeKernels(device, c.rmsNormEps, { variant });
    this.choice = alloc('choice', 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
    this.hidden = alloc('hidden', c.hiddenSize);
    this.q = alloc('q', qDim);
    this.k = alloc('k', kvDim);
    this.v = alloc('v', kvDim);
    this.attn = alloc('attn', qDim);
    this.act = alloc('mlp act', c.intermediateSize);
    this.up = weights.get(layerWeight(0, 'mlp.up_proj.weight')).quantized ? alloc('mlp up', c.intermediateSize) : null;
    this.logits = alloc('logits', c.vocabSize);

    try {
      this.embedDispatch = this.kernels.embed(this.choice, this.matrix('model.embed_tokens.weight', c.vocabSize, c.hiddenSize), this.hidden);
      for (let l = 0; l < c.numLayers; l++) this.layers.push(this.layer(l));
      // transformers ties lm_head to embed_tokens after loading when tie_word_embeddings is set, whatever the
      // file holds (the compiler's head segment does the same).
      const head = c.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
      const headMatrix = this.matrix(head, c.vocabSize, c.hiddenSize);
      const finalNorm = this.vector('model.norm.weight', c.hiddenSize);
      this.headDispatch = headMatrix.quantized
        ? this.kernels.quantMatvec('lm_head', 'normed', { x: this.hidden, norm: finalNorm, a: headMatrix, out: this.logits })
        : this.kernels.matvec('lm_head', 'normed', { x: this.hidden, norm: finalNorm, a: headMatrix, outA: this.logits });
      this.argmaxDispatch = this.kernels.argmax(this.logits, this.choice, c.vocabSize);
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
    let pass = encoder.beginComputePass({ label: 'decode embed, layer 0 q/k/v' });
    encodeDispatch(pass, this.embedDispatch);
    for (let l = 0; l < this.layers.length; l++) {
      for (const d of this.layers[l].attentionInputs) encodeDispatch(pass, d);
      pass.end();
      this.attention.encodeLayer(encoder, { layer: l, q: this.q, k: this.k, v: this.v, out: this.attn, numTokens: 1, policy: opts.policy });
      pass = encoder.beginComputePass({ label: `decode layer ${l} o_proj, MLP` });
      for (const d of this.layers[l].attentionOutputs) encodeDispatch(pass, d);
    }
    encodeDispatch(pass, this.headDispatch);
    if (opts.greedy) encodeDispatch(pass, this.argmaxDispatch);
    pass.end();
  }

  /** Frees the decoder's own buffers (not the weights, not the attention). */
  destroy(): void {
    for (const b of this.owned) b.destroy();
    this.owned.length = 0;
    this.kernels.destroy();
  }

  private layer(l: number): LayerDispatches {
    const c = this.config;
    const D = c.hiddenSize;
    const F = c.intermediateSize;
    const qDim = c.numHeads * c.headDim;
    const kvDim = c.numKvHeads * c.headDim;
    const name = (suffix: string) => layerWeight(l, suffix);
    const k = this.kernels;
    const inputNorm = this.vector(name('input_layernorm.weight'), D);
    if (this.weights.get(name('self_attn.q_proj.weight')).quantized) return this.quantizedLayer(l, inputNorm);
    const attentionInputs: Dispatch[] = [
      k.matvec(`layer ${l} q`, 'normed', {
        x: this.hidden, norm: inputNorm, a: this.matrix(name('self_attn.q_proj.weight'), qDim, D), biasA: this.bias(name('self_attn.q_proj.bias'), qDim), outA: this.q,
      }),
      k.matvec(`layer ${l} k v`, 'normedPair', {
        x: this.hidden, norm: inputNorm,
        a: this.matrix(name('self_attn.k_proj.weight'), kvDim, D), biasA: this.bias(name('self_attn.k_proj.bias'), kvDim), outA: this.k,
        b: this.matrix(name('self_attn.v_proj.weight'), kvDim, D), biasB: this.bias(name('self_attn.v_proj.bias'), kvDim), outB: this.v,
      }),
    ];
    if (c.qkNorm) {
      attentionInputs.push(k.headNorm(`layer ${l} qk norm`, c, this.q, this.k,
        this.vector(name('self_attn.q_norm.weight'), c.headDim), this.vector(name('self_attn.k_norm.weight'), c.headDim)));
    }
    const attentionOutputs: Dispatch[] = [
      k.matvec(`layer ${l} o`, 'residual', {
        x: this.attn, a: this.matrix(name('self_attn.o_proj.weight'), D, qDim), biasA: this.bias(name('self_attn.o_proj.bias'), D), outA: this.hidden,
      }),
      k.matvec(`layer ${l} gate up`, 'normedGated', {
        x: this.hidden, norm: this.vector(name('post_attention_layernorm.weight'), D),
        a: this.matrix(name('mlp.gate_proj.weight'), F, D), biasA: this.bias(name('mlp.gate_proj.bias'), F),
        b: this.matrix(name('mlp.up_proj.weight'), F, D), biasB: this.bias(name('mlp.up_proj.bias'), F), outA: this.act,
      }),
      k.matvec(`layer ${l} down`, 'residual', {
        x: this.act, a: this.matrix(name('mlp.down_proj.weight'), D, F), biasA: this.bias(name('mlp.down_proj.bias'), D), outA: this.hidden,
      }),
    ];
    return { attentionInputs, attentionOutputs };
  }

  /** One layer over quantized matrices: 7 dispatches (see the header). */
  private quantizedLayer(l: number, inputNorm: GPUBuffer): LayerDispatches {
    const c = this.config;
    const D = c.hiddenSize;
    const F = c.intermediateSize;
    const qDim = c.numHeads * c.headDim;
    const kvDim = c.numKvHeads * c.headDim;
    const name = (suffix: string) => layerWeight(l, suffix);
    const k = this.kernels;
    const normed = (p: 'q' | 'k' | 'v', rows: number, out: GPUBuffer) => k.quantMatvec(`layer ${l} ${p}`, 'normed', {
      x: this.hidden, norm: inputNorm, a: this.quantizedMatrix(name(`self_attn.${p}_proj.weight`), rows, D), bias: this.bias(name(`self_attn.${p}_proj.bias`), rows), out,
    });
    const attentionInputs: Dispatch[] = [normed('q', qDim, this.q), normed('k', kvDim, this.k), normed('v', kvDim, this.v)];
    if (c.qkNorm) {
      attentionInputs.push(k.headNorm(`layer ${l} qk norm`, c, this.q, this.k,
        this.vector(name('self_attn.q_norm.weight'), c.headDim), this.vector(name('self_attn.k_norm.weight'), c.headDim)));
    }
    const postNorm = this.vector(name('post_attention_layernorm.weight'), D);
    const up = this.up as GPUBuffer;
    const attentionOutputs: Dispatch[] = [
      k.quantMatvec(`layer ${l} o`, 'residual', {
        x: this.attn, a: this.quantizedMatrix(name('self_attn.o_proj.weight'), D, qDim), bias: this.bias(name('self_attn.o_proj.bias'), D), out: this.hidden,
      }),
      k.quantMatvec(`layer ${l} gate`, 'normed', {
        x: this.hidden, norm: postNorm, a: this.quantizedMatrix(name('mlp.gate_proj.weight'), F, D), bias: this.bias(name('mlp.gate_proj.bias'), F), out: this.act,
      }),
      k.quantMatvec(`layer ${l} up`, 'normed', {
        x: this.hidden, norm: postNorm, a: this.quantizedMatrix(name('mlp.up_proj.weight'), F, D), bias: this.bias(name('mlp.up_proj.bias'), F), out: up,
      }),
      k.quantMatvec(`layer ${l} down`, 'gated', {
        x: this.act, x2: up, a: this.quantizedMatrix(name('mlp.down_proj.weight'), D, F), bias: this.bias(name('mlp.down_proj.bias'), D), out: this.hidden,
      }),
    ];
    return { attentionInputs, attentionOutputs };
  }

  private quantizedMatrix(name: string, out: number, inFeatures: number): MatrixBuffer {
    const m = this.matrix(name, out, inFeatures);
    if (!m.quantized) throw new InvalidArgumentError('weights', `${name} is f32 while the model's other linear weights are quantized`);
    return m;
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

  /** A linear layer's bias when the checkpoint has one (q/k/v: qwen2 and attention_bias; o_proj: attention_bias). */
  private bias(name: string, length: number): GPUBuffer | null {
    return this.weights.has(name) ? this.vector(name, length) : null;
  }
}
