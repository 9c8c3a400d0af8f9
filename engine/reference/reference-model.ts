// The CPU reference forward: plain f32 Llama / Qwen2 / Qwen3 with dense attention and a growing KV cache; the GPU tests' oracle.
import { ContextFullError, InvalidArgumentError } from '../errors/index.ts';
import { roundToKvDtype, type KvDtype } from '../kv/index.ts';
import { ropeInverseFrequencies, ropeTable, type ModelConfig, type WeightStore } from '../model/index.ts';
import { attentionInputs, attentionOutputAndMlp, matmul, referenceWeights, rmsNormRows, type ReferenceLayerWeights, type ReferenceLinear } from './layers.ts';

/** First KV cache allocation, in positions; it doubles as needed (a 32K-context config must not cost 32K up front). */
const INITIAL_KV_CAPACITY = 64;
interface Layer extends ReferenceLayerWeights {
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
  /** Keys and values cached as a KV page of this dtype holds them (f16: rounded); default f32. */
  kvDtype?: KvDtype;
}

export class ReferenceModel {
  private readonly layers: Layer[];
  private readonly embed: Float32Array;
  private readonly finalNorm: Float32Array;
  private readonly lmHead: ReferenceLinear;
  private readonly inverseFrequencies: Float64Array;
  private capacity = 0;
  private cached = 0;
  private readonly observer: AttentionInputObserver | null;
  private readonly kvDtype: KvDtype;

  constructor(readonly config: ModelConfig, weights: WeightStore, options: ReferenceModelOptions = {}) {
    this.observer = options.observer ?? null;
    this.kvDtype = options.kvDtype ?? 'f32';
    const w = referenceWeights(config, weights);
    this.embed = w.embed;
    this.finalNorm = w.finalNorm;
    this.lmHead = w.lmHead;
    this.layers = w.layers.map((layer) => ({ ...layer, keys: new Float32Array(0), values: new Float32Array(0) }));
    this.inverseFrequencies = ropeInverseFrequencies(config);
  }

  /** Tokens in the cache: the position the next token will take. */
  get position(): number {
    return this.cached;
  }

  reset(): void {
    this.cached = 0;
  }

  /** Keeps positions [0, n) (their keys and values are exact under dense attention); the next token takes n. */
  truncate(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.cached) throw new InvalidArgumentError('n', `must be an integer in [0, ${this.cached}]`);
    this.cached = n;
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
      const { q, k, v } = attentionInputs(x, n, layer, c, cos, sin);
      this.observer?.(index, q, k, start, n);
      layer.keys.set(roundToKvDtype(k, this.kvDtype), start * kvWidth);
      layer.values.set(roundToKvDtype(v, this.kvDtype), start * kvWidth);
      attentionOutputAndMlp(x, this.attention(q, n, start, layer), n, layer, c);
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
