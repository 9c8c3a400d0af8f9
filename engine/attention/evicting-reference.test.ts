// The evicting reference forward on stories260K (GQA, 5 layers): equal to dense when nothing is evicted, bounded at
// the budget when it is, and past max_position_embeddings; plus the shared keep rule.
import { beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { loadModelFromPath, type ModelConfig, type WeightStore } from '../model/node.ts';
import { ReferenceModel } from '../reference/index.ts';
import { EvictingReferenceModel, selectKeptSlots, type ReferenceEvictionPolicy } from './evicting-reference.ts';
import { createReferenceEvictionPolicy } from './reference-policy.ts';
import { parseAttentionSpec } from './spec.ts';

/** ATTENTION.md: a policy whose budget covers the sequence must equal dense within 1e-4. */
const DENSE_TOLERANCE = 1e-4;
const MODEL = fileURLToPath(new URL('../../../shared/models/stories260K/stories260K.gguf', import.meta.url));

let config: ModelConfig;
let weights: WeightStore;
beforeAll(async () => {
  ({ config, weights } = await loadModelFromPath(MODEL));
});

function policyFor(text: string, numLayers: number): ReferenceEvictionPolicy {
  const policy = createReferenceEvictionPolicy(parseAttentionSpec(text), numLayers);
  if (!policy) throw new Error(`not an evicting policy: ${text}`);
  return policy;
}

const ids = Array.from({ length: 40 }, (_, i) => 3 + ((i * 131) % 500));

/** Logits of every step: two prefill chunks (12 + 8 tokens), then 20 decode steps. */
function run(model: { prefill(ids: number[]): Float32Array; decode(id: number): Float32Array }, afterStep?: (seen: number) => void): Float32Array[] {
  const out = [model.prefill(ids.slice(0, 12))];
  afterStep?.(12);
  out.push(model.prefill(ids.slice(12, 20)));
  afterStep?.(20);
  for (let i = 20; i < ids.length; i++) {
    out.push(model.decode(ids[i]));
    afterStep?.(i + 1);
  }
  return out;
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((row, s) => row.forEach((v, i) => { m = Math.max(m, Math.abs(v - b[s][i])); }));
  return m;
}

describe('EvictingReferenceModel', () => {
  const full = ['streaming:sinks=4,window=36', 'h2o:budget=40', 'a2sf:budget=40,forgetting=0.9', 'a2sf:budget=64,sinks=0'];
  it.each(full)('%s with a budget of at least the sequence length gives dense logits within 1e-4', (text) => {
    const dense = run(new ReferenceModel(config, weights));
    const evicting = new EvictingReferenceModel(config, weights, policyFor(text, config.numLayers));
    const got = run(evicting, (seen) => expect(evicting.tokensInCache).toBe(seen));
    expect(maxDiff(got, dense)).toBeLessThan(DENSE_TOLERANCE);
  });

  const bounded = ['streaming:budget=16', 'h2o:budget=16', 'a2sf:budget=16,forgetting=0.95'];
  it.each(bounded)('%s holds min(seen, 16) tokens per layer and KV head, always the sinks and the newest', (text) => {
    const policy = policyFor(text, config.numLayers);
    const model = new EvictingReferenceModel(config, weights, policy);
    const got = run(model, (seen) => {
      for (let l = 0; l < config.numLayers; l++) {
        for (let g = 0; g < config.numKvHeads; g++) {
          const positions = [...model.head(l, g).positions].sort((a, b) => a - b);
          expect(positions).toHaveLength(Math.min(seen, 16));
          if (seen > 16) {
            expect(positions.slice(0, 4)).toEqual([0, 1, 2, 3]);
            expect(positions.at(-1)).toBe(seen - 1);
          }
        }
      }
    });
    // Evicting changed the model's output (the reference is not secretly dense).
    expect(maxDiff(got, run(new ReferenceModel(config, weights)))).toBeGreaterThan(1e-3);
  });

  it('streaming keeps exactly the 4 sinks and the newest window', () => {
    const model = new EvictingReferenceModel(config, weights, policyFor('streaming:sinks=4,window=12', config.numLayers));
    run(model);
    const want = [0, 1, 2, 3, ...Array.from({ length: 12 }, (_, i) => ids.length - 12 + i)];
    for (let l = 0; l < config.numLayers; l++) {
      for (let g = 0; g < config.numKvHeads; g++) expect([...model.head(l, g).positions].sort((a, b) => a - b)).toEqual(want);
    }
  });

  it('H2O selects per KV head: heads of one layer keep different tokens', () => {
    const model = new EvictingReferenceModel(config, weights, policyFor('h2o:heavy=6,recent=6,sinks=4', config.numLayers));
    run(model);
    const sets = new Set<string>();
    for (let l = 0; l < config.numLayers; l++) {
      for (let g = 0; g < config.numKvHeads; g++) sets.add([...model.head(l, g).positions].sort((a, b) => a - b).join(','));
    }
    expect(sets.size).toBeGreaterThan(1);
  });

  it('scores hold the attention mass received: group x queries for H2O, a geometric sum for A2SF (no eviction)', () => {
    const group = config.numHeads / config.numKvHeads;
    const seen = ids.length;
    const a = 0.9;
    const h2o = new EvictingReferenceModel(config, weights, policyFor('h2o:budget=64', config.numLayers));
    const a2sf = new EvictingReferenceModel(config, weights, policyFor(`a2sf:budget=64,forgetting=${a}`, config.numLayers));
    run(h2o);
    run(a2sf);
    const geometric = (1 - a ** seen) / (1 - a); // every query's row sums to 1 per query head, weighted a^age
    for (let l = 0; l < config.numLayers; l++) {
      for (let g = 0; g < config.numKvHeads; g++) {
        expect(h2o.head(l, g).scores.reduce((s, x) => s + x, 0)).toBeCloseTo(group * seen, 9);
        expect(a2sf.head(l, g).scores.reduce((s, x) => s + x, 0)).toBeCloseTo(group * geometric, 9);
        // The first token was seen by every query; the newest by one query of each head.
        expect(h2o.head(l, g).scores[seen - 1]).toBeGreaterThan(0);
      }
    }
  });

  it('prefills a prompt longer than prefillChunk in chunks, evicting after each as the GPU path does', () => {
    const chunked = new EvictingReferenceModel(config, weights, policyFor('h2o:budget=16', config.numLayers), { prefillChunk: 16 });
    const stepwise = new EvictingReferenceModel(config, weights, policyFor('h2o:budget=16', config.numLayers), { prefillChunk: 64 });
    const whole = new EvictingReferenceModel(config, weights, policyFor('h2o:budget=16', config.numLayers), { prefillChunk: 64 });
    const got = chunked.prefill(ids); // 16 + 16 + 8
    const want = new Float32Array(got.length);
    for (let start = 0; start < ids.length; start += 16) want.set(stepwise.prefill(ids.slice(start, start + 16)), start * config.vocabSize);
    expect(got).toEqual(want);
    expect([...chunked.head(2, 0).positions]).toEqual([...stepwise.head(2, 0).positions]);
    // Evicting once at the end keeps other tokens and gives other logits.
    const once = whole.prefill(ids);
    expect(maxDiff([once.subarray((ids.length - 1) * config.vocabSize)], [got.subarray((ids.length - 1) * config.vocabSize)])).toBeGreaterThan(1e-4);
    expect(() => new EvictingReferenceModel(config, weights, policyFor('h2o:budget=16', config.numLayers), { prefillChunk: 0 })).toThrow(/prefillChunk/);
  });

  it('has no evicting reference for dense', () => {
    expect(createReferenceEvictionPolicy(parseAttentionSpec('dense'), config.numLayers)).toBeNull();
    expect(policyFor('a2sf:forgetting=0.9/0.9/0.9/0.9/1', config.numLayers).budget).toBe(260);
    expect(() => policyFor('a2sf:forgetting=0.9/1', config.numLayers)).toThrow(/needs 5 factors/);
  });

  it('runs past max_position_embeddings with positions that keep counting', () => {
    const short = { ...config, maxPositionEmbeddings: 24 };
    expect(() => run(new ReferenceModel(short, weights))).toThrow(/context|position/i);
    const model = new EvictingReferenceModel(short, weights, policyFor('streaming:budget=16', config.numLayers));
    run(model);
    expect(model.position).toBe(ids.length);
    expect(model.tokensInCache).toBe(16);
    expect(Math.max(...model.head(0, 0).positions)).toBe(ids.length - 1);
  });
});

describe('selectKeptSlots', () => {
  // Slots in scrambled order: positions are what count.
  const positions = [7, 0, 5, 9, 1, 3, 8, 2, 6, 4];
  const slotOf = (p: number) => positions.indexOf(p);
  const keptPositions = (slots: number[]) => slots.map((s) => positions[s]).sort((a, b) => a - b);

  it('keeps everything at or under the budget', () => {
    expect(selectKeptSlots(positions, null, 2, 0, 8)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('keeps sinks, the newest and the top-scored middle, returning ascending slots', () => {
    const scores = positions.map((p) => [0, 0, 5, 1, 9, 2, 7, 0, 0, 0][p]); // by position
    const kept = selectKeptSlots(positions, scores, 2, 2, 3);
    expect(kept).toEqual([...kept].sort((a, b) => a - b));
    expect(keptPositions(kept)).toEqual([0, 1, 4, 6, 7, 8, 9]);
  });

  it('breaks score ties in favour of the older token', () => {
    const tied = positions.map(() => 1);
    expect(keptPositions(selectKeptSlots(positions, tied, 1, 3, 2))).toEqual([0, 1, 2, 3, 8, 9]);
    const scores = positions.map((p) => (p === 6 ? 3 : p === 4 || p === 5 ? 2 : 0));
    expect(keptPositions(selectKeptSlots(positions, scores, 0, 2, 1))).toEqual([4, 6, 9]);
    expect(slotOf(4)).toBe(9);
  });
});
