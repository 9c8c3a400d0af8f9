// H2O's reference statistics and selection: column sums at prefill, running sums at decode, heavy hitters kept.
import { describe, expect, it } from 'vitest';
import { parseAttentionSpec, type H2OSpec } from '../spec.ts';
import { h2oAccumulate, h2oKeep, h2oPrefillScores, H2OReference } from './reference.ts';

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

describe('H2O reference', () => {
  it('prefill scores are the column sums of the causal probability matrix', () => {
    const p = [
      [1, 0, 0],
      [0.25, 0.75, 0],
      [0.5, 0.125, 0.375],
    ];
    expect([...h2oPrefillScores(p)]).toEqual([1.75, 0.875, 0.375]);
  });

  it('a prefill chunk scores what the same rows as decode steps would', () => {
    const p = causalProbabilities(12, 7);
    const stepwise = new Float64Array(12);
    p.forEach((row) => h2oAccumulate(stepwise, [row]));
    const chunk = h2oPrefillScores(p);
    chunk.forEach((v, j) => expect(v).toBeCloseTo(stepwise[j], 12));
  });

  it('keeps the heavy hitters among the older tokens, plus sinks and the recent window', () => {
    const spec = parseAttentionSpec('h2o:sinks=1,heavy=2,recent=2') as H2OSpec;
    const positions = [0, 1, 2, 3, 4, 5, 6, 7];
    const scores = [3.0, 0.1, 2.5, 0.2, 1.9, 0.3, 0.05, 0.01];
    expect(h2oKeep(positions, scores, spec)).toEqual([0, 2, 4, 6, 7]);
    // The newest tokens stay even with the lowest scores; the sink even with a low one.
    expect(h2oKeep(positions, [0, 9, 9, 9, 9, 9, 0, 0], spec)).toEqual([0, 1, 2, 6, 7]);
  });

  it('evicts the low-mass token of a decode step and its score leaves with it', () => {
    const policy = new H2OReference({ sinks: 0, heavy: 1, recent: 1 });
    const head = { positions: [0, 1], keys: [], values: [], scores: [0.2, 0.9] };
    head.positions.push(2);
    head.scores.push(0);
    policy.observe(head, 0, [Float64Array.from([0.7, 0.1, 0.2])]);
    expect(head.scores.map((x) => +x.toFixed(12))).toEqual([0.9, 1.0, 0.2]);
    // Position 1 (score 1.0) beats 0 (0.9); position 2 is the recent one.
    expect(policy.keep(head)).toEqual([1, 2]);
  });
});
