// Test helper: the segments' math in plain TypeScript (f64 accumulation), RoPE + causal attention for chaining
// segments into a whole forward, and a runner that feeds a segment session by HF weight name.
import * as ort from 'onnxruntime-web';
import { applyRope, layerWeight, ropeInverseFrequencies, ropeTable, type ModelConfig, type Tensor } from '../model/index.ts';
import { SEGMENT_TENSORS, segmentFeedNames, type SegmentGraph } from './index.ts';

export type WeightGetter = (hfName: string) => Tensor;

/** mulberry32: a tiny seeded PRNG so failures reproduce. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomArray(rand: () => number, length: number, scale = 1, offset = 0): Float32Array {
  return Float32Array.from({ length }, () => offset + scale * (2 * rand() - 1));
}

/** y[n, out] = x[n, in] @ W[out, in]^T (+ b). */
export function linear(x: Float32Array, n: number, W: Tensor, b: Tensor | null): Float32Array {
  const [out, inDim] = W.shape;
  const y = new Float32Array(n * out);
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < out; o++) {
      let s = b ? b.data[o] : 0;
      for (let k = 0; k < inDim; k++) s += x[r * inDim + k] * W.data[o * inDim + k];
      y[r * out + o] = s;
    }
  }
  return y;
}

/** RMSNorm of each row of length `dim`. */
export function rmsNorm(x: Float32Array, dim: number, w: Tensor, eps: number): Float32Array {
  const y = new Float32Array(x.length);
  for (let r = 0; r < x.length / dim; r++) {
    let ss = 0;
    for (let k = 0; k < dim; k++) ss += x[r * dim + k] * x[r * dim + k];
    const inv = 1 / Math.sqrt(ss / dim + eps);
    for (let k = 0; k < dim; k++) y[r * dim + k] = x[r * dim + k] * inv * w.data[k];
  }
  return y;
}

const maybe = (get: WeightGetter, has: (n: string) => boolean, name: string): Tensor | null => (has(name) ? get(name) : null);

export interface QKV { q: Float32Array; k: Float32Array; v: Float32Array }

export function attentionInputsMath(config: ModelConfig, get: WeightGetter, has: (n: string) => boolean, layer: number, hidden: Float32Array, n: number): QKV {
  const w = (s: string) => get(layerWeight(layer, s));
  const x = rmsNorm(hidden, config.hiddenSize, w('input_layernorm.weight'), config.rmsNormEps);
  let q = linear(x, n, w('self_attn.q_proj.weight'), maybe(get, has, layerWeight(layer, 'self_attn.q_proj.bias')));
  let k = linear(x, n, w('self_attn.k_proj.weight'), maybe(get, has, layerWeight(layer, 'self_attn.k_proj.bias')));
  const v = linear(x, n, w('self_attn.v_proj.weight'), maybe(get, has, layerWeight(layer, 'self_attn.v_proj.bias')));
  if (config.qkNorm) {
    q = rmsNorm(q, config.headDim, w('self_attn.q_norm.weight'), config.rmsNormEps);
    k = rmsNorm(k, config.headDim, w('self_attn.k_norm.weight'), config.rmsNormEps);
  }
  return { q, k, v };
}

/** o_proj + residual and MLP + residual of `layer`. */
export function finishLayerMath(config: ModelConfig, get: WeightGetter, has: (n: string) => boolean, layer: number, hidden: Float32Array, attn: Float32Array, n: number): Float32Array {
  const name = (s: string) => layerWeight(layer, s);
  const D = config.hiddenSize;
  const o = linear(attn, n, get(name('self_attn.o_proj.weight')), maybe(get, has, name('self_attn.o_proj.bias')));
  const h = hidden.map((x, i) => x + o[i]);
  const x = rmsNorm(h, D, get(name('post_attention_layernorm.weight')), config.rmsNormEps);
  const gate = linear(x, n, get(name('mlp.gate_proj.weight')), maybe(get, has, name('mlp.gate_proj.bias')));
  const up = linear(x, n, get(name('mlp.up_proj.weight')), maybe(get, has, name('mlp.up_proj.bias')));
  const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]);
  const down = linear(act, n, get(name('mlp.down_proj.weight')), maybe(get, has, name('mlp.down_proj.bias')));
  return h.map((x, i) => x + down[i]);
}

export function embedMath(config: ModelConfig, get: WeightGetter, has: (n: string) => boolean, ids: Int32Array): QKV & { hidden: Float32Array } {
  const D = config.hiddenSize;
  const table = get('model.embed_tokens.weight');
  const hidden = new Float32Array(ids.length * D);
  ids.forEach((id, r) => hidden.set(table.data.subarray(id * D, (id + 1) * D), r * D));
  return { hidden, ...attentionInputsMath(config, get, has, 0, hidden, ids.length) };
}

export function layerMath(config: ModelConfig, get: WeightGetter, has: (n: string) => boolean, layer: number, hidden: Float32Array, attn: Float32Array, n: number): QKV & { hidden: Float32Array } {
  const h2 = finishLayerMath(config, get, has, layer, hidden, attn, n);
  return { hidden: h2, ...attentionInputsMath(config, get, has, layer + 1, h2, n) };
}

export function headMath(config: ModelConfig, get: WeightGetter, has: (n: string) => boolean, hidden: Float32Array, attn: Float32Array, n: number): Float32Array {
  const h2 = finishLayerMath(config, get, has, config.numLayers - 1, hidden, attn, n);
  const x = rmsNorm(h2, config.hiddenSize, get('model.norm.weight'), config.rmsNormEps);
  const head = config.tieWordEmbeddings ? get('model.embed_tokens.weight') : get('lm_head.weight');
  return linear(x, n, head, null);
}

/** Causal GQA attention with RoPE at positions [start, start + n) over a growing cache (mutated: new k/v appended). */
export class TestAttention {
  private readonly invFreq: Float64Array;
  readonly keys: number[][] = []; // per position, kvDim values after RoPE
  readonly values: number[][] = [];

  constructor(private readonly config: ModelConfig) {
    this.invFreq = ropeInverseFrequencies(config);
  }

  /** Appends k/v of n new tokens and returns attention output [n, H*d]. */
  step(q: Float32Array, k: Float32Array, v: Float32Array, n: number): Float32Array {
    const { numHeads: H, numKvHeads: G, headDim: d, ropeLayout } = this.config;
    const start = this.keys.length;
    const { cos, sin } = ropeTable(this.invFreq, start, n);
    const qr = q.slice();
    const kr = k.slice();
    for (let t = 0; t < n; t++) {
      for (let h = 0; h < H; h++) applyRope(qr, (t * H + h) * d, d, ropeLayout, cos, sin, t);
      for (let h = 0; h < G; h++) applyRope(kr, (t * G + h) * d, d, ropeLayout, cos, sin, t);
      this.keys.push(Array.from(kr.subarray(t * G * d, (t + 1) * G * d)));
      this.values.push(Array.from(v.subarray(t * G * d, (t + 1) * G * d)));
    }
    const out = new Float32Array(n * H * d);
    const scale = 1 / Math.sqrt(d);
    for (let t = 0; t < n; t++) {
      const visible = start + t + 1;
      for (let h = 0; h < H; h++) {
        const g = Math.floor(h / (H / G));
        const scores = new Float64Array(visible);
        let max = -Infinity;
        for (let p = 0; p < visible; p++) {
          let s = 0;
          for (let j = 0; j < d; j++) s += qr[(t * H + h) * d + j] * this.keys[p][g * d + j];
          scores[p] = s * scale;
          max = Math.max(max, scores[p]);
        }
        let sum = 0;
        for (let p = 0; p < visible; p++) sum += (scores[p] = Math.exp(scores[p] - max));
        for (let j = 0; j < d; j++) {
          let acc = 0;
          for (let p = 0; p < visible; p++) acc += scores[p] * this.values[p][g * d + j];
          out[(t * H + h) * d + j] = acc / sum;
        }
      }
    }
    return out;
  }
}

/** Runs one segment session for layer `layer`, binding weights by HF name; returns outputs by name. */
export async function runSegment(
  session: ort.InferenceSession, graph: SegmentGraph, layer: number, get: WeightGetter,
  activations: { ids?: Int32Array; hidden?: Float32Array; attn?: Float32Array }, n: number,
): Promise<Record<string, Float32Array>> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [input, hfName] of Object.entries(segmentFeedNames(graph, layer))) {
    const t = get(hfName);
    feeds[input] = new ort.Tensor('float32', t.data, t.shape);
  }
  if (activations.ids) feeds[SEGMENT_TENSORS.ids] = new ort.Tensor('int32', activations.ids, [n]);
  if (activations.hidden) feeds[SEGMENT_TENSORS.hiddenIn] = new ort.Tensor('float32', activations.hidden, [n, activations.hidden.length / n]);
  if (activations.attn) feeds[SEGMENT_TENSORS.attn] = new ort.Tensor('float32', activations.attn, [n, activations.attn.length / n]);
  const out = await session.run(feeds);
  const result: Record<string, Float32Array> = {};
  for (const name of graph.outputs) result[name] = out[name].data as Float32Array;
  return result;
}

/** Largest |a - b| divided by max(1, largest |b|): a relative error robust to near-zero entries. */
export function scaledMaxError(actual: Float32Array, expected: Float32Array): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let err = 0;
  let scale = 1;
  for (let i = 0; i < expected.length; i++) {
    err = Math.max(err, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return Number.isNaN(err) || actual.some(Number.isNaN) ? Infinity : err / scale;
}
