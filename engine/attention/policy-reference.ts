// CPU reference forward under any attention policy (issue 16): a plain f32 forward (engine/reference's arithmetic)
// whose decode steps read only what the policy's CPU selection picks, so every policy's answers can be checked
// without a GPU. The prompt is prefilled once, densely, in one chunk (what the GPU path does with a prefill chunk as
// long as the prompt); `fork` then gives each policy its own copy of that cache, so a grid pays one prefill per item.
import { InvalidArgumentError } from '../errors/index.ts';
import { roundToKvDtype, type KvDtype } from '../kv/index.ts';
import { ropeInverseFrequencies, ropeTable, type ModelConfig, type WeightStore } from '../model/index.ts';
import {
  attentionInputs, attentionOutputAndMlp, matmul, referenceWeights, rmsNormRows, type ReferenceLayerWeights, type ReferenceLinear,
} from '../reference/index.ts';
import type { EvictingHead } from './evicting-reference.ts';

/** What a policy sees of one (layer, KV head) at a decode step. */
export interface ReferenceDecodeContext {
  readonly layer: number;
  readonly kvHead: number;
  /** Decode steps this sequence took before this one. */
  readonly step: number;
  /** This step's rotated queries of the group's query heads, [d] each. */
  readonly queries: readonly Float32Array[];
  /** This step's queries of every head, not rotated, [H * d] (Recycled Attention's similarity test). */
  readonly query: Float32Array;
  readonly scale: number;
}

/**
 * A policy's CPU selection as this forward calls it. One object serves one sequence (fork copies it with the cache).
 * Slots are indices into head.positions; the newest slot (this step's own token) is always read.
 */
export interface ReferencePolicy {
  readonly name: string;
  /** Once after the prefill: `columnSums(a)` gives the prefill's probability column sums of the head (summed over the
   * group's query heads), row i of n weighted a^(n-1-i). Evicting policies score and keep here; others build metadata. */
  afterPrefill?(head: EvictingHead, layer: number, kvHead: number, columnSums: (decay: number) => Float64Array): void;
  /** Slots a decode step reads at (layer, KV head), ascending, or null for every slot. */
  plan?(head: EvictingHead, ctx: ReferenceDecodeContext): readonly number[] | null;
  /** After a decode step's attention: the probability each slot got (0 where not read), summed over the group. */
  observe?(head: EvictingHead, ctx: ReferenceDecodeContext, probabilities: Float64Array): void;
  /** After every layer of a step (and after the prefill): the slots to keep, ascending (evicting policies only). */
  keep?(head: EvictingHead, layer: number): number[];
  /** Row-weight bases the prefill must provide to afterPrefill (A2SF's forgetting factors); [1] when absent. */
  prefillDecays?(): readonly number[];
  /** An independent copy of the policy's state, for a forked sequence. */
  fork(): ReferencePolicy;
}

/** Dense attention: reads every slot. */
export const DENSE_REFERENCE: ReferencePolicy = { name: 'dense', fork: () => DENSE_REFERENCE };

/** Per (layer, KV head) the prefill's weighted column sums, by decay. */
type PrefillSums = Map<number, Float64Array[][]>;

export class PolicyReferenceModel {
  private readonly layers: ReferenceLayerWeights[];
  private readonly embed: Float32Array;
  private readonly finalNorm: Float32Array;
  private readonly lmHead: ReferenceLinear;
  private readonly inverseFrequencies: Float64Array;
  private heads: EvictingHead[][];
  private next = 0;
  private steps = 0;
  private prefillSums: PrefillSums | null = null;

  /** `kvDtype`: K and V stored as a page of that dtype holds them (f16: rounded), as the GPU cache does. */
  constructor(readonly config: ModelConfig, weights: WeightStore, private policy: ReferencePolicy = DENSE_REFERENCE, readonly kvDtype: KvDtype = 'f32') {
    const w = referenceWeights(config, weights);
    this.embed = w.embed;
    this.finalNorm = w.finalNorm;
    this.lmHead = w.lmHead;
    this.layers = w.layers;
    this.inverseFrequencies = ropeInverseFrequencies(config);
    this.heads = this.emptyHeads();
  }

  private emptyHeads(): EvictingHead[][] {
    return Array.from({ length: this.config.numLayers }, () => Array.from({ length: this.config.numKvHeads }, () => ({ positions: [], keys: [], values: [], scores: [] })));
  }

  get position(): number { return this.next; }
  get policyName(): string { return this.policy.name; }
  /** Slots (layer 0, KV head 0) holds: the same for every head under every policy. */
  get tokensInCache(): number { return this.heads[0][0].positions.length; }
  /** KV bytes the sequence holds at f32 (keys and values of every layer and KV head). */
  get kvBytes(): number {
    const c = this.config;
    return this.heads.reduce((s, layer) => s + layer.reduce((t, h) => t + h.positions.length, 0), 0) * c.headDim * 2 * 4;
  }
  head(layer: number, kvHead: number): Readonly<EvictingHead> { return this.heads[layer][kvHead]; }

  /**
   * Prefills `ids` (the first tokens of the sequence) densely in one chunk and returns the last row's logits. The
   * column sums for `decays` (besides what this model's policy asks for) are kept for the policies forked later.
   */
  prefill(ids: number[], decays: readonly number[] = []): Float32Array {
    if (this.next !== 0) throw new InvalidArgumentError('prefill', 'the reference forward prefills an empty sequence only (fork it to try policies on one prompt)');
    const all = new Set([1, ...decays, ...(this.policy.prefillDecays?.() ?? [])]);
    this.prefillSums = new Map([...all].map((a) => [a, this.heads.map((layer) => layer.map(() => new Float64Array(ids.length)))]));
    const logits = this.forward(ids, 'prefill');
    this.attach(this.policy);
    return logits;
  }

  /** One token after the prefilled ones; returns its logits. */
  decode(id: number): Float32Array {
    if (this.next === 0) throw new InvalidArgumentError('decode', 'prefill the prompt first');
    const logits = this.forward([id], 'decode');
    this.steps += 1;
    return logits;
  }

  /**
   * A copy of this sequence under `policy` (only right after the prefill: the policy's view of the prompt comes from
   * the prefill's statistics). Keys and values are shared (never written in place); slot lists are copied.
   */
  fork(policy: ReferencePolicy): PolicyReferenceModel {
    if (this.steps > 0 || !this.prefillSums) throw new InvalidArgumentError('fork', 'fork a prefilled sequence before its first decode step');
    if (this.policy !== DENSE_REFERENCE) throw new InvalidArgumentError('fork', 'fork the dense prefill (its cache holds every prompt token)');
    const copy = Object.create(PolicyReferenceModel.prototype) as PolicyReferenceModel;
    Object.assign(copy, this, {
      policy: policy.fork(),
      heads: this.heads.map((layer) => layer.map((h) => ({ positions: [...h.positions], keys: [...h.keys], values: [...h.values], scores: [...h.scores] }))),
    });
    copy.attach(copy.policy);
    return copy;
  }

  private attach(policy: ReferencePolicy): void {
    const sums = this.prefillSums as PrefillSums;
    this.heads.forEach((layer, l) => layer.forEach((head, g) => {
      policy.afterPrefill?.(head, l, g, (a) => {
        const s = sums.get(a);
        if (!s) throw new InvalidArgumentError('decay', `the prefill kept no column sums for decay ${a}; pass it to prefill()`);
        return s[l][g];
      });
    }));
    this.evict();
  }

  private evict(): void {
    if (!this.policy.keep) return;
    this.heads.forEach((layer, l) => layer.forEach((head) => {
      const slots = (this.policy.keep as (h: EvictingHead, l: number) => number[])(head, l);
      if (slots.length === head.positions.length) return;
      head.positions = slots.map((s) => head.positions[s]);
      head.keys = slots.map((s) => head.keys[s]);
      head.values = slots.map((s) => head.values[s]);
      head.scores = slots.map((s) => head.scores[s]);
    }));
  }

  private forward(ids: number[], phase: 'prefill' | 'decode'): Float32Array {
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
      const { q, k, v, rawQ } = attentionInputs(x, n, layer, c, cos, sin, phase === 'decode');
      for (let t = 0; t < n; t++) {
        for (let g = 0; g < c.numKvHeads; g++) {
          const off = (t * c.numKvHeads + g) * d;
          const cache = this.heads[l][g];
          cache.positions.push(start + t);
          cache.keys.push(roundToKvDtype(k.slice(off, off + d), this.kvDtype));
          cache.values.push(roundToKvDtype(v.slice(off, off + d), this.kvDtype));
          cache.scores.push(0);
        }
      }
      const attended = phase === 'prefill' ? this.prefillAttention(l, q, n) : this.decodeAttention(l, q, rawQ!);
      attentionOutputAndMlp(x, attended, n, layer, c);
    });
    this.next = start + n;
    if (phase === 'decode') this.evict();
    // Only the last row's logits: the prefill's other rows are never read by the eval.
    return matmul(rmsNormRows(x.subarray((n - 1) * h), this.finalNorm, h, c.rmsNormEps), 1, this.lmHead);
  }

  /** Causal attention of a prompt over itself (slot t = position t), accumulating the weighted column sums. */
  private prefillAttention(l: number, q: Float32Array, n: number): Float32Array {
    const c = this.config;
    const d = c.headDim;
    const group = c.numHeads / c.numKvHeads;
    const scale = 1 / Math.sqrt(d);
    const out = new Float32Array(n * c.numHeads * d);
    const sums = [...(this.prefillSums as PrefillSums).entries()];
    const p = new Float64Array(n);
    const acc = new Float64Array(d);
    for (let g = 0; g < c.numKvHeads; g++) {
      const { keys, values } = this.heads[l][g];
      const targets = sums.map(([a, s]) => ({ a, s: s[l][g] }));
      for (let t = 0; t < n; t++) {
        const weights = targets.map(({ a }) => a ** (n - 1 - t));
        for (let head = g * group; head < (g + 1) * group; head++) {
          const qOff = (t * c.numHeads + head) * d;
          let max = -Infinity;
          for (let j = 0; j <= t; j++) {
            const key = keys[j];
            let s = 0;
            for (let i = 0; i < d; i++) s += q[qOff + i] * key[i];
            p[j] = s * scale;
            if (p[j] > max) max = p[j];
          }
          let sum = 0;
          for (let j = 0; j <= t; j++) { p[j] = Math.exp(p[j] - max); sum += p[j]; }
          acc.fill(0);
          for (let j = 0; j <= t; j++) {
            const w = p[j] / sum;
            for (let k = 0; k < targets.length; k++) targets[k].s[j] += weights[k] * w;
            const value = values[j];
            for (let i = 0; i < d; i++) acc[i] += w * value[i];
          }
          for (let i = 0; i < d; i++) out[qOff + i] = acc[i];
        }
      }
    }
    return out;
  }

  /** One decode query per head over the slots the policy plans (the newest always among them). */
  private decodeAttention(l: number, q: Float32Array, raw: Float32Array): Float32Array {
    const c = this.config;
    const d = c.headDim;
    const group = c.numHeads / c.numKvHeads;
    const scale = 1 / Math.sqrt(d);
    const out = new Float32Array(c.numHeads * d);
    const acc = new Float64Array(d);
    for (let g = 0; g < c.numKvHeads; g++) {
      const head = this.heads[l][g];
      const slots = head.positions.length;
      const queries = Array.from({ length: group }, (_, i) => q.subarray((g * group + i) * d, (g * group + i + 1) * d));
      const ctx: ReferenceDecodeContext = { layer: l, kvHead: g, step: this.steps, queries, query: raw, scale };
      const planned = this.policy.plan?.(head, ctx) ?? null;
      const read = planned === null ? null : withNewest(planned, slots);
      const count = read === null ? slots : read.length;
      const probabilities = new Float64Array(slots);
      const p = new Float64Array(count);
      for (let i = 0; i < group; i++) {
        const query = queries[i];
        let max = -Infinity;
        for (let j = 0; j < count; j++) {
          const key = head.keys[read === null ? j : read[j]];
          let s = 0;
          for (let e = 0; e < d; e++) s += query[e] * key[e];
          p[j] = s * scale;
          if (p[j] > max) max = p[j];
        }
        let sum = 0;
        for (let j = 0; j < count; j++) { p[j] = Math.exp(p[j] - max); sum += p[j]; }
        acc.fill(0);
        for (let j = 0; j < count; j++) {
          const slot = read === null ? j : read[j];
          const w = p[j] / sum;
          probabilities[slot] += w;
          const value = head.values[slot];
          for (let e = 0; e < d; e++) acc[e] += w * value[e];
        }
        out.set(acc, (g * group + i) * d);
      }
      this.policy.observe?.(head, ctx, probabilities);
    }
    return out;
  }
}

/** The planned slots plus the newest one (this step's token), ascending, without duplicates. */
function withNewest(planned: readonly number[], slots: number): number[] {
  const newest = slots - 1;
  return planned.includes(newest) ? [...planned] : [...planned, newest];
}
