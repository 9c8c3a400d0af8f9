// Double Sparsity's and FASA's GPU estimator and selection on Dawn/SwiftShader against the CPU reference: the label
// cache written on append, the partial scores of a decode step, and the tokens each (layer, KV head) plan lists:
// exactly the reference's on the GPU's own scores, and on the reference's scores away from near-ties; all scores
// equal (zero keys): the oldest tokens. Both RoPE layouts, GQA groups of 3.
import { describe, expect, it } from 'vitest';
import {
  CALIBRATION_FORMAT, CALIBRATION_VERSION, modelIdentity, rankDescending, type CalibrationArtifact, type DoubleSparsityCalibration, type FasaCalibration,
} from '../../calibration/index.ts';
import { readBuffer } from '../../gpu/index.ts';
import { nodeGpuDevice } from '../../gpu/node-webgpu.test-helper.ts';
import { PagedKVCache } from '../../kv/index.ts';
import { applyRope, ropeInverseFrequencies, ropeTable, type ModelConfig, type RopeLayout } from '../../model/index.ts';
import { createPolicy, DensePolicy, PagedAttention, type PolicyStepContext } from '../index.ts';
import { fasaDims, fasaDominantChunks, FasaPolicy } from '../fasa/index.ts';
import { DoubleSparsityPolicy } from './policy.ts';
import { doubleSparsityChannels, partialScores, selectTokens } from './reference.ts';

/** GPU f32 (RoPE on the GPU, f32 sums) against the CPU's f64 on the same rotated keys. */
const SCORE_TOLERANCE = 2e-5;

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const randoms = (next: () => number, count: number) => Float32Array.from({ length: count }, () => next() * 2 - 1);

/** A valid artifact of `method` for `config` with random statistics (the policies read only ranks' sources). */
export function syntheticCalibration(method: 'double-sparsity' | 'fasa', config: ModelConfig, seed: number): CalibrationArtifact {
  const next = rng(seed);
  const { numLayers: L, numHeads: H, headDim: d } = config;
  const E = method === 'fasa' ? d / 2 : d;
  const values = Array.from({ length: L }, () => Array.from({ length: H }, () => Array.from({ length: E }, () => next())));
  const ranks = values.map((layer) => layer.map((row) => rankDescending(row)));
  const base = {
    format: CALIBRATION_FORMAT, version: CALIBRATION_VERSION, model: modelIdentity(config, `synthetic ${seed}`),
    shape: { layers: L, heads: H, entries: E }, calibration: { text: 'synthetic', tokens: 1, window: 2 },
  } as const;
  return method === 'fasa'
    ? { ...base, method, data: { topK: 1, queries: 1, agreement: values, ranks } }
    : { ...base, method, data: { statistic: 'qk', scores: values, ranks } };
}

const H = 6;
const G = 2;
const d = 16;
const L = 3;

function configOf(ropeLayout: RopeLayout): ModelConfig {
  return {
    architecture: 'llama', vocabSize: 32, hiddenSize: H * d, intermediateSize: 8, numLayers: L, numHeads: H, numKvHeads: G, headDim: d,
    rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: null, ropeLayout, maxPositionEmbeddings: 512, tieWordEmbeddings: true,
    attentionBias: false, qkNorm: false, bosTokenId: null, eosTokenIds: [],
  };
}

describe('Double Sparsity and FASA policies', () => {
  it('need a calibration, fit their defaults to the model and refuse what does not fit', () => {
    const config = configOf('half');
    expect(() => createPolicy({ policy: 'double-sparsity' }, { config })).toThrow(/The attention policy "double-sparsity" needs a double-sparsity calibration of this model; none was given/);
    try {
      createPolicy({ policy: 'fasa' }, { config, calibrationSearched: 'none beside /m' });
    } catch (e) {
      expect((e as { code: string }).code).toBe('CALIBRATION_MISSING');
      expect((e as Error).message).toMatch(/none beside \/m/);
      expect((e as { remedy: string }).remedy).toMatch(/sieve calibrate --model <model> --method fasa --text FILE/);
    }
    const ds = createPolicy({ policy: 'double-sparsity' }, { config, calibration: syntheticCalibration('double-sparsity', config, 1) }) as DoubleSparsityPolicy;
    expect(ds.fitted).toEqual({ budget: 256, channels: 2, denseLayers: 2 }); // head dim 16 / 8
    expect(ds.needs).toMatchObject({ denseLayers: [0, 1], granularity: 'token', metadata: ['token-label-channels'], evicts: false, calibration: 'double-sparsity' });
    const fasa = createPolicy({ policy: 'fasa' }, { config, calibration: syntheticCalibration('fasa', config, 2) }) as FasaPolicy;
    expect(fasa.fitted).toEqual({ budget: 256, chunks: 1, denseLayers: 1 }); // head dim 16 / 16
    expect(() => createPolicy({ policy: 'double-sparsity', channels: 17 }, { config, calibration: syntheticCalibration('double-sparsity', config, 1) }))
      .toThrow(/attention\.channels: the model's head dim is 16; 17 label channels are more than a key has/);
    expect(() => createPolicy({ policy: 'fasa', chunks: 9 }, { config, calibration: syntheticCalibration('fasa', config, 1) }))
      .toThrow(/attention\.chunks: the model's head dim 16 has 8 RoPE frequency chunks; 9 are more than it has/);
    expect(() => createPolicy({ policy: 'fasa', denseLayers: 4 }, { config, calibration: syntheticCalibration('fasa', config, 1) }))
      .toThrow(/attention\.denseLayers: the model has 3 layers; 4 dense layers/);
    // An artifact of another method, or of another model.
    expect(() => createPolicy({ policy: 'fasa' }, { config, calibration: syntheticCalibration('double-sparsity', config, 1) }))
      .toThrow(/method: is "double-sparsity"; the fasa policy needs a fasa calibration/);
    expect(() => createPolicy({ policy: 'double-sparsity' }, { config: configOf('interleaved'), calibration: syntheticCalibration('double-sparsity', config, 1) }))
      .toThrow(/model\.ropeLayout: it was made for a model with ropeLayout half/);
  });
});

type Case = [name: 'double-sparsity' | 'fasa', ropeLayout: RopeLayout, zeroKeys: boolean];
const cases: Case[] = [
  ['double-sparsity', 'half', false], ['double-sparsity', 'interleaved', false], ['fasa', 'half', false], ['fasa', 'interleaved', false],
  ['double-sparsity', 'half', true], ['fasa', 'interleaved', true],
];

describe.each<Case>(cases)('%s on the GPU (%s RoPE, all keys zero: %s)', (name, ropeLayout, zeroKeys) => {
  it('labels on append, scores like the reference and lists exactly the reference tokens per (layer, KV head)', async () => {
    const device = await nodeGpuDevice();
    const prompt = 150;
    const budget = 40; // the step's own token + the top 39 of 150 older ones
    const config = configOf(ropeLayout);
    const calibration = syntheticCalibration(name, config, ropeLayout === 'half' ? 21 : 22);
    const spec = name === 'fasa' ? { policy: name, budget, chunks: 3, denseLayers: 1 } : { policy: name, budget, channels: 5, denseLayers: 1 };
    const policy = createPolicy(spec, { config, calibration }) as DoubleSparsityPolicy | FasaPolicy;
    const dimsOf = (l: number, g: number) => (name === 'fasa'
      ? fasaDims(fasaDominantChunks(calibration as FasaCalibration, l, g, 3), d, ropeLayout)
      : doubleSparsityChannels(calibration as DoubleSparsityCalibration, l, g, 5));
    const scale = name === 'fasa' ? 1 / Math.sqrt(d) : 1 / Math.sqrt(5);

    const cache = new PagedKVCache(device, {
      numLayers: L, numKvHeads: G, headDim: d, maxTokensPerSequence: 256, memoryBudgetBytes: L * G * 16 * (2 * 16 * d + 16) * 4,
    });
    const attention = new PagedAttention(device, cache, { numHeads: H, numKvHeads: G, headDim: d, ropeLayout, maxPrefillTokens: prompt });
    const inv = ropeInverseFrequencies(config);
    const next = rng(name.length * 7 + (ropeLayout === 'half' ? 1 : 2));
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
    const io = Array.from({ length: L }, () => ({
      q: device.createBuffer({ size: prompt * H * d * 4, usage }), k: device.createBuffer({ size: prompt * G * d * 4, usage }),
      v: device.createBuffer({ size: prompt * G * d * 4, usage }), out: device.createBuffer({ size: prompt * H * d * 4, usage }),
    }));
    const seq = cache.createSequence();
    const keys: Float32Array[][] = Array.from({ length: L }, () => []); // rotated, per layer: [slot][G*d]

    // Prefill through PagedAttention with the policy: its onAppend writes the labels.
    let table = ropeTable(inv, 0, prompt);
    attention.beginStep(seq, { startPosition: 0, numTokens: prompt, ...table });
    let encoder = device.createCommandEncoder();
    for (let l = 0; l < L; l++) {
      const k = zeroKeys ? new Float32Array(prompt * G * d) : randoms(next, prompt * G * d);
      device.queue.writeBuffer(io[l].q, 0, randoms(next, prompt * H * d));
      device.queue.writeBuffer(io[l].k, 0, k);
      device.queue.writeBuffer(io[l].v, 0, randoms(next, prompt * G * d));
      attention.encodeLayer(encoder, { layer: l, ...io[l], numTokens: prompt, policy });
      for (let t = 0; t < prompt; t++) {
        const row = k.slice(t * G * d, (t + 1) * G * d);
        for (let g = 0; g < G; g++) applyRope(row, g * d, d, ropeLayout, table.cos, table.sin, t);
        keys[l].push(row);
      }
    }
    device.queue.submit([encoder.finish()]);

    // A decode step: the token appended (dense attention), then the policy's hooks for each selecting layer's plan.
    table = ropeTable(inv, prompt, 1);
    attention.beginStep(seq, { startPosition: prompt, numTokens: 1, ...table });
    encoder = device.createCommandEncoder();
    const queries: Float32Array[] = [];
    const tokens = prompt + 1;
    const staging = Array.from({ length: L }, () => ({
      indices: device.createBuffer({ size: G * (budget - 1) * 4, usage }), lengths: device.createBuffer({ size: G * 4, usage }),
      scores: device.createBuffer({ size: G * 256 * 4, usage }),
    }));
    for (let l = 0; l < L; l++) {
      const q = randoms(next, H * d);
      const k = zeroKeys ? new Float32Array(G * d) : randoms(next, G * d);
      device.queue.writeBuffer(io[l].q, 0, q);
      device.queue.writeBuffer(io[l].k, 0, k);
      device.queue.writeBuffer(io[l].v, 0, randoms(next, G * d));
      attention.encodeLayer(encoder, { layer: l, ...io[l], numTokens: 1, policy: new DensePolicy() });
      const row = k.slice();
      for (let g = 0; g < G; g++) applyRope(row, g * d, d, ropeLayout, table.cos, table.sin, 0);
      keys[l].push(row);
      const ctx: PolicyStepContext = {
        device, cache, seq, layer: l, phase: 'decode', step: 0, startPosition: prompt, numTokens: 1, query: io[l].q, scale: 1 / Math.sqrt(d),
      };
      policy.onAppend(encoder, ctx);
      if (l < 1) continue; // dense layer: no plan
      const plan = policy.plan(encoder, ctx);
      if (plan.kind !== 'tokens') throw new Error(`${name} planned ${plan.kind}`);
      expect(plan.maxPerHead).toBe(budget - 1);
      encoder.copyBufferToBuffer(plan.indices, 0, staging[l].indices, 0, G * plan.maxPerHead * 4);
      encoder.copyBufferToBuffer(plan.lengths, 0, staging[l].lengths, 0, G * 4);
      encoder.copyBufferToBuffer(policy.selectorFor().scores as GPUBuffer, 0, staging[l].scores, 0, G * 256 * 4);
      for (let h = 0; h < H; h++) applyRope(q, h * d, d, ropeLayout, table.cos, table.sin, 0);
      queries[l] = q;
    }
    device.queue.submit([encoder.finish()]);

    for (let l = 1; l < L; l++) {
      const lengths = new Uint32Array((await readBuffer(device, staging[l].lengths, 0, G * 4)).buffer.slice(0));
      const indices = new Uint32Array((await readBuffer(device, staging[l].indices, 0, G * (budget - 1) * 4)).buffer.slice(0));
      const gpuScores = await readBuffer(device, staging[l].scores, 0, G * 256 * 4);
      for (let g = 0; g < G; g++) {
        const dims = dimsOf(l, g);
        const group = Array.from({ length: H / G }, (_, i) => queries[l].subarray((g * (H / G) + i) * d, (g * (H / G) + i + 1) * d));
        const headKeys = keys[l].map((row) => row.subarray(g * d, (g + 1) * d));
        const want = partialScores(group, headKeys.slice(0, tokens - 1), dims, scale);
        const got = gpuScores.subarray(g * 256, g * 256 + tokens - 1);
        want.forEach((w, s) => expect(Math.abs(got[s] - w)).toBeLessThanOrEqual(SCORE_TOLERANCE * (1 + Math.abs(w))));
        const list = [...indices.subarray(g * (budget - 1), g * (budget - 1) + lengths[g])].sort((a, b) => a - b);
        // The same scores: exactly the reference's selection.
        expect(list).toEqual(selectTokens(got, tokens, budget));
        if (zeroKeys) {
          expect(list).toEqual(Array.from({ length: budget - 1 }, (_, s) => s));
          continue;
        }
        expect(list).toEqual(selectTokens(want, tokens, budget));
        // The cut is not a near-tie (else f32 rounding could legitimately flip it): the 39th and 40th best differ.
        const sorted = [...want].sort((a, b) => b - a);
        expect(Math.abs(sorted[budget - 2] - sorted[budget - 1])).toBeGreaterThan(1e-5 * Math.abs(sorted[budget - 2]));
      }
    }
    cache.release(seq);
  });
});
