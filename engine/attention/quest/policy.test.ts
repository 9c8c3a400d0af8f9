// Quest's GPU estimator and selection on Dawn/SwiftShader against the CPU reference: the page key bounds kept on
// append, and the pages each (layer, KV head) plan lists for the same keys and query.
import { describe, expect, it } from 'vitest';
import { readBuffer } from '../../gpu/index.ts';
import { nodeGpuDevice } from '../../gpu/node-webgpu.test-helper.ts';
import { PagedKVCache } from '../../kv/index.ts';
import { applyRope, ropeInverseFrequencies, ropeTable, type ModelConfig, type RopeLayout } from '../../model/index.ts';
import { DensePolicy, PagedAttention, type PolicyStepContext } from '../index.ts';
import { QuestPolicy } from './policy.ts';
import { questPageBounds, questPageScores, questPlanPages } from './reference.ts';

/** f32 RoPE on the GPU (fused or not) against the CPU's: bounds agree to rounding. */
const BOUNDS_TOLERANCE = 1e-6;

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

async function readU32(device: GPUDevice, buffer: GPUBuffer, bytes: number): Promise<Uint32Array> {
  return new Uint32Array((await readBuffer(device, buffer, 0, bytes)).buffer.slice(0));
}

describe('Quest policy', () => {
  it('checks its dense layers against the model and needs it before a step', () => {
    const policy = new QuestPolicy({ budget: 64, denseLayers: 6 });
    expect(() => policy.checkModel({ numLayers: 5, headDim: 8, ropeTheta: 10000, ropeScaling: null, numHeads: 2, ropeLayout: 'half' } as unknown as ModelConfig))
      .toThrow(/attention\.denseLayers: the model has 5 layers; 6 dense layers/);
    expect(policy.needs).toMatchObject({ denseLayers: [0, 1, 2, 3, 4, 5], granularity: 'page', metadata: ['page-key-min-max'], evicts: false });
  });
});

// The last case prefills in chunks of 24 (six boundaries, most inside a page): the bounds must grow across chunks.
describe.each<[RopeLayout, boolean, number]>([['half', false, 150], ['interleaved', false, 150], ['half', true, 150], ['half', false, 24]])('Quest on the GPU (%s RoPE, all keys zero: %s, prefill chunks of %i)', (ropeLayout, zeroKeys, chunk) => {
  it('keeps page key bounds on append and lists exactly the reference pages per (layer, KV head)', async () => {
    const device = await nodeGpuDevice();
    const H = 6;
    const G = 2;
    const d = 16;
    const L = 3;
    const prompt = 150; // 10 pages: 9 full, the 10th holds the prompt's last 6 tokens and the decode token
    const config = { headDim: d, numHeads: H, numKvHeads: G, numLayers: L, ropeTheta: 10000, ropeScaling: null, ropeLayout } as unknown as ModelConfig;
    const cache = new PagedKVCache(device, {
      numLayers: L, numKvHeads: G, headDim: d, maxTokensPerSequence: 256, memoryBudgetBytes: L * G * 16 * (2 * 16 * d + 16) * 4,
    });
    const attention = new PagedAttention(device, cache, { numHeads: H, numKvHeads: G, headDim: d, ropeLayout, maxPrefillTokens: prompt });
    const budget = 70; // 5 pages: the newest and the top 4 of the 9 older ones
    const policy = new QuestPolicy({ budget, denseLayers: 1 });
    policy.checkModel(config);
    const inv = ropeInverseFrequencies(config);
    const next = rng(ropeLayout === 'half' ? 11 : 12);
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
    const io = Array.from({ length: L }, () => ({
      q: device.createBuffer({ size: prompt * H * d * 4, usage }), k: device.createBuffer({ size: prompt * G * d * 4, usage }),
      v: device.createBuffer({ size: prompt * G * d * 4, usage }), out: device.createBuffer({ size: prompt * H * d * 4, usage }),
    }));
    const seq = cache.createSequence();
    const keys: Float32Array[][] = Array.from({ length: L }, () => []); // rotated, per layer: [slot][G*d]

    // Prefill through PagedAttention with the policy, one step per chunk: its onAppend keeps the bounds.
    let table = ropeTable(inv, 0, prompt);
    let encoder: GPUCommandEncoder;
    for (let start = 0; start < prompt; start += chunk) {
      const n = Math.min(chunk, prompt - start);
      table = ropeTable(inv, start, n);
      attention.beginStep(seq, { startPosition: start, numTokens: n, ...table });
      encoder = device.createCommandEncoder();
      for (let l = 0; l < L; l++) {
        // Zero keys: every page bound is 0, a tie among all candidates that the older pages must win.
        const k = zeroKeys ? new Float32Array(n * G * d) : randoms(next, n * G * d);
        device.queue.writeBuffer(io[l].q, 0, randoms(next, n * H * d));
        device.queue.writeBuffer(io[l].k, 0, k);
        device.queue.writeBuffer(io[l].v, 0, randoms(next, n * G * d));
        attention.encodeLayer(encoder, { layer: l, ...io[l], numTokens: n, policy });
        for (let t = 0; t < n; t++) {
          const row = k.slice(t * G * d, (t + 1) * G * d);
          for (let g = 0; g < G; g++) applyRope(row, g * d, d, ropeLayout, table.cos, table.sin, t);
          keys[l].push(row);
        }
      }
      device.queue.submit([encoder.finish()]);
    }

    // A decode step: the token's K/V appended (dense kernels), then the policy's hooks for the plan of each layer.
    table = ropeTable(inv, prompt, 1);
    attention.beginStep(seq, { startPosition: prompt, numTokens: 1, ...table });
    encoder = device.createCommandEncoder();
    const queries: Float32Array[] = [];
    const staging = Array.from({ length: L }, () => ({
      indices: device.createBuffer({ size: G * 16 * 4, usage }), lengths: device.createBuffer({ size: G * 4, usage }),
    }));
    let maxPerHead = 0;
    for (let l = 0; l < L; l++) {
      const q = randoms(next, H * d);
      device.queue.writeBuffer(io[l].q, 0, q);
      device.queue.writeBuffer(io[l].k, 0, randoms(next, G * d));
      device.queue.writeBuffer(io[l].v, 0, randoms(next, G * d));
      attention.encodeLayer(encoder, { layer: l, ...io[l], numTokens: 1, policy: new DensePolicy() });
      const ctx: PolicyStepContext = {
        device, cache, seq, layer: l, phase: 'decode', step: 0, startPosition: prompt, numTokens: 1, query: io[l].q, scale: 1 / Math.sqrt(d),
      };
      policy.onAppend(encoder, ctx);
      if (l < 1) continue; // dense layer: no plan
      const plan = policy.plan(encoder, ctx);
      if (plan.kind === 'dense') throw new Error('Quest planned dense');
      maxPerHead = plan.maxPerHead;
      encoder.copyBufferToBuffer(plan.indices, 0, staging[l].indices, 0, G * plan.maxPerHead * 4);
      encoder.copyBufferToBuffer(plan.lengths, 0, staging[l].lengths, 0, G * 4);
      for (let h = 0; h < H; h++) applyRope(q, h * d, d, ropeLayout, table.cos, table.sin, 0);
      queries[l] = q;
    }
    device.queue.submit([encoder.finish()]);
    expect(maxPerHead).toBe(4);

    const tokens = prompt + 1;
    for (let l = 1; l < L; l++) {
      const lengths = await readU32(device, staging[l].lengths, G * 4);
      const indices = await readU32(device, staging[l].indices, G * maxPerHead * 4);
      for (let g = 0; g < G; g++) {
        const headKeys = keys[l].map((row) => row.subarray(g * d, (g + 1) * d));
        const bounds = questPageBounds(headKeys, d, 16);
        // The GPU bounds of the older pages (read through the block table's arena page ids).
        const arena = cache.arenaOf(l);
        const arenaBounds = await readBuffer(device, (policy as unknown as { state: { bounds: { buffers: GPUBuffer[] } } }).state.bounds.buffers[arena.index], 0, arena.numPages * 2 * d * 4);
        for (let p = 0; p < 9; p++) {
          const id = cache.pageId(seq, p, l, g);
          for (let c = 0; c < d; c++) {
            expect(Math.abs(arenaBounds[id * 2 * d + c] - bounds.min[p * d + c])).toBeLessThanOrEqual(BOUNDS_TOLERANCE);
            expect(Math.abs(arenaBounds[id * 2 * d + d + c] - bounds.max[p * d + c])).toBeLessThanOrEqual(BOUNDS_TOLERANCE);
          }
        }
        const group = Array.from({ length: H / G }, (_, i) => queries[l].subarray((g * (H / G) + i) * d, (g * (H / G) + i + 1) * d));
        const scores = questPageScores(group, bounds, d);
        const want = questPlanPages(scores, tokens, budget, 16);
        const got = [...indices.subarray(g * maxPerHead, g * maxPerHead + lengths[g])].sort((a, b) => a - b);
        expect(got).toEqual(want);
        if (zeroKeys) {
          expect(got).toEqual([0, 1, 2, 3]);
          continue;
        }
        // The cut is not a near-tie (else f32 rounding could legitimately flip it): the 4th and 5th best differ.
        const sorted = [...scores.subarray(0, 9)].sort((a, b) => b - a);
        expect(Math.abs(sorted[3] - sorted[4])).toBeGreaterThan(1e-5 * Math.abs(sorted[3]));
      }
    }
    cache.release(seq);
  });
});
