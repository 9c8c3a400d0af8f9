// Each logits processor, the seeded generator and the samplers as units, on hand-made logit rows.
import { describe, expect, it } from 'vitest';
import {
  FrequencyPenaltyProcessor, LogitBiasProcessor, MinPProcessor, PresencePenaltyProcessor, RepetitionPenaltyProcessor,
  TemperatureProcessor, TokenHistory, TopKProcessor, TopPProcessor,
} from './processors.ts';
import { gumbelNoise, noiseUniform, samplingSeed, seedKey, stepKey } from './random.ts';
import { buildProcessors, GREEDY, GumbelSampler, TokenSampler, tokenLogprob } from './sampler.ts';

const row = (...xs: number[]) => Float32Array.from(xs);
const kept = (x: Float32Array) => [...x].map((v, i) => (v > -Infinity ? i : -1)).filter((i) => i >= 0);
const softmax = (x: number[]) => { const m = Math.max(...x); const e = x.map((v) => Math.exp(v - m)); const s = e.reduce((a, b) => a + b); return e.map((v) => v / s); };

describe('logits processors', () => {
  it('logit_bias adds per-id biases', () => {
    const x = row(0, 1, 2);
    new LogitBiasProcessor(new Map([[0, 5], [2, -100]])).apply(x);
    expect([...x]).toEqual([5, 1, -98]);
  });

  it('repetition penalty divides positive and multiplies negative logits of every seen id (prompt and output)', () => {
    const h = new TokenHistory([0]);
    h.push(1);
    const x = row(4, -2, 4);
    new RepetitionPenaltyProcessor(2).apply(x, h);
    expect([...x]).toEqual([2, -4, 4]);
  });

  it('presence penalty subtracts once per generated id; frequency penalty once per occurrence; prompt ids untouched', () => {
    const h = new TokenHistory([2]);
    h.push(0); h.push(0); h.push(1);
    const p = row(1, 1, 1);
    new PresencePenaltyProcessor(0.5).apply(p, h);
    expect([...p]).toEqual([0.5, 0.5, 1]);
    const f = row(1, 1, 1);
    new FrequencyPenaltyProcessor(0.5).apply(f, h);
    expect([...f]).toEqual([0, 0.5, 1]);
  });

  it('temperature divides logits', () => {
    const x = row(1, -2, 4);
    new TemperatureProcessor(0.5).apply(x);
    expect([...x]).toEqual([2, -4, 8]);
  });

  it('top_k keeps the k largest (ties with the k-th kept)', () => {
    const x = row(1, 5, 3, 4, 2);
    new TopKProcessor(2).apply(x);
    expect(kept(x)).toEqual([1, 3]);
    const t = row(1, 3, 3, 0);
    new TopKProcessor(2).apply(t);
    expect(kept(t)).toEqual([1, 2]);
    const all = row(1, 2);
    new TopKProcessor(5).apply(all);
    expect(kept(all)).toEqual([0, 1]);
  });

  it('top_p keeps the smallest most-likely set whose mass reaches p', () => {
    // probabilities 0.5, 0.25, 0.125, 0.125
    const logits = [Math.log(0.5), Math.log(0.25), Math.log(0.125), Math.log(0.125)];
    const a = Float32Array.from(logits);
    new TopPProcessor(0.6).apply(a);
    expect(kept(a)).toEqual([0, 1]);
    const b = Float32Array.from(logits);
    new TopPProcessor(0.4).apply(b);
    expect(kept(b)).toEqual([0]);
    const c = Float32Array.from([logits[2], logits[0], logits[1], logits[3]]);
    new TopPProcessor(0.74).apply(c);
    expect(kept(c)).toEqual([1, 2]);
  });

  it('min_p drops tokens below min_p times the top probability', () => {
    const x = Float32Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.04), Math.log(0.16)]);
    new MinPProcessor(0.1).apply(x); // threshold 0.05
    expect(kept(x)).toEqual([0, 1, 3]);
    new MinPProcessor(0.5).apply(x); // threshold 0.25
    expect(kept(x)).toEqual([0, 1]);
  });

  it('builds only the steps that are switched on, in bias -> penalties -> temperature -> top_k -> top_p -> min_p order', () => {
    expect(buildProcessors(GREEDY)).toEqual([]);
    const names = buildProcessors({
      ...GREEDY, temperature: 0.7, topK: 40, topP: 0.9, minP: 0.05, repetitionPenalty: 1.1, presencePenalty: 0.1,
      frequencyPenalty: 0.2, logitBias: new Map([[1, 1]]),
    }).map((p) => p.constructor.name);
    expect(names).toEqual([
      'LogitBiasProcessor', 'RepetitionPenaltyProcessor', 'PresencePenaltyProcessor', 'FrequencyPenaltyProcessor',
      'TemperatureProcessor', 'TopKProcessor', 'TopPProcessor', 'MinPProcessor',
    ]);
    // Greedy keeps bias and penalties (they change the argmax) but no truncation.
    expect(buildProcessors({ ...GREEDY, topK: 1, logitBias: new Map([[1, 1]]) }).map((p) => p.constructor.name)).toEqual(['LogitBiasProcessor']);
  });
});

describe('seeded random and sampling', () => {
  it('the counter-based noise: a function of (seed, step, id), uniform in (0, 1), distinct per seed and step', () => {
    const key = seedKey(samplingSeed(42));
    const at = (k: number, step: number) => Array.from({ length: 1000 }, (_, i) => noiseUniform(k, stepKey(k, step), i));
    const xa = at(key, 0);
    expect(at(key, 0)).toEqual(xa);
    expect(at(key, 1)).not.toEqual(xa);
    expect(at(seedKey(samplingSeed(43)), 0)).not.toEqual(xa);
    expect(xa.every((v) => v > 0 && v < 1)).toBe(true);
    // Seeds beyond 32 bits and negative seeds are distinct streams too.
    expect(at(seedKey(samplingSeed(2 ** 40 + 42)), 0)).not.toEqual(xa);
    expect(at(seedKey(samplingSeed(-1)), 0)).not.toEqual(at(seedKey(samplingSeed(1)), 0));
    // Chi-square over 10 bins of 100K draws (100 steps x 1000 ids): 9 degrees of freedom, 27.9 is the 0.999 quantile.
    const bins = new Array(10).fill(0);
    for (let step = 0; step < 100; step++) for (const u of at(key, step)) bins[Math.floor(u * 10)]++;
    const chi2 = bins.reduce((s, n) => s + (n - 10_000) ** 2 / 10_000, 0);
    expect(chi2).toBeLessThan(27.9);
    // Neighbouring steps are not a shuffle of each other: their values at the same ids are uncorrelated.
    const [a, b] = [at(key, 5), at(key, 6)];
    const mean = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length;
    const cov = mean(a.map((v, i) => (v - 0.5) * (b[i] - 0.5)));
    expect(Math.abs(cov / (1 / 12))).toBeLessThan(0.1);
    expect(gumbelNoise(key, stepKey(key, 0), 3)).toBe(Math.fround(-Math.log(-Math.log(xa[3]))));
  });

  it('Gumbel-max sampling follows softmax(logits) and never picks a removed token', () => {
    const logits = [2, 1, 0, -Infinity, 0.5];
    const probs = softmax(logits.map((v) => (v === -Infinity ? -1e9 : v)));
    const sampler = new GumbelSampler(1);
    const counts = new Array(5).fill(0), n = 50_000;
    for (let i = 0; i < n; i++) counts[sampler.pick(Float32Array.from(logits), i)]++;
    expect(counts[3]).toBe(0);
    for (let i = 0; i < 5; i++) expect(Math.abs(counts[i] / n - probs[i])).toBeLessThan(0.01);
  });

  it('temperature 0 picks the argmax after bias; a seeded TokenSampler repeats itself', () => {
    const greedy = new TokenSampler({ ...GREEDY, logitBias: new Map([[2, 10]]) }, []);
    expect(greedy.next(row(5, 1, 0))).toBe(2);
    const x = row(1, 1.2, 0.8, 1.1, 0.9);
    const draw = (seed: number) => { const s = new TokenSampler({ ...GREEDY, temperature: 1, seed }, []); return Array.from({ length: 50 }, () => s.next(x)); };
    expect(draw(5)).toEqual(draw(5));
    expect(draw(5)).not.toEqual(draw(6));
    expect([...x]).toEqual([...row(1, 1.2, 0.8, 1.1, 0.9)]); // the backend's row is left untouched
  });

  it('logprobs are log_softmax of the raw row, top alternatives in order', () => {
    const x = row(3, 1, 2, 0);
    const lp = tokenLogprob(x, 1, 2);
    const p = softmax([3, 1, 2, 0]);
    expect(lp.id).toBe(1);
    expect(lp.logprob).toBeCloseTo(Math.log(p[1]), 6);
    expect(lp.top.map((t) => t.id)).toEqual([0, 2]);
    expect(lp.top[0].logprob).toBeCloseTo(Math.log(p[0]), 6);
    expect(tokenLogprob(x, 0, 0).top).toEqual([]);
    expect(tokenLogprob(x, 0, 10).top.map((t) => t.id)).toEqual([0, 2, 1, 3]);
  });
});

describe('selection helpers on a large vocabulary', () => {
  it('kthLargest agrees with a full sort, and top_p with a narrow or flat distribution keeps the exact nucleus', async () => {
    const { kthLargest } = await import('./processors.ts');
    const key = seedKey(samplingSeed(3));
    const x = Float32Array.from({ length: 20_000 }, (_, i) => (noiseUniform(key, 0, i) - 0.5) * 40);
    const sorted = [...x].sort((a, b) => b - a);
    for (const k of [1, 2, 40, 1000, 20_000]) expect(kthLargest(x, k)).toBe(sorted[k - 1]);
    expect(kthLargest(x, 20_001)).toBe(-Infinity);
    for (const p of [0.1, 0.5, 0.9, 0.999]) {
      // The reference: sort probabilities, keep the smallest prefix reaching p.
      const probs = softmax(sorted);
      let mass = 0, keep = 0;
      while (mass < p) mass += probs[keep++];
      const y = Float32Array.from(x);
      new TopPProcessor(p).apply(y);
      expect(kept(y).length).toBe(keep);
    }
  });
});
