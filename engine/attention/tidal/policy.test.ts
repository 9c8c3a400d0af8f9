// TidalDecode's GPU selection on Dawn/SwiftShader against the CPU reference: the top-k kernel (ties to the lower
// index) and the policy's token lists from the same 'logits' statistic, layer roles and plans.
import { describe, expect, it } from 'vitest';
import { readBuffer } from '../../gpu/index.ts';
import { nodeGpuDevice } from '../../gpu/node-webgpu.test-helper.ts';
import { PagedKVCache } from '../../kv/index.ts';
import type { ModelConfig } from '../../model/index.ts';
import type { PolicyStepContext } from '../policy.ts';
import { createTidalPolicy } from './policy.ts';
import { resolveTidalParams, tidalSelect } from './reference.ts';
import { TokenTopK } from './topk.ts';

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

const usage = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

async function readU32(device: GPUDevice, buffer: GPUBuffer, bytes: number): Promise<Uint32Array> {
  return new Uint32Array((await readBuffer(device, buffer, 0, bytes)).buffer.slice(0));
}

/** Top k of [0, n) by score, ties to the lower index, ascending: tidalSelect over n + 1 slots picks k of the first n. */
const reference = (scores: ArrayLike<number>, n: number, k: number) => tidalSelect(scores, n + 1, k + 1);

describe('TokenTopK', () => {
  it('picks the reference indices per row, ties to the lower index, ascending (sizes across thread chunks)', async () => {
    const device = await nodeGpuDevice();
    const next = rng(5);
    const rows = 3;
    const stride = 1200;
    const cases: [number, number][] = [[1100, 255], [1100, 1], [37, 10], [37, 37], [300, 500], [5, 0], [1000, 999], [257, 256]];
    const topK = new TokenTopK(device, cases.length);
    const scores = new Float32Array(rows * stride);
    // Coarse values (many ties) and negatives; row 2 all equal.
    for (let i = 0; i < scores.length; i++) scores[i] = Math.round((next() * 2 - 1) * 20) / 4;
    scores.fill(0.5, 2 * stride, 3 * stride);
    const scoreBuffer = device.createBuffer({ size: scores.byteLength, usage: usage() });
    device.queue.writeBuffer(scoreBuffer, 0, scores);
    const outs = cases.map(() => ({ out: device.createBuffer({ size: rows * stride * 4, usage: usage() }), lengths: device.createBuffer({ size: rows * 4, usage: usage() }) }));
    const encoder = device.createCommandEncoder();
    cases.forEach(([n, k], slot) => topK.encode(encoder, slot, { scores: scoreBuffer, stride, rows, length: n, k, out: outs[slot].out, outStride: stride, outLengths: outs[slot].lengths }));
    device.queue.submit([encoder.finish()]);
    for (const [slot, [n, k]] of cases.entries()) {
      const lengths = await readU32(device, outs[slot].lengths, rows * 4);
      const out = await readU32(device, outs[slot].out, rows * stride * 4);
      for (let r = 0; r < rows; r++) {
        const want = reference(scores.subarray(r * stride, (r + 1) * stride), n, k);
        expect(lengths[r]).toBe(want.length);
        expect([...out.subarray(r * stride, r * stride + lengths[r])], `n=${n} k=${k} row ${r}`).toEqual(want);
      }
    }
  });
});

describe('TidalDecode on the GPU', () => {
  it('a re-selection layer past the model\'s last layer is a typed error when the policy meets the model', () => {
    const policy = createTidalPolicy({ policy: 'tidal', reselectLayer: 13 });
    expect(() => policy.checkModel({ numLayers: 8 } as ModelConfig)).toThrow(/re-selection layer of 13 is past the last/);
    const fitted = createTidalPolicy({ policy: 'tidal' });
    fitted.checkModel({ numLayers: 32 } as ModelConfig);
    expect(fitted.layers).toEqual({ budget: 256, selectLayer: 2, reselectLayer: 13 });
    expect(fitted.needs.denseLayers).toEqual([0, 1, 2, 13]);
    expect(fitted.needs.statistics(2, 'decode', 0)).toBe('logits');
    expect(fitted.needs.statistics(13, 'decode', 0)).toBe('logits');
    expect(fitted.needs.statistics(5, 'decode', 0)).toBe('none');
    expect(fitted.needs.statistics(2, 'prefill', 0)).toBe('none');
  });

  it('lists exactly the reference tokens from the selection and re-selection layers\' logits', async () => {
    const device = await nodeGpuDevice();
    const L = 6;
    const G = 2;
    const d = 8;
    const cache = new PagedKVCache(device, { numLayers: L, numKvHeads: G, headDim: d, maxTokensPerSequence: 512, memoryBudgetBytes: L * G * 40 * (2 * 16 * d + 16) * 4 });
    const seq = cache.createSequence();
    const tokens = 300;
    cache.reserve(seq, tokens);
    const budget = 40;
    const policy = createTidalPolicy({ policy: 'tidal', budget, selectLayer: 1, reselectLayer: 3 });
    policy.checkModel({ numLayers: L } as ModelConfig);
    const stride = cache.maxTokensPerSequence;
    const next = rng(9);
    const ctxOf = (layer: number): PolicyStepContext => ({
      device, cache, seq, layer, phase: 'decode', step: 3, startPosition: tokens - 1, numTokens: 1, query: null, scale: 1 / Math.sqrt(d),
    });
    const logits = [1, 3].map(() => Float32Array.from({ length: G * stride }, () => Math.round(next() * 64) / 8));
    const statsBuffers = logits.map((l) => {
      const b = device.createBuffer({ size: l.byteLength, usage: usage() });
      device.queue.writeBuffer(b, 0, l);
      return b;
    });
    const staging = [0, 1].map(() => ({ indices: device.createBuffer({ size: G * (budget - 1) * 4, usage: usage() }), lengths: device.createBuffer({ size: G * 4, usage: usage() }) }));
    const encoder = device.createCommandEncoder();
    const roles: string[] = [];
    for (let l = 0; l < L; l++) {
      const select = l === 1 || l === 3;
      if (!select) {
        const plan = policy.plan(encoder, ctxOf(l));
        roles.push(plan.kind);
        if (plan.kind === 'tokens' && (l === 2 || l === 4)) {
          const s = staging[l === 2 ? 0 : 1];
          expect(plan.maxPerHead).toBe(budget - 1);
          encoder.copyBufferToBuffer(plan.indices, 0, s.indices, 0, G * (budget - 1) * 4);
          encoder.copyBufferToBuffer(plan.lengths, 0, s.lengths, 0, G * 4);
        }
      } else {
        roles.push('select');
        policy.afterAttention(encoder, ctxOf(l), { kind: 'logits', buffer: statsBuffers[l === 1 ? 0 : 1], stride });
      }
    }
    device.queue.submit([encoder.finish()]);
    expect(roles).toEqual(['dense', 'select', 'tokens', 'select', 'tokens', 'tokens']);
    for (const which of [0, 1]) {
      const lengths = await readU32(device, staging[which].lengths, G * 4);
      const indices = await readU32(device, staging[which].indices, G * (budget - 1) * 4);
      for (let g = 0; g < G; g++) {
        const want = tidalSelect(logits[which].subarray(g * stride, (g + 1) * stride), tokens, budget);
        expect([...indices.subarray(g * (budget - 1), g * (budget - 1) + lengths[g])]).toEqual(want);
      }
    }
    expect(resolveTidalParams(policy.params, L).reselectLayer).toBe(3);
    cache.release(seq);
  });
});
