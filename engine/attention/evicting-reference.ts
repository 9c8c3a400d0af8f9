// CPU reference of the evicting policies: the keep rule they share (sinks + top-scored + recent, ties by position)
// and a plain f32 forward whose KV cache evicts, so policy logits can be checked against dense and the GPU path.
import { InvalidArgumentError } from '../errors/index.ts';
import { DEFAULT_PREFILL_CHUNK } from './constants.ts';
import type { ReferencePolicy } from './policy-reference.ts';
import { ropeInverseFrequencies, ropeTable, type ModelConfig, type WeightStore } from '../model/index.ts';
import {
  attentionInputs, attentionOutputAndMlp, matmul, referenceWeights, rmsNormRows, type ReferenceLayerWeights, type ReferenceLinear,
} from '../reference/index.ts';

/** The cached tokens of one (layer, KV head): slot order is arbitrary, positions are the true ones. */
export interface EvictingHead {
  positions: number[];
  /** Rotated keys and values, [d] each. */
  keys: Float32Array[];
  values: Float32Array[];
  /** The policy's running score per slot (0 for policies without scores), in f64. */
  scores: number[];
}

/** A policy's CPU selection, as the evicting forward calls it. */
export interface ReferenceEvictionPolicy {
  readonly name: string;
  /** Tokens a (layer, KV head) holds at most after each step's eviction. */
  readonly budget: number;
  /**
   * After a step's attention at `layer`: rows[t][slot] is the probability query t of the step gave each slot of
   * `head` (slot order of head.positions, 0 where causally masked), summed over the query heads of the KV group.
   */
  observe(head: EvictingHead, layer: number, rows: readonly Float64Array[]): void;
  /** Slots to keep, ascending. */
  keep(head: EvictingHead, layer: number): number[];
  /** Base a of the prefill row weights at `layer` (A2SF's forgetting factor; 1 = plain column sums); none: no scores. */
  prefillDecay?(layer: number): number;
}

/**
 * An evicting policy for the CPU reference forward of every policy (policy-reference.ts): the prefill's weighted
 * column sums become the scores, then each step observes its probabilities and keeps the policy's slots.
 */
export function evictingReferencePolicy(policy: ReferenceEvictionPolicy, numLayers: number): ReferencePolicy {
  const decay = policy.prefillDecay?.bind(policy);
  const decays = decay ? [...new Set(Array.from({ length: numLayers }, (_, l) => decay(l)))] : [];
  const adapted: ReferencePolicy = {
    name: policy.name,
    prefillDecays: () => decays,
    afterPrefill(head, layer, _kvHead, columnSums) {
      if (decay) head.scores = Array.from(columnSums(decay(layer)));
    },
    observe(head, ctx, probabilities) { policy.observe(head, ctx.layer, [probabilities]); },
    keep: (head, layer) => policy.keep(head, layer),
    // Their state is the heads' scores, which the forked cache carries.
    fork: () => adapted,
  };
  return adapted;
}

/**
 * The keep rule of StreamingLLM, H2O and A2SF. With more than sinks + top + recent slots, keeps the `sinks` oldest
 * positions, the `recent` newest, and among the others the `top` with the highest score. Ties of score go to the
 * OLDER token (smaller position): sort key (score descending, position ascending). The GPU path must use the same key.
 * Returns the kept slot indices, ascending. `scores` may be null when top is 0.
 */
export function selectKeptSlots(
  positions: ArrayLike<number>, scores: ArrayLike<number> | null, sinks: number, top: number, recent: number,
): number[] {
  const n = positions.length;
  const all = Array.from({ length: n }, (_, i) => i);
  if (n <= sinks + top + recent) return all;
  const byPosition = all.sort((a, b) => positions[a] - positions[b]);
  const kept = [...byPosition.slice(0, sinks), ...byPosition.slice(n - recent)];
  if (top > 0) {
    if (!scores) throw new InvalidArgumentError('scores', 'a policy keeping top-scored tokens needs scores');
    const middle = byPosition.slice(sinks, n - recent);
    middle.sort((a, b) => (scores[b] - scores[a]) || (positions[a] - positions[b]));
    kept.push(...middle.slice(0, top));
  }
  return kept.sort((a, b) => a - b);
}

/** Keeps only `slots` (ascending) of a head, in place. */
export function compactHead(head: EvictingHead, slots: readonly number[]): void {
  head.positions = slots.map((s) => head.positions[s]);
  head.keys = slots.map((s) => head.keys[s]);
  head.values = slots.map((s) => head.values[s]);
  head.scores = slots.map((s) => head.scores[s]);
}

/**
 * The reference forward (same architectures and arithmetic as engine/reference's ReferenceModel) over an evicting
 * cache: each step appends its K/V, attends over the kept slots only, hands the policy the step's probability rows,
 * then evicts to the policy's budget. Positions keep counting past max_position_embeddings (RoPE is computed for any
 * position), as the GPU path does for evicting policies.
 *
 * Why not ReferenceModel itself: its attention and cache are private with no hook (reported); this duplicates its
 * few dense pieces (matmul, RMSNorm, SwiGLU) rather than reaching into it.
 */
export class EvictingReferenceModel {
  private readonly layers: ReferenceLayerWeights[];
  private readonly heads: EvictingHead[][];
  private readonly embed: Float32Array;
  private readonly finalNorm: Float32Array;
  private readonly lmHead: ReferenceLinear;
  private readonly inverseFrequencies: Float64Array;
  private next = 0;
  /** Prompt tokens per prefill step: the GPU path's `prefillChunk`, so both evict after the same chunks. */
  readonly prefillChunk: number;

  constructor(readonly config: ModelConfig, weights: WeightStore, readonly policy: ReferenceEvictionPolicy, options: { prefillChunk?: number } = {}) {
    const chunk = options.prefillChunk ?? DEFAULT_PREFILL_CHUNK;
    if (!Number.isInteger(chunk) || chunk < 1) throw new InvalidArgumentError('prefillChunk', `must be a positive integer, got ${chunk}`);
    this.prefillChunk = chunk;
    const w = referenceWeights(config, weights);
    this.embed = w.embed;
    this.finalNorm = w.finalNorm;
    this.lmHead = w.lmHead;
    this.layers = w.layers;
    this.heads = Array.from({ length: config.numLayers }, () => Array.from({ length: config.numKvHeads }, () => ({ positions: [], keys: [], values: [], scores: [] })));
    this.inverseFrequencies = ropeInverseFrequencies(config);
  }

  /** The position the next token takes (tokens seen so far). */
  get position(): number {
    return this.next;
  }

  /** The state of one (layer, KV head), for tests and for comparing with the GPU path. */
  head(layer: number, kvHead: number): Readonly<EvictingHead> {
    return this.heads[layer][kvHead];
  }

  /** Tokens each (layer, KV head) holds now (the same for all: every head evicts to the same budget). */
  get tokensInCache(): number {
    return this.heads[0][0].positions.length;
  }

  /**
   * Feeds `ids` in chunks of prefillChunk tokens, each a step that evicts after its last layer (as GpuModel's
   * chunked prefill does); returns the logits of every row.
   */
  prefill(ids: number[]): Float32Array {
    if (ids.length <= this.prefillChunk) return this.forward(ids);
    const out = new Float32Array(ids.length * this.config.vocabSize);
    for (let start = 0; start < ids.length; start += this.prefillChunk) {
      out.set(this.forward(ids.slice(start, start + this.prefillChunk)), start * this.config.vocabSize);
    }
    return out;
  }

  decode(id: number): Float32Array {
    return this.forward([id]);
  }

  private forward(ids: number[]): Float32Array {
    const c = this.config;
    const n = ids.length;
    if (n === 0) throw new InvalidArgumentError('ids', 'must not be empty');
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new InvalidArgumentError('ids', `token id ${id} is not an integer in [0, ${c.vocabSize})`);
    }
    const h = c.hiddenSize;
    const d = c.headDim;
    const start = this.next;
    const { cos, sin } = ropeTable(this.inverseFrequencies, start, n);
    const x = new Float32Array(n * h);
    for (let t = 0; t < n; t++) x.set(this.embed.subarray(ids[t] * h, (ids[t] + 1) * h), t * h);

    this.layers.forEach((layer, l) => {
      const { q, k, v } = attentionInputs(x, n, layer, c, cos, sin);
      for (let t = 0; t < n; t++) {
        for (let g = 0; g < c.numKvHeads; g++) {
          const off = (t * c.numKvHeads + g) * d;
          const cache = this.heads[l][g];
          cache.positions.push(start + t);
          cache.keys.push(k.slice(off, off + d));
          cache.values.push(v.slice(off, off + d));
          cache.scores.push(0);
        }
      }
      attentionOutputAndMlp(x, this.attention(l, q, n, start), n, layer, c);
    });
    this.next = start + n;
    // Eviction after all layers of the step, as the GPU path does (layers are independent caches, so the same).
    for (let l = 0; l < c.numLayers; l++) {
      for (const head of this.heads[l]) compactHead(head, this.policy.keep(head, l));
    }
    return matmul(rmsNormRows(x, this.finalNorm, h, c.rmsNormEps), n, this.lmHead);
  }

  /** Attention of the step's n queries over the kept slots at `layer`; hands the policy the group-summed rows. */
  private attention(l: number, q: Float32Array, n: number, start: number): Float32Array {
    const c = this.config;
    const d = c.headDim;
    const group = c.numHeads / c.numKvHeads;
    const scale = 1 / Math.sqrt(d);
    const out = new Float32Array(n * c.numHeads * d);
    for (let g = 0; g < c.numKvHeads; g++) {
      const cache = this.heads[l][g];
      const slots = cache.positions.length;
      const rows = Array.from({ length: n }, () => new Float64Array(slots));
      const p = new Float64Array(slots);
      const acc = new Float64Array(d);
      for (let t = 0; t < n; t++) {
        const position = start + t;
        for (let head = g * group; head < (g + 1) * group; head++) {
          const qOff = (t * c.numHeads + head) * d;
          let max = -Infinity;
          for (let j = 0; j < slots; j++) {
            if (cache.positions[j] > position) { p[j] = -Infinity; continue; }
            const key = cache.keys[j];
            let s = 0;
            for (let i = 0; i < d; i++) s += q[qOff + i] * key[i];
            p[j] = s * scale;
            if (p[j] > max) max = p[j];
          }
          let sum = 0;
          for (let j = 0; j < slots; j++) {
            p[j] = p[j] === -Infinity ? 0 : Math.exp(p[j] - max);
            sum += p[j];
          }
          acc.fill(0);
          for (let j = 0; j < slots; j++) {
            if (p[j] === 0) continue;
            const w = p[j] / sum;
            rows[t][j] += w;
            const value = cache.values[j];
            for (let i = 0; i < d; i++) acc[i] += w * value[i];
          }
          for (let i = 0; i < d; i++) out[qOff + i] = acc[i];
        }
      }
      this.policy.observe(cache, l, rows);
    }
    return out;
  }
}
