// The CPU reference's building blocks, shared by the dense forward (ReferenceModel) and engine/attention's evicting
// and policy references: the checkpoint's weights gathered per layer, the matmul with its one fixed summation order,
// HF's RMSNorm, residual adds, and a layer's two halves around its attention (one copy of the layer for all three).
import { InvalidArgumentError } from '../errors/index.ts';
import { applyRope, layerWeight, type ModelConfig, type WeightStore } from '../model/index.ts';

/** Rows of x per matmul block: 16 rows of a 4096-wide x are 256 KiB, about an L2's worth (measured on this host). */
const MATMUL_ROW_BLOCK = 16;

export interface ReferenceLinear {
  /** Row-major [out, in], as HF stores it. */
  weight: Float32Array;
  bias: Float32Array | null;
  inFeatures: number;
  outFeatures: number;
}

export interface ReferenceLayerWeights {
  inputNorm: Float32Array;
  q: ReferenceLinear;
  k: ReferenceLinear;
  v: ReferenceLinear;
  o: ReferenceLinear;
  qNorm: Float32Array | null;
  kNorm: Float32Array | null;
  postAttentionNorm: Float32Array;
  gate: ReferenceLinear;
  up: ReferenceLinear;
  down: ReferenceLinear;
}

export interface ReferenceWeights {
  embed: Float32Array;
  finalNorm: Float32Array;
  lmHead: ReferenceLinear;
  layers: ReferenceLayerWeights[];
}

/** The checkpoint's tensors by role; a projection whose size does not fit the config is an InvalidArgumentError. */
export function referenceWeights(config: ModelConfig, weights: WeightStore): ReferenceWeights {
  const c = config;
  const linear = (name: string, inFeatures: number, outFeatures: number): ReferenceLinear => {
    const w = weights.get(`${name}.weight`);
    if (w.data.length !== inFeatures * outFeatures) {
      throw new InvalidArgumentError('weights', `${name}.weight has ${w.data.length} values, expected [${outFeatures}, ${inFeatures}]`);
    }
    const bias = weights.has(`${name}.bias`) ? weights.get(`${name}.bias`).data : null;
    return { weight: w.data, bias, inFeatures, outFeatures };
  };
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const embed = weights.get('model.embed_tokens.weight').data;
  const lmHead = c.tieWordEmbeddings && !weights.has('lm_head.weight')
    ? { weight: embed, bias: null, inFeatures: c.hiddenSize, outFeatures: c.vocabSize }
    : linear('lm_head', c.hiddenSize, c.vocabSize);
  const layers = Array.from({ length: c.numLayers }, (_, i): ReferenceLayerWeights => {
    const name = (suffix: string) => layerWeight(i, suffix);
    return {
      inputNorm: weights.get(name('input_layernorm.weight')).data,
      q: linear(name('self_attn.q_proj'), c.hiddenSize, q),
      k: linear(name('self_attn.k_proj'), c.hiddenSize, kv),
      v: linear(name('self_attn.v_proj'), c.hiddenSize, kv),
      o: linear(name('self_attn.o_proj'), q, c.hiddenSize),
      qNorm: c.qkNorm ? weights.get(name('self_attn.q_norm.weight')).data : null,
      kNorm: c.qkNorm ? weights.get(name('self_attn.k_norm.weight')).data : null,
      postAttentionNorm: weights.get(name('post_attention_layernorm.weight')).data,
      gate: linear(name('mlp.gate_proj'), c.hiddenSize, c.intermediateSize),
      up: linear(name('mlp.up_proj'), c.hiddenSize, c.intermediateSize),
      down: linear(name('mlp.down_proj'), c.intermediateSize, c.hiddenSize),
    };
  });
  return { embed, finalNorm: weights.get('model.norm.weight').data, lmHead, layers };
}

/**
 * y = x W^T + b for n rows: x [n, in], W [out, in] -> [n, out]. Rows of x go in blocks that stay in cache while every
 * weight row passes over them once. Each dot product has one fixed summation order (dot(), in f64) whatever n is,
 * so a prefill row and the decode of the same token agree bit for bit.
 */
export function matmul(x: Float32Array, n: number, layer: ReferenceLinear): Float32Array {
  const { weight, bias, inFeatures: k, outFeatures: m } = layer;
  const y = new Float32Array(n * m);
  for (let t0 = 0; t0 < n; t0 += MATMUL_ROW_BLOCK) {
    const t1 = Math.min(n, t0 + MATMUL_ROW_BLOCK);
    for (let o = 0; o < m; o++) {
      const wOff = o * k;
      const b = bias ? bias[o] : 0;
      for (let t = t0; t < t1; t++) y[t * m + o] = dot(x, t * k, weight, wOff, k) + b;
    }
  }
  return y;
}

/** Sum of a[i] * b[i] in four interleaved f64 lanes: independent add chains run in parallel on the CPU. */
function dot(a: Float32Array, aOff: number, b: Float32Array, bOff: number, k: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let i = 0;
  for (; i + 4 <= k; i += 4) {
    s0 += a[aOff + i] * b[bOff + i];
    s1 += a[aOff + i + 1] * b[bOff + i + 1];
    s2 += a[aOff + i + 2] * b[bOff + i + 2];
    s3 += a[aOff + i + 3] * b[bOff + i + 3];
  }
  for (; i < k; i++) s0 += a[aOff + i] * b[bOff + i];
  return (s0 + s1) + (s2 + s3);
}

/** HF's LlamaRMSNorm on each row: w * (x * rsqrt(mean(x^2) + eps)), the normalized x rounded to f32 before the scale. */
export function rmsNormRows(x: Float32Array, w: Float32Array, width: number, eps: number): Float32Array {
  const out = x.slice();
  for (let off = 0; off < x.length; off += width) rmsNormInPlace(out, off, width, w, eps);
  return out;
}

export function rmsNormInPlace(v: Float32Array, off: number, width: number, w: Float32Array, eps: number): void {
  let sumSquares = 0;
  for (let i = 0; i < width; i++) sumSquares += v[off + i] * v[off + i];
  const inv = Math.fround(1 / Math.sqrt(Math.fround(sumSquares / width) + eps));
  for (let i = 0; i < width; i++) v[off + i] = w[i] * Math.fround(v[off + i] * inv);
}

export function addInPlace(x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) x[i] += y[i];
}

/** Attention inputs of one layer for rows x [n][hidden], and q as projected (before q norm and RoPE) when asked. */
export interface AttentionInputs { q: Float32Array; k: Float32Array; v: Float32Array; rawQ: Float32Array | null }

/**
 * A layer's first half for rows x [n][hidden]: q, k, v projections of RMSNorm(x), then per head qwen3's q/k norm and
 * RoPE at row t of the tables (cos, sin from ropeTable at the rows' first position). `rawQ` keeps q before both.
 */
export function attentionInputs(
  x: Float32Array, n: number, layer: ReferenceLayerWeights, c: ModelConfig, cos: Float32Array, sin: Float32Array, rawQ = false,
): AttentionInputs {
  const d = c.headDim;
  const normed = rmsNormRows(x, layer.inputNorm, c.hiddenSize, c.rmsNormEps);
  const q = matmul(normed, n, layer.q);
  const raw = rawQ ? q.slice() : null;
  const k = matmul(normed, n, layer.k);
  const v = matmul(normed, n, layer.v);
  for (let t = 0; t < n; t++) {
    for (let head = 0; head < c.numHeads; head++) {
      const off = (t * c.numHeads + head) * d;
      if (layer.qNorm) rmsNormInPlace(q, off, d, layer.qNorm, c.rmsNormEps);
      applyRope(q, off, d, c.ropeLayout, cos, sin, t);
    }
    for (let head = 0; head < c.numKvHeads; head++) {
      const off = (t * c.numKvHeads + head) * d;
      if (layer.kNorm) rmsNormInPlace(k, off, d, layer.kNorm, c.rmsNormEps);
      applyRope(k, off, d, c.ropeLayout, cos, sin, t);
    }
  }
  return { q, k, v, rawQ: raw };
}

/** A layer's second half, in place on x: x += o(attended), then x += down(silu(gate(m)) * up(m)) for m = RMSNorm(x) (SwiGLU). */
export function attentionOutputAndMlp(x: Float32Array, attended: Float32Array, n: number, layer: ReferenceLayerWeights, c: ModelConfig): void {
  addInPlace(x, matmul(attended, n, layer.o));
  const normed = rmsNormRows(x, layer.postAttentionNorm, c.hiddenSize, c.rmsNormEps);
  const gate = matmul(normed, n, layer.gate);
  const up = matmul(normed, n, layer.up);
  for (let i = 0; i < gate.length; i++) gate[i] = (gate[i] / (1 + Math.exp(-gate[i]))) * up[i];
  addInPlace(x, matmul(gate, n, layer.down));
}
