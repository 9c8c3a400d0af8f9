// CPU reference of paged dense attention (RoPE, cache append, causal GQA softmax): the oracle of the GPU kernels.
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

/** The cached tokens of one sequence: per layer and KV head, rotated keys, values and true positions. */
export class ReferenceKVCache {
  private readonly heads: HeadCache[][];

  constructor(readonly numLayers: number, readonly numKvHeads: number) {
    this.heads = Array.from({ length: numLayers }, () => Array.from({ length: numKvHeads }, () => ({ keys: [], values: [], positions: [] })));
  }

  head(layer: number, kvHead: number): Readonly<HeadCache> {
    return this.heads[layer][kvHead];
  }

  append(layer: number, kvHead: number, key: Float32Array, value: Float32Array, position: number): void {
    const h = this.heads[layer][kvHead];
    h.keys.push(key);
    h.values.push(value);
    h.positions.push(position);
  }

  /** An independent copy (the CPU side of PagedKVCache.fork). */
  fork(): ReferenceKVCache {
    const copy = new ReferenceKVCache(this.numLayers, this.numKvHeads);
    for (let l = 0; l < this.numLayers; l++) {
      for (let g = 0; g < this.numKvHeads; g++) {
        const h = this.heads[l][g];
        copy.heads[l][g] = { keys: [...h.keys], values: [...h.values], positions: [...h.positions] };
      }
    }
    return copy;
  }
}

/**
 * Appends the step's rotated keys and values at `layer`, then returns out [n][H*d]: for query token t at position
 * startPosition + t and head h, softmax(q.k / sqrt(d)) over the cached tokens of KV head h / (H/G) whose position is
 * at most its own. Sums in f64.
 */
export function referenceAttention(cache: ReferenceKVCache, layer: number, shape: ReferenceAttentionShape, input: ReferenceStepInput): Float32Array {
  const { numHeads: H, numKvHeads: G, headDim: d, ropeLayout } = shape;
  const { numTokens: n, startPosition, cos, sin } = input;
  const group = H / G;
  for (let t = 0; t < n; t++) {
    for (let g = 0; g < G; g++) {
      const key = input.k.slice(t * G * d + g * d, t * G * d + (g + 1) * d);
      applyRope(key, 0, d, ropeLayout, cos, sin, t);
      cache.append(layer, g, key, input.v.slice(t * G * d + g * d, t * G * d + (g + 1) * d), startPosition + t);
    }
  }
  const out = new Float32Array(n * H * d);
  const scale = 1 / Math.sqrt(d);
  for (let t = 0; t < n; t++) {
    const position = startPosition + t;
    for (let h = 0; h < H; h++) {
      const q = input.q.slice(t * H * d + h * d, t * H * d + (h + 1) * d);
      applyRope(q, 0, d, ropeLayout, cos, sin, t);
      const { keys, values, positions } = cache.head(layer, Math.floor(h / group));
      const scores: number[] = [];
      let max = -Infinity;
      for (let j = 0; j < keys.length; j++) {
        if (positions[j] > position) {
          scores.push(-Infinity);
          continue;
        }
        let dot = 0;
        for (let i = 0; i < d; i++) dot += q[i] * keys[j][i];
        scores.push(dot * scale);
        max = Math.max(max, dot * scale);
      }
      let sum = 0;
      const acc = new Float64Array(d);
      for (let j = 0; j < keys.length; j++) {
        if (scores[j] === -Infinity) continue;
        const p = Math.exp(scores[j] - max);
        sum += p;
        for (let i = 0; i < d; i++) acc[i] += p * values[j][i];
      }
      for (let i = 0; i < d; i++) out[t * H * d + h * d + i] = acc[i] / sum;
    }
  }
  return out;
}
