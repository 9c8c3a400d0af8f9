// The CPU references of Double Sparsity and FASA: model-fitted parameters, the GQA adaptation of the calibrated
// rankings (summed over the group), FASA's dims in both RoPE layouts, partial scores and the tie rule.
import { describe, expect, it } from 'vitest';
import type { DoubleSparsityCalibration, FasaCalibration } from '../../calibration/index.ts';
import { fasaDims, fasaDominantChunks, resolveFasaParams } from '../fasa/index.ts';
import { doubleSparsityChannels, partialScores, resolveDoubleSparsityParams, selectTokens, topIndices } from './reference.ts';

const model = { numHeads: 4, numKvHeads: 2, headDim: 8 };

describe('Double Sparsity reference', () => {
  it('fits channels to the head dim (d/8, at least 1) and keeps given values', () => {
    expect(resolveDoubleSparsityParams({ budget: 256, channels: 0, denseLayers: 2 }, { headDim: 128, numLayers: 32 }).channels).toBe(16);
    expect(resolveDoubleSparsityParams({ budget: 256, channels: 0, denseLayers: 2 }, { headDim: 8, numLayers: 5 }).channels).toBe(1);
    expect(resolveDoubleSparsityParams({ budget: 256, channels: 8, denseLayers: 5 }, { headDim: 8, numLayers: 5 }).channels).toBe(8);
  });

  it('ranks channels per KV head by the qk statistic summed over the group (ties: lower channel), ascending', () => {
    // Layer 0; heads 0, 1 (KV head 0) and 2, 3 (KV head 1).
    const scores = [[
      [9, 0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 5, 1], // group 0 sums: c0 9, c6 5, c7 2
      [1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1], // group 1: all tie
    ]];
    const calibration = { model, data: { scores } } as unknown as DoubleSparsityCalibration;
    expect(doubleSparsityChannels(calibration, 0, 0, 3)).toEqual([0, 6, 7]);
    expect(doubleSparsityChannels(calibration, 0, 1, 3)).toEqual([0, 1, 2]);
  });

  it('scores with the max over the group of scale * q.k on the chosen dims; selects top budget-1 older slots, ties older', () => {
    const keys = [[1, 0, 2], [0, 3, 0], [2, 2, 2], [5, 5, 5]];
    const queries = [[1, 1, 0], [0, 0, 1]];
    const scores = partialScores(queries, keys, [0, 2], 0.5);
    expect([...scores]).toEqual([1, 0, 1, 2.5]); // slot 0: max(1, 2)*0.5; slot 2: max(2, 2)*0.5
    // 4 slots, the newest (3) is the step's own: candidates 0..2; budget 2 keeps one: slots 0 and 2 tie, 0 wins.
    expect(selectTokens(scores, 4, 2)).toEqual([0]);
    expect(selectTokens(scores, 4, 3)).toEqual([0, 2]);
    expect(selectTokens(scores, 4, 100)).toEqual([0, 1, 2]);
    expect(topIndices([3, 1, 3, 2], 2)).toEqual([0, 2]);
  });
});

describe('FASA reference', () => {
  it('fits chunks to the head dim (d/16, at least 1)', () => {
    expect(resolveFasaParams({ budget: 256, chunks: 0, denseLayers: 1 }, { headDim: 128, numLayers: 32 }).chunks).toBe(8);
    expect(resolveFasaParams({ budget: 256, chunks: 0, denseLayers: 1 }, { headDim: 8, numLayers: 5 }).chunks).toBe(1);
    expect(() => resolveFasaParams({ budget: 256, chunks: 5, denseLayers: 1 }, { headDim: 8, numLayers: 5 })).toThrow(/attention\.chunks/);
  });

  it('picks the dominant chunks per KV head by agreement summed over the group and maps them to RoPE pairs', () => {
    const agreement = [[[0.1, 0.9, 0.2, 0.3], [0.1, 0.0, 0.2, 0.8], [0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5]]];
    const calibration = { model, data: { agreement } } as unknown as FasaCalibration;
    expect(fasaDominantChunks(calibration, 0, 0, 2)).toEqual([1, 3]); // sums 0.2, 0.9, 0.4, 1.1
    expect(fasaDominantChunks(calibration, 0, 1, 2)).toEqual([0, 1]); // all tie: the lower chunks
    expect(fasaDims([1, 3], 8, 'half')).toEqual([1, 3, 5, 7]);
    expect(fasaDims([1, 3], 8, 'interleaved')).toEqual([2, 3, 6, 7]);
  });
});
