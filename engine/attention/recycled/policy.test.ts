// Recycled Attention's GPU schedule and lists on Dawn/SwiftShader against the CPU reference: fixed stride and the
// dynamic cosine test decided on the GPU, the recorded top-K from the same column sums, and each step's token list.
import { describe, expect, it } from 'vitest';
import { readBuffer } from '../../gpu/index.ts';
import { nodeGpuDevice } from '../../gpu/node-webgpu.test-helper.ts';
import { PagedKVCache } from '../../kv/index.ts';
import type { ModelConfig } from '../../model/index.ts';
import type { PolicyStepContext } from '../policy.ts';
import { createRecycledPolicy } from './policy.ts';
import { recycledReadSet, recycledRecord, RecycledSchedule, type RecycledParams } from './reference.ts';

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

async function runSchedule(spec: string, params: RecycledParams, seed: number): Promise<boolean[][]> {
  const device = await nodeGpuDevice();
  const L = 2;
  const G = 2;
  const H = 4;
  const d = 8;
  const prompt = 40;
  const steps = 14;
  const cache = new PagedKVCache(device, { numLayers: L, numKvHeads: G, headDim: d, maxTokensPerSequence: 128, memoryBudgetBytes: L * G * 8 * (2 * 16 * d + 16) * 4 });
  const [name, rest] = spec.split(':');
  const policy = createRecycledPolicy({ policy: name, ...Object.fromEntries(rest.split(',').map((kv) => kv.split('='))) });
  policy.checkModel({ numHeads: H } as ModelConfig);
  const seq = cache.createSequence();
  cache.reserve(seq, prompt);
  const next = rng(seed);
  const stride = cache.maxTokensPerSequence;
  const vec = (): Float32Array<ArrayBuffer> => Float32Array.from({ length: H * d }, () => next() * 2 - 1);
  // Queries that turn (a fresh random vector: cosine near 0) or stay (a small perturbation: cosine near 1).
  const anchors = [vec(), vec(), vec()];
  const queryOf = (step: number, layer: number) => {
    const pattern = layer === 0 ? [0, 0, 0, 1, 1, 1, 1, 2, 2, 0, 0, 0, 0, 1] : [2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 1, 1];
    const base = anchors[pattern[step]];
    return base.map((x) => x + (next() - 0.5) * 0.05);
  };
  const schedules = Array.from({ length: L }, () => new RecycledSchedule(params));
  const recorded: { slots: number[][]; fullTokens: number }[] = Array.from({ length: L }, () => ({ slots: [], fullTokens: 0 }));
  const queries = Array.from({ length: L }, () => device.createBuffer({ size: H * d * 4, usage: usage() }));
  const stats = Array.from({ length: L }, () => device.createBuffer({ size: G * stride * 4, usage: usage() }));
  const staging = Array.from({ length: L }, () => ({ indices: device.createBuffer({ size: G * stride * 4, usage: usage() }), lengths: device.createBuffer({ size: G * 4, usage: usage() }) }));
  const fulls: boolean[][] = [];
  for (let step = 0; step < steps; step++) {
    cache.reserve(seq, 1);
    const tokens = prompt + step + 1;
    const encoder = device.createCommandEncoder();
    const sums: Float32Array[] = [];
    const stepQueries: Float32Array<ArrayBuffer>[] = [];
    for (let l = 0; l < L; l++) {
      const q = queryOf(step, l);
      stepQueries.push(q);
      device.queue.writeBuffer(queries[l], 0, q);
      const ctx: PolicyStepContext = { device, cache, seq, layer: l, phase: 'decode', step, startPosition: tokens - 1, numTokens: 1, query: queries[l], scale: 1 };
      const plan = policy.plan(encoder, ctx);
      if (plan.kind !== 'tokens') throw new Error('Recycled plans token lists');
      encoder.copyBufferToBuffer(plan.indices, 0, staging[l].indices, 0, G * stride * 4);
      encoder.copyBufferToBuffer(plan.lengths, 0, staging[l].lengths, 0, G * 4);
      // Column sums as the kernels would give them for the slots read (coarse values: ties happen).
      const columnSums = Float32Array.from({ length: G * stride }, () => Math.round(next() * 16) / 8);
      sums[l] = columnSums;
      device.queue.writeBuffer(stats[l], 0, columnSums);
      const statistic = policy.needs.statistics(l, 'decode', step);
      policy.afterAttention(encoder, ctx, { kind: statistic, buffer: statistic === 'none' ? null : stats[l], stride });
    }
    device.queue.submit([encoder.finish()]);
    const row: boolean[] = [];
    for (let l = 0; l < L; l++) {
      const full = schedules[l].next(step, stepQueries[l]);
      row.push(full);
      const lengths = await readU32(device, staging[l].lengths, G * 4);
      const indices = await readU32(device, staging[l].indices, G * stride * 4);
      for (let g = 0; g < G; g++) {
        const got = [...indices.subarray(g * stride, g * stride + lengths[g])].sort((a, b) => a - b);
        const rec = recorded[l];
        const want = full
          ? Array.from({ length: tokens - 1 }, (_, i) => i)
          : recycledReadSet(rec.slots[g], rec.fullTokens, tokens).filter((s) => s !== tokens - 1);
        expect(got, `step ${step} layer ${l} head ${g}`).toEqual(want);
      }
      if (full) {
        recorded[l] = { slots: Array.from({ length: G }, (_, g) => recycledRecord(sums[l].subarray(g * stride, (g + 1) * stride), tokens, params.budget)), fullTokens: tokens };
      }
    }
    fulls.push(row);
  }
  cache.release(seq);
  return fulls;
}

describe('Recycled Attention on the GPU', () => {
  it('fixed stride: full steps every stride steps; recycle steps read exactly the reference tokens', async () => {
    const fulls = await runSchedule('recycled:budget=6,stride=4', { budget: 6, stride: 4, dynamic: 0, checkEvery: 5 }, 3);
    expect(fulls.map((r) => r[0])).toEqual([true, false, false, false, true, false, false, false, true, false, false, false, true, false]);
  });

  it('dynamic: the GPU decides full steps by query cosine on check steps, as the reference does', async () => {
    const fulls = await runSchedule('recycled:budget=5,dynamic=0.8,check-every=2', { budget: 5, stride: 16, dynamic: 0.8, checkEvery: 2 }, 4);
    // Both outcomes occur on check steps, and the layers (different queries) decide differently.
    expect(fulls.map((r) => r[0])).toEqual([true, false, false, false, true, false, false, false, true, false, true, false, false, false]);
    expect(fulls.map((r) => r[1])).toEqual([true, false, false, false, false, false, true, false, false, false, false, false, true, false]);
  });
});
