// The CPU reference forward: plain f32 Llama / Qwen2 / Qwen3 with dense attention and a growing KV cache; the GPU tests' oracle.
import { ContextFullError, InvalidArgumentError } from '../errors/index.ts';
import { applyRope, layerWeight, ropeInverseFrequencies, ropeTable, type ModelConfig, type WeightStore } from '../model/index.ts';

/** First KV cache allocation, in positions; it doubles as needed (a 32K-context config must not cost 32K up front). */
const INITIAL_KV_CAPACITY = 64;
/** Rows of x per matmul block: 16 rows of a 4096-wide x are 256 KiB, about an L2's worth (measured on this host). */
const MATMUL_ROW_BLOCK = 16;

interface Linear {
  /** Row-major [out, in], as HF stores it. */
  weight: Float32Array;
  bias: Float32Array | null;
  inFeatures: number;
  outFeatures: number;
}

interface Layer {
  inputNorm: Float32Array;
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  qNorm: Float32Array | null;
  kNorm: Float32Array | null;
  postAttentionNorm: Float32Array;
  gate: Linear;
  up: Linear;
  down: Linear;
  /** Cached keys and values, [capacity, numKvHeads * headDim] each, RoPE already applied to keys. */
  keys: Float32Array;
  values: Float32Array;
}

/**
 * Sees one layer's new queries and keys after RoPE (and qwen3's q/k norm), before attention: q [n][numHeads *
 * headDim], k [n][numKvHeads * headDim], each head's vector in the model's RoPE layout, exactly as the paged KV cache
 * stores keys. `start` is the position of the first of the n tokens. The arrays are the forward's own: read them, copy
 * what you keep. Calibration (engine/calibration) gathers its statistics this way.
 */
export type AttentionInputObserver = (layer: number, q: Float32Array, k: Float32Array, start: number, n: number) => void;

export interface ReferenceModelOptions {
  observer?: AttentionInputObserver;
}

export class ReferenceModel {
  private readonly layers: Layer[];
  private readonly embed: Float32Array;
  private readonly finalNorm: Float32Array;
  private readonly lmHead: Linear;
  private readonly inverseFrequencies: Float64Array;
  private capacity = 0;
  private cached = 0;
  private readonly observer: AttentionInputObserver | null;

  constructor(readonly config: ModelConfig, weights: WeightStore, options: ReferenceModelOptions = {}) {
    this.observer = options.observer ?? null;
    const c = config;
    const linear = (name: string, inFeatures: number, outFeatures: number): Linear => {
      const w = weights.get(`${name}.weight`);
      if (w.data.length !== inFeatures * outFeatures) {
        throw new InvalidArgumentError('weights', `${name}.weight has ${w.data.length} values, expected [${outFeatures}, ${inFeatures}]`);
      }
      const bias = weights.has(`${name}.bias`) ? weights.get(`${name}.bias`).data : null;
      return { weight: w.data, bias, inFeatures, outFeatures };
    };
    const q = c.numHeads * c.headDim;
    const kv = c.numKvHeads * c.headDim;
    this.embed = weights.get('model.embed_tokens.weight').data;
    this.finalNorm = weights.get('model.norm.weight').data;
    this.lmHead = c.tieWordEmbeddings && !weights.has('lm_head.weight')
      ? { weight: this.embed, bias: null, inFeatures: c.hiddenSize, outFeatures: c.vocabSize }
      : linear('lm_head', c.hiddenSize, c.vocabSize);
    this.layers = [];
    for (let i = 0; i < c.numLayers; i++) {
      const name = (suffix: string) => layerWeight(i, suffix);
      this.layers.push({
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
        keys: new Float32Array(0),
        values: new Float32Array(0),
      });
    }
    this.inverseFrequencies = ropeInverseFrequencies(c);
  }

  /** Tokens in the cache: the position the next token will take. */
  get position(): number {
    return this.cached;
  }

  reset(): void {
    this.cached = 0;
  }

  /** Runs `ids` after what is cached; returns logits [ids.length, vocab], one row per new position. */
  prefill(ids: number[]): Float32Array {
    return this.forward(ids);
  }

  /** One token after what is cached; returns logits [vocab]. */
  decode(id: number): Float32Array {
    return this.forward([id]);
  }

  private forward(ids: number[]): Float32Array {
    const c = this.config;
    const n = ids.length;
    if (n === 0) throw new InvalidArgumentError('ids', 'must not be empty');
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) {
        throw new InvalidArgumentError('ids', `token id ${id} is not an integer in [0, ${c.vocabSize})`);
      }
    }
    const start = this.cached;
    if (start + n > c.maxPositionEmbeddings) throw new ContextFullError(start + n, c.maxPositionEmbeddings);
    this.ensureCapacity(start + n);

    const h = c.hiddenSize;
    const d = c.headDim;
    const kvWidth = c.numKvHeads * d;
    const { cos, sin } = ropeTable(this.inverseFrequencies, start, n);

    // x: the residual stream [n, hidden]
    const x = new Float32Array(n * h);
    for (let t = 0; t < n; t++) x.set(this.embed.subarray(ids[t] * h, (ids[t] + 1) * h), t * h);

    for (const [index, layer] of this.layers.entries()) {
      const normed = rmsNormRows(x, layer.inputNorm, h, c.rmsNormEps);
      const q = matmul(normed, n, layer.q);
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
      this.observer?.(index, q, k, start, n);
      layer.keys.set(k, start * kvWidth);
      layer.values.set(v, start * kvWidth);
      const attended = this.attention(q, n, start, layer);
      addInPlace(x, matmul(attended, n, layer.o));

      const normed2 = rmsNormRows(x, layer.postAttentionNorm, h, c.rmsNormEps);
      const gate = matmul(normed2, n, layer.gate);
      const up = matmul(normed2, n, layer.up);
      for (let i = 0; i < gate.length; i++) {
        const g = gate[i];
        gate[i] = (g / (1 + Math.exp(-g))) * up[i]; // SwiGLU: silu(gate) * up
      }
      addInPlace(x, matmul(gate, n, layer.down));
    }
    this.cached = start + n;
    return matmul(rmsNormRows(x, this.finalNorm, h, c.rmsNormEps), n, this.lmHead);
  }

  /** Causal dense attention of n new queries over the cache [0, start + t]; returns [n, numHeads * headDim]. */
  private attention(q: Float32Array, n: number, start: number, layer: Layer): Float32Array {
    const c = this.config;
    const d = c.headDim;
    const kvWidth = c.numKvHeads * d;
    const group = c.numHeads / c.numKvHeads;
    const scale = 1 / Math.sqrt(d);
    const out = new Float32Array(n * c.numHeads * d);
    const scores = new Float64Array(start + n);
    const acc = new Float64Array(d);
    for (let t = 0; t < n; t++) {
      const visible = start + t + 1;
      for (let head = 0; head < c.numHeads; head++) {
        const qOff = (t * c.numHeads + head) * d;
        const kvOff = Math.floor(head / group) * d; // GQA: query heads [g*group, (g+1)*group) share KV head g
        let max = -Infinity;
        for (let p = 0; p < visible; p++) {
          const kOff = p * kvWidth + kvOff;
          let s = 0;
          for (let i = 0; i < d; i++) s += q[qOff + i] * layer.keys[kOff + i];
          s *= scale;
          scores[p] = s;
          if (s > max) max = s;
        }
        let sum = 0;
        for (let p = 0; p < visible; p++) {
          scores[p] = Math.exp(scores[p] - max);
          sum += scores[p];
        }
        acc.fill(0);
        for (let p = 0; p < visible; p++) {
          const w = scores[p] / sum;
          const vOff = p * kvWidth + kvOff;
          for (let i = 0; i < d; i++) acc[i] += w * layer.values[vOff + i];
        }
        for (let i = 0; i < d; i++) out[qOff + i] = acc[i];
      }
    }
    return out;
  }

  private ensureCapacity(positions: number): void {
    if (positions <= this.capacity) return;
    let capacity = Math.max(this.capacity, INITIAL_KV_CAPACITY);
    while (capacity < positions) capacity *= 2;
    capacity = Math.min(capacity, Math.max(positions, this.config.maxPositionEmbeddings));
    const kvWidth = this.config.numKvHeads * this.config.headDim;
    for (const layer of this.layers) {
      const keys = new Float32Array(capacity * kvWidth);
      const values = new Float32Array(capacity * kvWidth);
      keys.set(layer.keys.subarray(0, this.cached * kvWidth));
      values.set(layer.values.subarray(0, this.cached * kvWidth));
      layer.keys = keys;
      layer.values = values;
    }
    this.capacity = capacity;
  }
}

/**
 * Logits [ids.length, vocab] of a fresh sequence: one prefill, or ('decode') the first id prefilled and the rest
 * decoded one at a time.
 */
export function referenceLogits(config: ModelConfig, weights: WeightStore, ids: number[], mode: 'prefill' | 'decode'): Float32Array {
  const model = new ReferenceModel(config, weights);
  if (mode === 'prefill') return model.prefill(ids);
  const vocab = config.vocabSize;
  const out = new Float32Array(ids.length * vocab);
  out.set(model.prefill(ids.slice(0, 1)), 0);
  for (let i = 1; i < ids.length; i++) out.set(model.decode(ids[i]), i * vocab);
  return out;
}

/**
 * y = x W^T + b for n rows: x [n, in], W [out, in] -> [n, out]. Rows of x go in blocks that stay in cache while every
 * weight row passes over them once. Each dot product has one fixed summation order (dot(), in f64) whatever n is,
 * so a prefill row and the decode of the same token agree bit for bit.
 */
function matmul(x: Float32Array, n: number, layer: Linear): Float32Array {
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
function rmsNormRows(x: Float32Array, w: Float32Array, width: number, eps: number): Float32Array {
  const out = x.slice();
  for (let off = 0; off < x.length; off += width) rmsNormInPlace(out, off, width, w, eps);
  return out;
}

function rmsNormInPlace(v: Float32Array, off: number, width: number, w: Float32Array, eps: number): void {
  let sumSquares = 0;
  for (let i = 0; i < width; i++) sumSquares += v[off + i] * v[off + i];
  const inv = Math.fround(1 / Math.sqrt(Math.fround(sumSquares / width) + eps));
  for (let i = 0; i < width; i++) v[off + i] = w[i] * Math.fround(v[off + i] * inv);
}

function addInPlace(x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) x[i] += y[i];
}
