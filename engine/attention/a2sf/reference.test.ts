// A2SF's reference: the forgetting factor on scores, its prefill weights, per-layer factors, and a = 1 being H2O.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../errors/index.ts';
import { h2oAccumulate, h2oKeep, h2oPrefillScores } from '../h2o/reference.ts';
import { a2sfAccumulate, a2sfKeep, a2sfPrefillScores, A2SFReference, forgettingForLayers } from './reference.ts';

/** A causal probability matrix [n][n] with rows summing to 1 (seeded). */
function causalProbabilities(n: number, seed: number): Float64Array[] {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  return Array.from({ length: n }, (_, i) => {
    const row = new Float64Array(n);
    let sum = 0;
    for (let j = 0; j <= i; j++) sum += (row[j] = Math.exp(4 * rand()));
    for (let j = 0; j <= i; j++) row[j] /= sum;
    return row;
  });
}

describe('A2SF reference', () => {
  it('weights prefill row i by a^(n-1-i)', () => {
    const p = [
      [1, 0, 0],
      [0.25, 0.75, 0],
      [0.5, 0.125, 0.375],
    ];
    const a = 0.5;
    expect([...a2sfPrefillScores(p, a)]).toEqual([0.25 * 1 + 0.5 * 0.25 + 0.5, 0.5 * 0.75 + 0.125, 0.375]);
  });

  it('a chunk of n rows equals n decode steps of score = a * score + p', () => {
    const p = causalProbabilities(16, 3);
    const a = 0.93;
    const start = Array.from({ length: 16 }, (_, j) => j * 0.1);
    const stepwise = Float64Array.from(start);
    p.forEach((row) => a2sfAccumulate(stepwise, [row], a));
    const chunk = Float64Array.from(start);
    a2sfAccumulate(chunk, p, a);
    chunk.forEach((v, j) => expect(v).toBeCloseTo(stepwise[j], 12));
  });

  it('with a = 1 equals H2O exactly: the same scores bit for bit and the same kept slots, step after step', () => {
    const n = 64;
    const p = causalProbabilities(n, 11);
    const h2o = h2oPrefillScores(p.slice(0, 20).map((r) => r.subarray(0, 20)));
    const a2sf = a2sfPrefillScores(p.slice(0, 20).map((r) => r.subarray(0, 20)), 1);
    expect([...a2sf]).toEqual([...h2o]);
    let positions = Array.from({ length: 20 }, (_, i) => i);
    let hs = [...h2o];
    let as = [...a2sf];
    const params = { sinks: 2, heavy: 5, select: 5, recent: 4 };
    for (let t = 20; t < n; t++) {
      positions.push(t);
      hs.push(0);
      as.push(0);
      const row = Float64Array.from(positions, (pos) => p[t][pos]); // this query's mass on the kept tokens
      h2oAccumulate(hs, [row]);
      a2sfAccumulate(as, [row], 1);
      expect(as).toEqual(hs);
      const keptH = h2oKeep(positions, hs, params);
      expect(a2sfKeep(positions, as, params)).toEqual(keptH);
      positions = keptH.map((s) => positions[s]);
      hs = keptH.map((s) => hs[s]);
      as = keptH.map((s) => as[s]);
    }
    expect(positions).toHaveLength(11);
  });

  it('forgets: an old heavy hitter loses to a newer token that H2O would drop', () => {
    // Token 1 got mass 3 long ago (then 0); token 2 gets 0.3 every step for 8 steps.
    const positions = [0, 1, 2, 3];
    const params = { sinks: 0, heavy: 1, select: 1, recent: 1 };
    const h = [0, 3, 0, 0];
    const a = [0, 3, 0, 0];
    for (let s = 0; s < 8; s++) {
      const row = [0, 0, 0.3, 0];
      h2oAccumulate(h, [row]);
      a2sfAccumulate(a, [row], 0.5);
    }
    expect(h2oKeep(positions, h, params).map((x) => positions[x])).toEqual([1, 3]);
    expect(a2sfKeep(positions, a, params).map((x) => positions[x])).toEqual([2, 3]);
  });

  it('takes one factor for all layers or exactly one per layer', () => {
    expect([...forgettingForLayers(0.99, 3)]).toEqual([0.99, 0.99, 0.99]);
    expect([...forgettingForLayers([0.9, 0.95, 1], 3)]).toEqual([0.9, 0.95, 1]);
    expect(() => forgettingForLayers([0.9, 0.95], 3)).toThrow(InvalidArgumentError);
    expect(() => new A2SFReference({ sinks: 4, select: 4, recent: 4, forgetting: [0.9, 0.9] }, 5)).toThrow(/needs 5 factors/);
    // Each layer's factor is applied to its own heads.
    const policy = new A2SFReference({ sinks: 0, select: 1, recent: 1, forgetting: [0.5, 1] }, 2);
    const head0 = { positions: [0], keys: [], values: [], scores: [2] };
    const head1 = { positions: [0], keys: [], values: [], scores: [2] };
    policy.observe(head0, 0, [Float64Array.of(1)]);
    policy.observe(head1, 1, [Float64Array.of(1)]);
    expect([head0.scores[0], head1.scores[0]]).toEqual([2, 3]);
  });
});
