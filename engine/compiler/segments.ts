// The dense segments of a Llama-family decoder as ONNX graphs whose weights are graph inputs.
//
// Why weights are inputs (DESIGN.md, "Weights are uploaded once"): the engine uploads each weight to one GPU buffer
// and binds it to every session that needs it, so ORT's prefill sessions and our WGSL decoder (engine/decode) share
// the same memory, and one session per segment kind serves every layer (the engine binds layer i's buffers). The
// segments serve prefill only: every one has a symbolic token count (decode runs on our WGSL, engine/runtime).
// RoPE, the KV cache writes and attention are our own WGSL kernels, run between segments; no segment does them.
//
//   embed:  ids -> hidden = embed_tokens[ids]; q, k, v of layer 0
//   layer:  hidden, attn(i) -> h = hidden + o_proj(attn); h2 = h + mlp(norm(h)); q, k, v of layer i+1 from h2
//   head:   hidden, attn(L-1) -> same o_proj + MLP, then the final norm and the LM head -> logits
//
// Quantized weights (options.quantization, engine/quant): every linear layer and the LM head become com.microsoft
// MatMulNBits over three inputs per weight (codes, scales, zero points when asymmetric). The embedding table is
// quantized too, and ORT's GatherBlockQuantized takes 4-bit tables only as constant initializers (its error text
// in 1.30: "uint8-packed 4-bit 'data' must be a constant initializer"), never as the graph inputs weights are
// here; so with quantization the embed segment takes the rows already gathered and dequantized by our kernel
// (engine/decode's embed kernel) as `hidden_in`, and passes them on as `hidden_out`.
import { InvalidArgumentError, MissingTensorError } from '../errors/index.ts';
import { layerWeight, type ModelConfig } from '../model/index.ts';
import { blobBytes, blocksPerRow, isQuantizedWeight, zeroPointBytesPerRow, type QuantizationSpec } from '../quant/index.ts';
import { GraphBuilder, OnnxDataType } from './graph-builder.ts';
import type { Dim } from './onnx-proto.ts';

export type SegmentKind = 'embed' | 'layer' | 'head';
export const SEGMENT_KINDS: readonly SegmentKind[] = ['embed', 'layer', 'head'];

/** Names of the activation tensors that flow between segments and our kernels. */
export const SEGMENT_TENSORS = {
  /** int32 [n] token ids (embed, f32 weights). */
  ids: 'ids',
  /** f32 [n, D] residual stream entering a layer/head segment (and the gathered embeddings of a quantized embed). */
  hiddenIn: 'hidden_in',
  /** f32 [n, H*d] attention output of the layer the segment finishes (before o_proj). */
  attn: 'attn',
  /** f32 [n, D] residual stream leaving an embed/layer segment. */
  hiddenOut: 'hidden_out',
  /** f32 [n, H*d], [n, G*d], [n, G*d]: projections of the next layer, before RoPE (qwen3: after its q/k norm). */
  q: 'q',
  k: 'k',
  v: 'v',
  /** f32 [n, V], or [1, V] with lastOnly. */
  logits: 'logits',
} as const;

/** The symbolic token dimension of every segment. */
export const DYNAMIC_TOKENS_DIM = 'n';

export interface SegmentShape {
  /** Head only: compute the final norm and LM head for the last row only (logits [1, V]), as generation needs. */
  lastOnly?: boolean;
}

export interface SegmentTensorInfo {
  name: string;
  dataType: 'float32' | 'int32' | 'uint8';
  dims: Dim[];
}

/** Which buffer of an uploaded weight an input takes: the tensor itself, or a quantized weight's scales / zero points. */
export type WeightPart = 'data' | 'scales' | 'zeroPoints';

export interface SegmentWeightInput {
  /** Graph input name. */
  input: string;
  /** The Hugging Face weight to bind to it when the segment runs for layer `layer` (see segmentFeedNames). */
  weight(layer: number): string;
  /** 'data' for f32 weights and quantized codes. */
  part: WeightPart;
}

export interface SegmentOptions {
  /** Weights that engine/quant's isQuantizedWeight names are block-quantized with this spec (null: all f32). */
  quantization?: QuantizationSpec | null;
}

export interface SegmentGraph {
  kind: SegmentKind;
  shape: SegmentShape;
  /** Serialized ModelProto. */
  bytes: Uint8Array;
  /** Every graph input (activations and weights), in graph order. */
  inputs: string[];
  outputs: string[];
  /** Type and dims of every input and output (dims use DYNAMIC_TOKENS_DIM for the token dimension). */
  tensors: Record<string, SegmentTensorInfo>;
  /** The inputs that take model weights, and which weight each takes. */
  weightInputs: SegmentWeightInput[];
  /** Number of decoder layers of the model it was built for (bounds the layer index). */
  numLayers: number;
  /** The quantization it was built for; an embed segment then takes `hidden_in` instead of `ids`. */
  quantization: QuantizationSpec | null;
}

interface QuantizedInputs {
  data: string;
  scales: string;
  zeroPoints: string | null;
}

/** A linear weight's graph inputs: one f32 tensor, or a quantized weight's parts. */
interface Matrix {
  f32: string | null;
  quantized: QuantizedInputs | null;
  dims: [number, number];
}

/** Which weights a checkpoint holds (e.g. `(name) => weights.has(name)`); decides the optional biases. */
export type WeightPresence = (hfName: string) => boolean;

/** Graph input names of weights: the HF suffix, prefixed by whose layer it is. */
const CURRENT = 'current.'; // layer i: its attention output comes in (o_proj, post-attention norm, MLP)
const NEXT = 'next.'; // the layer whose q, k, v the segment produces (embed: 0; layer: i + 1)

function checkConfig(config: ModelConfig): void {
  const dims: [keyof ModelConfig, number][] = [
    ['vocabSize', config.vocabSize], ['hiddenSize', config.hiddenSize], ['intermediateSize', config.intermediateSize],
    ['numLayers', config.numLayers], ['numHeads', config.numHeads], ['numKvHeads', config.numKvHeads], ['headDim', config.headDim],
  ];
  for (const [name, v] of dims) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new InvalidArgumentError(`config.${name}`, `must be a positive integer, got ${v}`);
  }
  if (config.numHeads % config.numKvHeads !== 0) {
    throw new InvalidArgumentError('config.numKvHeads', `${config.numKvHeads} does not divide numHeads ${config.numHeads}`);
  }
  if (!(config.rmsNormEps > 0)) throw new InvalidArgumentError('config.rmsNormEps', `must be positive, got ${config.rmsNormEps}`);
}

/** Builds one segment graph. */
export function buildSegment(config: ModelConfig, kind: SegmentKind, shape: SegmentShape, weightNames: WeightPresence, options: SegmentOptions = {}): SegmentGraph {
  const quant = options.quantization ?? null;
  checkConfig(config);
  if (!SEGMENT_KINDS.includes(kind)) throw new InvalidArgumentError('kind', `must be one of ${SEGMENT_KINDS.join(', ')}, got ${kind}`);
  if (shape.lastOnly && kind !== 'head') throw new InvalidArgumentError('shape.lastOnly', `only the head segment has a lastOnly variant, not ${kind}`);

  const D = config.hiddenSize;
  const F = config.intermediateSize;
  const V = config.vocabSize;
  const qDim = config.numHeads * config.headDim;
  const kvDim = config.numKvHeads * config.headDim;
  const n: Dim = DYNAMIC_TOKENS_DIM;
  const eps = config.rmsNormEps;
  // transformers ties lm_head to embed_tokens after loading when tie_word_embeddings is set, whatever the file holds.
  const tiedHead = config.tieWordEmbeddings;
  if (kind === 'head' && !tiedHead && !weightNames('lm_head.weight')) throw new MissingTensorError('checkpoint (untied embeddings)', 'lm_head.weight');

  const g = new GraphBuilder(`sieve_${config.architecture}_${kind}${shape.lastOnly ? '_last' : ''}`);
  const tensors: Record<string, SegmentTensorInfo> = {};
  const inputs: string[] = [];
  const weightInputs: SegmentWeightInput[] = [];

  const activation = (name: string, dataType: 'float32' | 'int32', dims: Dim[]): string => {
    tensors[name] = { name, dataType, dims };
    inputs.push(name);
    return g.input(name, dataType === 'int32' ? OnnxDataType.INT32 : OnnxDataType.FLOAT, dims);
  };
  const weightPart = (input: string, dataType: 'float32' | 'uint8', dims: number[], hfName: (layer: number) => string, part: WeightPart): string => {
    tensors[input] = { name: input, dataType, dims };
    weightInputs.push({ input, weight: hfName, part });
    inputs.push(input);
    return g.input(input, dataType === 'uint8' ? OnnxDataType.UINT8 : OnnxDataType.FLOAT, dims);
  };
  const weight = (input: string, dims: number[], hfName: (layer: number) => string): string => weightPart(input, 'float32', dims, hfName, 'data');
  /**
   * A linear weight [N, K]: one f32 input, or, quantized, MatMulNBits' B [N][n_blocks][blob], scales [N * n_blocks]
   * and (asymmetric) zero points [N * ceil(n_blocks * bits / 8)], named `<input>`, `<input>.scales`, `<input>.zero_points`.
   */
  const matrix = (input: string, dims: [number, number], hfName: (layer: number) => string): Matrix => {
    if (!quant || !isQuantizedWeight(hfName(0))) return { f32: weight(input, dims, hfName), quantized: null, dims };
    const [n, k] = dims;
    const blocks = blocksPerRow(k, quant);
    return {
      f32: null,
      dims,
      quantized: {
        data: weightPart(input, 'uint8', [n, blocks, blobBytes(quant)], hfName, 'data'),
        scales: weightPart(`${input}.scales`, 'float32', [n * blocks], hfName, 'scales'),
        zeroPoints: quant.symmetric ? null : weightPart(`${input}.zero_points`, 'uint8', [n * zeroPointBytesPerRow(blocks, quant.bits)], hfName, 'zeroPoints'),
      },
    };
  };
  const linear = (x: string, w: Matrix, b: string | null, out?: string): string => {
    if (w.f32 !== null) return g.linear(x, w.f32, b, out);
    const q = quant as QuantizationSpec;
    return g.matMulNBits(x, w.quantized as QuantizedInputs, { n: w.dims[0], k: w.dims[1], bits: q.bits, blockSize: q.blockSize }, b, out);
  };
  /** A weight of layer i (offset 0) or i + 1 (offset 1), named by its HF suffix. */
  const layerInput = (prefix: string, suffix: string, dims: number[], offset: number): string =>
    weight(prefix + suffix, dims, (i) => layerWeight(i + offset, suffix));
  const layerMatrix = (prefix: string, suffix: string, dims: [number, number], offset: number): Matrix =>
    matrix(prefix + suffix, dims, (i) => layerWeight(i + offset, suffix));
  /** An optional weight (biases): present when the checkpoint has it for layer 0 (all layers share one structure). */
  const optionalLayerInput = (prefix: string, suffix: string, dims: number[], offset: number): string | null =>
    weightNames(layerWeight(0, suffix)) ? layerInput(prefix, suffix, dims, offset) : null;
  const requireWeight = (suffix: string, why: string): void => {
    if (!weightNames(layerWeight(0, suffix))) throw new MissingTensorError(`checkpoint (${why})`, layerWeight(0, suffix));
  };
  const output = (name: string, dims: Dim[]): void => {
    tensors[name] = { name, dataType: 'float32', dims };
    g.output(name, OnnxDataType.FLOAT, dims);
  };

  /** input_layernorm + q/k/v projections of the next layer, from the residual stream `hidden`. */
  const attentionInputs = (hidden: string, offset: number): void => {
    const norm = layerInput(NEXT, 'input_layernorm.weight', [D], offset);
    const wq = layerMatrix(NEXT, 'self_attn.q_proj.weight', [qDim, D], offset);
    const wk = layerMatrix(NEXT, 'self_attn.k_proj.weight', [kvDim, D], offset);
    const wv = layerMatrix(NEXT, 'self_attn.v_proj.weight', [kvDim, D], offset);
    if (config.attentionBias) for (const p of ['q', 'k', 'v']) requireWeight(`self_attn.${p}_proj.bias`, 'config attention_bias');
    const bq = optionalLayerInput(NEXT, 'self_attn.q_proj.bias', [qDim], offset);
    const bk = optionalLayerInput(NEXT, 'self_attn.k_proj.bias', [kvDim], offset);
    const bv = optionalLayerInput(NEXT, 'self_attn.v_proj.bias', [kvDim], offset);
    let qNorm: string | null = null;
    let kNorm: string | null = null;
    if (config.qkNorm) {
      requireWeight('self_attn.q_norm.weight', 'config says qk norm');
      requireWeight('self_attn.k_norm.weight', 'config says qk norm');
      qNorm = layerInput(NEXT, 'self_attn.q_norm.weight', [config.headDim], offset);
      kNorm = layerInput(NEXT, 'self_attn.k_norm.weight', [config.headDim], offset);
    }

    const x = g.rmsNorm(hidden, norm, eps);
    if (qNorm && kNorm) {
      // qwen3: RMSNorm of each head over d, so view [n, heads, d] and back (RoPE comes after, in our kernels).
      const q = linear(x, wq, bq);
      const k = linear(x, wk, bk);
      g.reshape(g.rmsNorm(g.reshape(q, [-1, config.numHeads, config.headDim]), qNorm, eps), [-1, qDim], SEGMENT_TENSORS.q);
      g.reshape(g.rmsNorm(g.reshape(k, [-1, config.numKvHeads, config.headDim]), kNorm, eps), [-1, kvDim], SEGMENT_TENSORS.k);
    } else {
      linear(x, wq, bq, SEGMENT_TENSORS.q);
      linear(x, wk, bk, SEGMENT_TENSORS.k);
    }
    linear(x, wv, bv, SEGMENT_TENSORS.v);
  };

  /** o_proj + residual, then the MLP block + residual, of layer i. */
  const finishLayer = (hidden: string, attn: string, out?: string): string => {
    const wo = layerMatrix(CURRENT, 'self_attn.o_proj.weight', [D, qDim], 0);
    const bo = optionalLayerInput(CURRENT, 'self_attn.o_proj.bias', [D], 0);
    const postNorm = layerInput(CURRENT, 'post_attention_layernorm.weight', [D], 0);
    const wGate = layerMatrix(CURRENT, 'mlp.gate_proj.weight', [F, D], 0);
    const wUp = layerMatrix(CURRENT, 'mlp.up_proj.weight', [F, D], 0);
    const wDown = layerMatrix(CURRENT, 'mlp.down_proj.weight', [D, F], 0);
    const bGate = optionalLayerInput(CURRENT, 'mlp.gate_proj.bias', [F], 0);
    const bUp = optionalLayerInput(CURRENT, 'mlp.up_proj.bias', [F], 0);
    const bDown = optionalLayerInput(CURRENT, 'mlp.down_proj.bias', [D], 0);

    const h = g.add(hidden, linear(attn, wo, bo));
    const x = g.rmsNorm(h, postNorm, eps);
    const mlp = linear(g.mul(g.silu(linear(x, wGate, bGate)), linear(x, wUp, bUp)), wDown, bDown);
    return g.add(h, mlp, out);
  };

  if (kind === 'embed') {
    let hidden: string;
    if (quant) {
      hidden = g.identity(activation(SEGMENT_TENSORS.hiddenIn, 'float32', [n, D]), SEGMENT_TENSORS.hiddenOut);
    } else {
      const ids = activation(SEGMENT_TENSORS.ids, 'int32', [n]);
      const table = weight('embed_tokens.weight', [V, D], () => 'model.embed_tokens.weight');
      hidden = g.gather(table, ids, SEGMENT_TENSORS.hiddenOut);
    }
    attentionInputs(hidden, 0);
    output(SEGMENT_TENSORS.hiddenOut, [n, D]);
  } else if (kind === 'layer') {
    const hidden = activation(SEGMENT_TENSORS.hiddenIn, 'float32', [n, D]);
    const attn = activation(SEGMENT_TENSORS.attn, 'float32', [n, qDim]);
    const h2 = finishLayer(hidden, attn, SEGMENT_TENSORS.hiddenOut);
    attentionInputs(h2, 1);
    output(SEGMENT_TENSORS.hiddenOut, [n, D]);
  } else {
    let hidden = activation(SEGMENT_TENSORS.hiddenIn, 'float32', [n, D]);
    let attn = activation(SEGMENT_TENSORS.attn, 'float32', [n, qDim]);
    // Everything after attention is row-wise, so lastOnly can drop the other rows before o_proj, not just before
    // the LM head: a prefill chunk then pays for one row of o_proj + MLP + head instead of n.
    if (shape.lastOnly) {
      hidden = g.lastRow(hidden);
      attn = g.lastRow(attn);
    }
    const h2 = finishLayer(hidden, attn);
    const finalNorm = weight('norm.weight', [D], () => 'model.norm.weight');
    const head = matrix('lm_head.weight', [V, D], () => (tiedHead ? 'model.embed_tokens.weight' : 'lm_head.weight'));
    linear(g.rmsNorm(h2, finalNorm, eps), head, null, SEGMENT_TENSORS.logits);
  }
  if (kind !== 'head') {
    output(SEGMENT_TENSORS.q, [n, qDim]);
    output(SEGMENT_TENSORS.k, [n, kvDim]);
    output(SEGMENT_TENSORS.v, [n, kvDim]);
  } else {
    output(SEGMENT_TENSORS.logits, [shape.lastOnly ? 1 : n, V]);
  }

  const outputs = kind === 'head' ? [SEGMENT_TENSORS.logits] : [SEGMENT_TENSORS.hiddenOut, SEGMENT_TENSORS.q, SEGMENT_TENSORS.k, SEGMENT_TENSORS.v];
  return { kind, shape: { ...shape }, bytes: g.encode(), inputs, outputs, tensors, weightInputs, numLayers: config.numLayers, quantization: quant };
}

/**
 * For each weight input of `graph`, the Hugging Face weight to bind when the segment runs at layer `layer`:
 *   embed: layer 0 (the only valid index): embed_tokens and layer 0's norm and q/k/v;
 *   layer: layer i in [0, L-2]: o_proj/MLP of layer i, norm and q/k/v of layer i+1;
 *   head:  layer L-1: o_proj/MLP of the last layer, model.norm, and lm_head (embed_tokens when tied, decided at build).
 */
export function segmentFeedNames(graph: SegmentGraph, layer: number): Record<string, string> {
  const feeds: Record<string, string> = {};
  for (const f of segmentWeightFeeds(graph, layer)) feeds[f.input] = f.weight;
  return feeds;
}

/** segmentFeedNames with the part of each weight an input takes (codes, scales or zero points when quantized). */
export function segmentWeightFeeds(graph: SegmentGraph, layer: number): { input: string; weight: string; part: WeightPart }[] {
  const L = graph.numLayers;
  const valid = graph.kind === 'embed' ? layer === 0 : graph.kind === 'layer' ? layer >= 0 && layer <= L - 2 : layer === L - 1;
  if (!Number.isInteger(layer) || !valid) {
    const range = graph.kind === 'embed' ? '0' : graph.kind === 'layer' ? `0..${L - 2}` : `${L - 1}`;
    throw new InvalidArgumentError('layer', `a ${graph.kind} segment of a ${L}-layer model runs at layer ${range}, not ${layer}`);
  }
  return graph.weightInputs.map((w) => ({ input: w.input, weight: w.weight(layer), part: w.part }));
}
