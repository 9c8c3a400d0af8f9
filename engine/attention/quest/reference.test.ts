// Quest's reference: page bounds kept like the GPU's append hook, the page bound really bounds q.k, the pages read.
import { describe, expect, it } from 'vitest';
import { parseAttentionSpec } from '../spec.ts';
import { questPageBounds, questPageScores, questPagesRead, questPagesToRead, questParams, questPlanPages } from './reference.ts';

function rng(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
}

describe('Quest reference', () => {
  it('parses its spec with the documented defaults', () => {
    expect(questParams(parseAttentionSpec('quest') as never)).toEqual({ budget: 512, denseLayers: 2 });
    expect(questParams(parseAttentionSpec('quest:budget=100,dense-layers=1') as never)).toEqual({ budget: 100, denseLayers: 1 });
    expect(() => parseAttentionSpec('quest:budget=0')).toThrow(/attention\.budget/);
  });

  it('keeps per-page per-channel min and max', () => {
    const keys = [[1, -2], [3, 0], [-1, 5], [0, 0], [2, 2]];
    const b = questPageBounds(keys, 2, 2);
    expect(b.pages).toBe(3);
    expect([...b.min]).toEqual([1, -2, -1, 0, 2, 2]);
    expect([...b.max]).toEqual([3, 0, 0, 5, 2, 2]);
  });

  it('bounds q.k from above for every key of the page and every head of the group', () => {
    const next = rng(3);
    const d = 8;
    const keys = Array.from({ length: 40 }, () => Array.from({ length: d }, () => next() * 2 - 1));
    const queries = Array.from({ length: 3 }, () => Array.from({ length: d }, () => next() * 2 - 1));
    const bounds = questPageBounds(keys, d, 16);
    const scores = questPageScores(queries, bounds, d);
    keys.forEach((k, s) => {
      for (const q of queries) {
        const dot = q.reduce((sum, qc, c) => sum + qc * k[c], 0);
        expect(dot).toBeLessThanOrEqual(scores[Math.floor(s / 16)] + 1e-5);
      }
    });
    // A page of one key: the bound is exact (for the best head).
    const one = questPageScores(queries, questPageBounds([keys[0]], d, 16), d)[0];
    expect(one).toBeCloseTo(Math.max(...queries.map((q) => q.reduce((sum, qc, c) => sum + qc * keys[0][c], 0))), 5);
  });

  it('reads the budget rounded up to whole pages, the newest page always, ties to the older page', () => {
    expect(questPagesToRead(17, 16)).toBe(2);
    expect(questPagesToRead(16, 16)).toBe(1);
    // 6 pages (tokens 81..96), budget 33 -> 3 pages: the newest (5) plus the top 2 of pages 0..4.
    const scores = [1, 5, 3, 5, 2, -9];
    expect(questPlanPages(scores, 90, 33, 16)).toEqual([1, 3]);
    expect(questPagesRead(scores, 90, 33, 16)).toEqual([1, 3, 5]);
    // Ties: page 1 and 3 tie with 2 at 3: the lower pages win.
    expect(questPlanPages([0, 3, 3, 3, 0, 0], 90, 33, 16)).toEqual([1, 2]);
    // Budget of one page: only the newest.
    expect(questPagesRead(scores, 90, 16, 16)).toEqual([5]);
    // Budget covering the sequence: every page (dense).
    expect(questPagesRead(scores, 90, 96, 16)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(questPagesRead(scores, 81, 4096, 16)).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
