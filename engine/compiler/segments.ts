// The dense segments of a Llama-family decoder as ONNX graphs whose weights are graph inputs.
//
// Why weights are inputs (DESIGN.md, "Weights are uploaded once"): the engine uploads each weight to one GPU buffer
// and binds it to every session that needs it, so the dynamic-length prefill session and the static decode session
// share the same memory, and one session per segment kind serves every layer (the engine binds layer i's buffers).
// RoPE, the KV cache writes and attention are our own WGSL kernels, run between segments; no segment does them.
//
//   embed:  ids -> hidden = embed_tokens[ids]; q, k, v of layer 0
//   layer:  hidden, attn(i) -> h = hidden + o_proj(attn); h2 = h + mlp(norm(h)); q, k, v of layer i+1 from h2
//   head:   hidden, attn(L-1) -> same o_proj + MLP, then the final norm and the LM head -> logits
import { InvalidArgumentError, MissingTensorError } from '../errors/index.ts';
import { layerWeight, type ModelConfig } from '../model/index.ts';
import { GraphBuilder, OnnxDataType } from './graph-builder.ts';
import type { Dim } from './onnx-proto.ts';

export type SegmentKind = 'embed' | 'layer' | 'head';
export const SEGMENT_KINDS: readonly SegmentKind[] = ['embed', 'layer', 'head'];

/** Names of the activation tensors that flow between segments and our kernels. */
export const SEGMENT_TENSORS = {
  /** int32 [n] token ids (embed). */
  ids: 'ids',
  /** f32 [n, D] residual stream entering a layer/head segment. */
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

/** The symbolic token dimension of dynamic segments. */
export const DYNAMIC_TOKENS_DIM = 'n';

export interface SegmentShape {
  /** A fixed token count (static decode sessions, needed for graph capture) or 'dynamic' (symbolic dim "n"). */
  tokens: number | 'dynamic';
  /** Head only: compute the final norm and LM head for the last row only (logits [1, V]), as generation needs. */
  lastOnly?: boolean;
}

export interface SegmentTensorInfo {
  name: string;
  dataType: 'float32' | 'int32';
  dims: Dim[];
}

export interface SegmentWeightInput {
  /** Graph input name. */
  input: string;
  /** The Hugging Face weight to bind to it when the segment runs for layer `layer` (see segmentFeedNames). */
  weight(layer: number): string;
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
export function buildSegment(config: ModelConfig, kind: SegmentKind, shape: SegmentShape, weightNames: WeightPresence): SegmentGraph {
  checkConfig(config);
  if (!SEGMENT_KINDS.includes(kind)) throw new InvalidArgumentError('kind', `must be one of ${SEGMENT_KINDS.join(', ')}, got ${kind}`);
  if (shape.tokens !== 'dynamic' && (!Number.isSafeInteger(shape.tokens) || shape.tokens <= 0)) {
    throw new InvalidArgumentError('shape.tokens', `must be a positive integer or 'dynamic', got ${shape.tokens}`);
  }
  if (shape.lastOnly && kind !== 'head') throw new InvalidArgumentError('shape.lastOnly', `only the head segment has a lastOnly variant, not ${kind}`);

  const D = config.hiddenSize;
  const F = config.intermediateSize;
  const V = config.vocabSize;
  const qDim = config.numHeads * config.headDim;
  const kvDim = config.numKvHeads * config.headDim;
  const n: Dim = shape.tokens === 'dynamic' ? DYNAMIC_TOKENS_DIM : shape.tokens;
  const eps = config.rmsNormEps;
  // transformers ties lm_head to embed_tokens after loading when tie_word_embeddings is set, whatever the file holds.
  const tiedHead = config.tieWordEmbeddings;
  if (kind === 'head' && !tiedHead && !weightNames('lm_head.weight')) throw new MissingTensorError('checkpoint (untied embeddings)', 'lm_head.weight');

  const g = new GraphBuilder(`sieve_${config.architecture}_${kind}_${shape.tokens}${shape.lastOnly ? '_last' : ''}`);
  const tensors: Record<string, SegmentTensorInfo> = {};
  const inputs: string[] = [];
  const weightInputs: SegmentWeightInput[] = [];

  const activation = (name: string, dataType: 'float32' | 'int32', dims: Dim[]): string => {
    tensors[name] = { name, dataType, dims };
    inputs.push(name);
    return g.input(name, dataType === 'int32' ? OnnxDataType.INT32 : OnnxDataType.FLOAT, dims);
  };
  const weight = (input: string, dims: number[], hfName: (layer: number) => string): string => {
    tensors[input] = { name: input, dataType: 'float32', dims };
    weightInputs.push({ input, weight: hfName });
    inputs.push(input);
    return g.input(input, OnnxDataType.FLOAT, dims);
  };
  /** A weight of layer i (offset 0) or i + 1 (offset 1), named by its HF suffix. */
  const layerInput = (prefix: string, suffix: string, dims: number[], offset: number): string =>
    weight(prefix + suffix, dims, (i) => layerWeight(i + offset, suffix));
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
    const wq = layerInput(NEXT, 'self_attn.q_proj.weight', [qDim, D], offset);
    const wk = layerInput(NEXT, 'self_attn.k_proj.weight', [kvDim, D], offset);
    const wv = layerInput(NEXT, 'self_attn.v_proj.weight', [kvDim, D], offset);
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
      const q = g.linear(x, wq, bq);
      const k = g.linear(x, wk, bk);
      g.reshape(g.rmsNorm(g.reshape(q, [-1, config.numHeads, config.headDim]), qNorm, eps), [-1, qDim], SEGMENT_TENSORS.q);
      g.reshape(g.rmsNorm(g.reshape(k, [-1, config.numKvHeads, config.headDim]), kNorm, eps), [-1, kvDim], SEGMENT_TENSORS.k);
    } else {
      g.linear(x, wq, bq, SEGMENT_TENSORS.q);
      g.linear(x, wk, bk, SEGMENT_TENSORS.k);
    }
    g.linear(x, wv, bv, SEGMENT_TENSORS.v);
  };

  /** o_proj + residual, then the MLP block + residual, of layer i. */
  const finishLayer = (hidden: string, attn: string, out?: string): string => {
    const wo = layerInput(CURRENT, 'self_attn.o_proj.weight', [D, qDim], 0);
    const bo = optionalLayerInput(CURRENT, 'self_attn.o_proj.bias', [D], 0);
    const postNorm = layerInput(CURRENT, 'post_attention_layernorm.weight', [D], 0);
    const wGate = layerInput(CURRENT, 'mlp.gate_proj.weight', [F, D], 0);
    const wUp = layerInput(CURRENT, 'mlp.up_proj.weight', [F, D], 0);
    const wDown = layerInput(CURRENT, 'mlp.down_proj.weight', [D, F], 0);
    const bGate = optionalLayerInput(CURRENT, 'mlp.gate_proj.bias', [F], 0);
    const bUp = optionalLayerInput(CURRENT, 'mlp.up_proj.bias', [F], 0);
    const bDown = optionalLayerInput(CURRENT, 'mlp.down_proj.bias', [D], 0);

    const h = g.add(hidden, g.linear(attn, wo, bo));
    const x = g.rmsNorm(h, postNorm, eps);
    const mlp = g.linear(g.mul(g.silu(g.linear(x, wGate, bGate)), g.linear(x, wUp, bUp)), wDown, bDown);
    return g.add(h, mlp, out);
  };

  if (kind === 'embed') {
    const ids = activation(SEGMENT_TENSORS.ids, 'int32', [n]);
    const table = weight('embed_tokens.weight', [V, D], () => 'model.embed_tokens.weight');
    const hidden = g.gather(table, ids, SEGMENT_TENSORS.hiddenOut);
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
    const head = weight('lm_head.weight', [V, D], () => (tiedHead ? 'model.embed_tokens.weight' : 'lm_head.weight'));
    g.linear(g.rmsNorm(h2, finalNorm, eps), head, null, SEGMENT_TENSORS.logits);
  }
  if (kind !== 'head') {
    output(SEGMENT_TENSORS.q, [n, qDim]);
    output(SEGMENT_TENSORS.k, [n, kvDim]);
    output(SEGMENT_TENSORS.v, [n, kvDim]);
  } else {
    output(SEGMENT_TENSORS.logits, [shape.lastOnly ? 1 : n, V]);
  }

  const outputs = kind === 'head' ? [SEGMENT_TENSORS.logits] : [SEGMENT_TENSORS.hiddenOut, SEGMENT_TENSORS.q, SEGMENT_TENSORS.k, SEGMENT_TENSORS.v];
  return { kind, shape: { ...shape }, bytes: g.encode(), inputs, outputs, tensors, weightInputs, numLayers: config.numLayers };
}

/**
 * For each weight input of `graph`, the Hugging Face weight to bind when the segment runs at layer `layer`:
 *   embed: layer 0 (the only valid index): embed_tokens and layer 0's norm and q/k/v;
 *   layer: layer i in [0, L-2]: o_proj/MLP of layer i, norm and q/k/v of layer i+1;
 *   head:  layer L-1: o_proj/MLP of the last layer, model.norm, and lm_head (embed_tokens when tied, decided at build).
 */
export function segmentFeedNames(graph: SegmentGraph, layer: number): Record<string, string> {
  const L = graph.numLayers;
  const valid = graph.kind === 'embed' ? layer === 0 : graph.kind === 'layer' ? layer >= 0 && layer <= L - 2 : layer === L - 1;
  if (!Number.isInteger(layer) || !valid) {
    const range = graph.kind === 'embed' ? '0' : graph.kind === 'layer' ? `0..${L - 2}` : `${L - 1}`;
    throw new InvalidArgumentError('layer', `a ${graph.kind} segment of a ${L}-layer model runs at layer ${range}, not ${layer}`);
  }
  const feeds: Record<string, string> = {};
  for (const w of graph.weightInputs) feeds[w.input] = w.weight(layer);
  return feeds;
}
