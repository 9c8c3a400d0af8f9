// CPU reference of paged dense attention (RoPE, cache append, causal GQA softmax): the oracle of the GPU kernels.
import { roundToKvDtype, type KvDtype } from '../../kv/index.ts';
import { applyRope, type RopeLayout } from '../../model/index.ts';

export interface ReferenceAttentionShape {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  ropeLayout: RopeLayout;
}

/** One step's inputs, as the ORT segment produces them: q [n][H*d], k and v [n][G*d], not rotated. */
export interface ReferenceStepInput {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  numTokens: number;
  startPosition: number;
  /** RoPE table rows for the n positions, [n][d/2] each (engine/model ropeTable). */
  cos: Float32Array;
  sin: Float32Array;
}

interface HeadCache {
  keys: Float32Array[];
  values: Float32Array[];
  positions: number[];
}

/**
 * The cached tokens of one sequence: per layer and KV head, rotated keys, values and true positions, stored as a page
 * of `kvDtype` stores them (f16: rounded, roundToKvDtype).
 */
export class ReferenceKVCache {
  private readonly heads: HeadCache[][];

  constructor(readonly numLayers: number, readonly numKvHeads: number, readonly kvDtype: KvDtype = 'f32') {
    this.heads = Array.from({ length: numLayers }, () => Array.from({ length: numKvHeads }, () => ({ keys: [], values: [], positions: [] })));
  }

  head(layer: number, kvHead: number): Readonly<HeadCache> {
    return this.heads[layer][kvHead];
  }

  append(layer: number, kvHead: number, key: Float32Array, value: Float32Array, position: number): void {
    const h = this.heads[layer][kvHead];
    h.keys.push(roundToKvDtype(key, this.kvDtype));
    h.values.push(roundToKvDtype(value, this.kvDtype));
    h.positions.push(position);
  }

  /** An independent copy (the CPU side of PagedKVCache.fork). */
  fork(): ReferenceKVCache {
    const copy = new ReferenceKVCache(this.numLayers, this.numKvHeads, this.kvDtype);
    for (let l = 0; l < this.numLayers; l++) {
      for (let g = 0; g < this.numKvHeads; g++) {
        const h = this.heads[l][g];
        copy.heads[l][g] = { keys: [...h.keys], values: [...h.values], positions: [...h.positions] };
      }
    }
    return copy;
  }
}

/** Appends the step's rotated keys and values at `layer` to the cache. */
function appendStep(cache: ReferenceKVCache, layer: number, shape: ReferenceAttentionShape, input: ReferenceStepInput): void {
  const { numKvHeads: G, headDim: d, ropeLayout } = shape;
  const { numTokens: n, startPosition, cos, sin } = input;
  for (let t = 0; t < n; t++) {
    for (let g = 0; g < G; g++) {
      const key = input.k.slice(t * G * d + g * d, t * G * d + (g + 1) * d);
      applyRope(key, 0, d, ropeLayout, cos, sin, t);
      cache.append(layer, g, key, input.v.slice(t * G * d + g * d, t * G * d + (g + 1) * d), startPosition + t);
    }
  }
}

/**
 * The softmax probabilities of query token t (position startPosition + t) and head h over the cached slots of its
 * KV head at `layer` (0 where causally masked): [n][H] rows of length slots. Logits scaled by 1/sqrt(d), f64 sums.
 */
function stepProbabilities(cache: ReferenceKVCache, layer: number, shape: ReferenceAttentionShape, input: ReferenceStepInput): Float64Array[][] {
  const { numHeads: H, numKvHeads: G, headDim: d, ropeLayout } = shape;
  const { numTokens: n, startPosition, cos, sin } = input;
  const group = H / G;
  const scale = 1 / Math.sqrt(d);
  const rows: Float64Array[][] = [];
  for (let t = 0; t < n; t++) {
    const position = startPosition + t;
    const perHead: Float64Array[] = [];
    for (let h = 0; h < H; h++) {
      const q = input.q.slice(t * H * d + h * d, t * H * d + (h + 1) * d);
      applyRope(q, 0, d, ropeLayout, cos, sin, t);
      const { keys, positions } = cache.head(layer, Math.floor(h / group));
      const p = new Float64Array(keys.length).fill(-Infinity);
      let max = -Infinity;
      for (let j = 0; j < keys.length; j++) {
        if (positions[j] > position) continue;
        let dot = 0;
        for (let i = 0; i < d; i++) dot += q[i] * keys[j][i];
        p[j] = dot * scale;
        max = Math.max(max, p[j]);
      }
      let sum = 0;
      for (let j = 0; j < keys.length; j++) {
        p[j] = p[j] === -Infinity ? 0 : Math.exp(p[j] - max);
        sum += p[j];
      }
      for (let j = 0; j < keys.length; j++) p[j] /= sum;
      perHead.push(p);
    }
    rows.push(perHead);
  }
  return rows;
}

/**
 * Appends the step's rotated keys and values at `layer`, then returns out [n][H*d]: for query token t at position
 * startPosition + t and head h, softmax(q.k / sqrt(d)) over the cached tokens of KV head h / (H/G) whose position is
 * at most its own. Sums in f64.
 */
export function referenceAttention(cache: ReferenceKVCache, layer: number, shape: ReferenceAttentionShape, input: ReferenceStepInput): Float32Array {
  const { numHeads: H, numKvHeads: G, headDim: d } = shape;
  const n = input.numTokens;
  appendStep(cache, layer, shape, input);
  const probabilities = stepProbabilities(cache, layer, shape, input);
  const out = new Float32Array(n * H * d);
  for (let t = 0; t < n; t++) {
    for (let h = 0; h < H; h++) {
      const { values } = cache.head(layer, Math.floor(h / (H / G)));
      const p = probabilities[t][h];
      const acc = new Float64Array(d);
      for (let j = 0; j < values.length; j++) {
        if (p[j] === 0) continue;
        for (let i = 0; i < d; i++) acc[i] += p[j] * values[j][i];
      }
      for (let i = 0; i < d; i++) out[t * H * d + h * d + i] = acc[i];
    }
  }
  return out;
}

/**
 * The 'probability-column-sums' statistic of a step already appended (call after referenceAttention): per KV head g
 * and cached slot j, sum over the step's rows t weighted decay^(n-1-t) and over the query heads of g of P_h[t][j].
 */
export function referenceColumnSums(cache: ReferenceKVCache, layer: number, shape: ReferenceAttentionShape, input: ReferenceStepInput, decay = 1): Float64Array[] {
  const { numHeads: H, numKvHeads: G } = shape;
  const n = input.numTokens;
  const probabilities = stepProbabilities(cache, layer, shape, input);
  return Array.from({ length: G }, (_, g) => {
    const sums = new Float64Array(cache.head(layer, g).keys.length);
    for (let t = 0; t < n; t++) {
      const w = decay ** (n - 1 - t);
      for (let h = g * (H / G); h < (g + 1) * (H / G); h++) {
        const p = probabilities[t][h];
        for (let j = 0; j < sums.length; j++) sums[j] += w * p[j];
      }
    }
    return sums;
  });
}
