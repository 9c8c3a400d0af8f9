// Recycled Attention's reference: fixed and dynamic schedules, the recorded top-K, and what recycle steps read.
import { describe, expect, it } from 'vitest';
import { parseAttentionSpec } from '../spec.ts';
import { cosineSimilarity, recycledParams, recycledReadSet, recycledRecord, RecycledSchedule } from './reference.ts';

describe('Recycled Attention reference', () => {
  const params = (text: string) => recycledParams(parseAttentionSpec(text) as never);

  it('parses both schedules', () => {
    expect(params('recycled')).toEqual({ budget: 256, stride: 16, dynamic: 0, checkEvery: 5 });
    expect(params('recycled:budget=256,stride=16')).toMatchObject({ stride: 16, dynamic: 0 });
    expect(params('recycled:dynamic=0.8,check-every=5')).toMatchObject({ dynamic: 0.8, checkEvery: 5 });
    expect(() => parseAttentionSpec('recycled:dynamic=1.5')).toThrow(/attention\.dynamic/);
  });

  it('fixed stride: the first step and every stride-th after it are full', () => {
    const s = new RecycledSchedule(params('recycled:stride=4'));
    const q = [1, 0];
    expect(Array.from({ length: 10 }, (_, i) => s.next(i, q))).toEqual([true, false, false, false, true, false, false, false, true, false]);
  });

  it('dynamic: checks every check-every steps and goes full only below the threshold', () => {
    const s = new RecycledSchedule(params('recycled:dynamic=0.8,check-every=2'));
    const same = [1, 0];
    const turned = [0.5, Math.sqrt(3) / 2]; // cosine 0.5 with `same`
    const near = [0.9, 0.1];
    expect(s.next(0, same)).toBe(true);
    expect(s.next(1, turned)).toBe(false); // not a check step
    expect(s.next(2, near)).toBe(false); // cosine 0.994 >= 0.8
    expect(s.next(3, turned)).toBe(false); // not a check step
    expect(s.next(4, turned)).toBe(true); // cosine 0.5 < 0.8
    expect(s.next(5, same)).toBe(false);
    expect(s.next(6, same)).toBe(true); // compared with the new full query: 0.5
    expect(cosineSimilarity([1, 0], [0, 0])).toBe(0);
  });

  it('records the top-K slots by attention mass, ties to the older, and reads them plus the tokens since', () => {
    const sums = [0.5, 2, 0.5, 3, 0.5, 1];
    expect(recycledRecord(sums, 6, 3)).toEqual([1, 3, 5]);
    expect(recycledRecord(sums, 6, 4)).toEqual([0, 1, 3, 5]);
    expect(recycledRecord(sums, 6, 10)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(recycledReadSet([1, 3, 5], 6, 9)).toEqual([1, 3, 5, 6, 7, 8]);
  });
});
