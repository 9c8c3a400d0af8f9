// StreamingLLM's reference selection: sinks are the first positions (tokens, not a page), the window the newest.
import { describe, expect, it } from 'vitest';
import { parseAttentionSpec, type StreamingSpec } from '../spec.ts';
import { streamingKeep, StreamingReference } from './reference.ts';

describe('streamingKeep', () => {
  it('keeps the first `sinks` positions and the newest `window`, whatever the slot order', () => {
    // A cache after earlier evictions: slots reused out of position order.
    const positions = [40, 1, 0, 37, 3, 39, 2, 38, 20, 36];
    const kept = streamingKeep(positions, { sinks: 2, window: 3 });
    expect(kept.map((s) => positions[s]).sort((a, b) => a - b)).toEqual([0, 1, 38, 39, 40]);
  });

  it('keeps all up to sinks + window, and works with no sinks', () => {
    expect(streamingKeep([0, 1, 2, 3], { sinks: 4, window: 1020 })).toEqual([0, 1, 2, 3]);
    expect(streamingKeep([5, 6, 7, 8], { sinks: 0, window: 2 }).map((s) => [5, 6, 7, 8][s])).toEqual([7, 8]);
  });

  it('bounds a long stream at sinks + window', () => {
    const policy = new StreamingReference(parseAttentionSpec('streaming:budget=8') as StreamingSpec);
    expect(policy.budget).toBe(8);
    const head = { positions: [] as number[], keys: [], values: [], scores: [] as number[] };
    for (let p = 0; p < 100; p++) {
      head.positions.push(p);
      head.scores.push(0);
      head.positions = policy.keep(head).map((s) => head.positions[s]);
      head.scores = head.positions.map(() => 0);
      expect(head.positions.length).toBe(Math.min(p + 1, 8));
    }
    expect(head.positions).toEqual([0, 1, 2, 3, 96, 97, 98, 99]);
  });
});
