// Paged attention kernels on Dawn/SwiftShader against the CPU reference: prefill, decode, continuation, GQA, arenas, fork.
import { describe, expect, it } from 'vitest';
import { readBuffer } from '../gpu/index.ts';
import { nodeGpuDevice } from '../gpu/node-webgpu.test-helper.ts';
import { PagedKVCache, type KvDtype, type PagedKVCacheOptions, type SequenceHandle } from '../kv/index.ts';
import { f16Bits } from '../quant/index.ts';
import { ropeInverseFrequencies, ropeTable, type RopeLayout } from '../model/index.ts';
import type { DecodeChunkVariant } from '../wgsl/index.ts';
import type { PrefillSplitRule, ReferenceStepInput } from './index.ts';
import {
  createPolicy, listPolicies, PagedAttention, ReferenceKVCache, referenceAttention, referenceColumnSums, registerPolicy,
  type AttentionPolicy, type AttentionStatistics, type PolicyStepContext,
} from './index.ts';

/**
 * Max abs error allowed against the f64-summed reference. Outputs are convex combinations of values in [-1, 1];
 * f32 rounding of the RoPE products, dot products and exp (WGSL allows 3 + 2|x| ULP) stays near 1e-6 here.
 */
const TOLERANCE = 1e-5;
/** The usages ORT gives its GPU tensors (a function: the GPUBufferUsage global appears with the device). */
const ortUsage = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
const ROPE_THETA = 10000;
const MAX_TOKENS = 256;

interface Shape {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  ropeLayout: RopeLayout;
  numLayers: number;
}

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

function randoms(next: () => number, count: number, amplitude: number): Float32Array<ArrayBuffer> {
  const a = new Float32Array(count);
  for (let i = 0; i < count; i++) a[i] = (next() * 2 - 1) * amplitude;
  return a;
}

function budgetFor(shape: Shape, sequences: number): number {
  const bytesPerPage = (2 * 16 * shape.headDim + 16) * 4;
  return sequences * shape.numLayers * shape.numKvHeads * Math.ceil(MAX_TOKENS / 16) * bytesPerPage;
}

class Harness {
  readonly cache: PagedKVCache;
  readonly attention: PagedAttention;
  private readonly io: { q: GPUBuffer; k: GPUBuffer; v: GPUBuffer; out: GPUBuffer }[] = [];
  private readonly inv: Float64Array;

  constructor(
    readonly device: GPUDevice, readonly shape: Shape, maxPrefillTokens: number, cacheOptions: Partial<PagedKVCacheOptions> = {}, prefillSplitRule?: PrefillSplitRule,
    decodeChunkVariant?: DecodeChunkVariant,
  ) {
    const { numHeads: H, numKvHeads: G, headDim: d, numLayers: L } = shape;
    this.cache = new PagedKVCache(device, {
      numLayers: L, numKvHeads: G, headDim: d, memoryBudgetBytes: budgetFor(shape, 2), maxTokensPerSequence: MAX_TOKENS, ...cacheOptions,
    });
    this.attention = new PagedAttention(device, this.cache, { numHeads: H, numKvHeads: G, headDim: d, ropeLayout: shape.ropeLayout, maxPrefillTokens, prefillSplitRule, decodeChunkVariant });
    // One set per layer, like the segments' outputs.
    for (let l = 0; l < L; l++) {
      const make = (floats: number) => device.createBuffer({ size: maxPrefillTokens * floats * 4, usage: ortUsage() });
      this.io.push({ q: make(H * d), k: make(G * d), v: make(G * d), out: make(H * d) });
    }
    this.inv = ropeInverseFrequencies({ headDim: d, ropeTheta: ROPE_THETA, ropeScaling: null });
  }

  /** Runs one step on the GPU and the reference; returns the max abs error over all layers. */
  async step(seq: SequenceHandle, ref: ReferenceKVCache, startPosition: number, n: number, next: () => number, policy?: AttentionPolicy): Promise<StepResult> {
    const { numHeads: H, numKvHeads: G, headDim: d, numLayers: L } = this.shape;
    const { cos, sin } = ropeTable(this.inv, startPosition, n);
    this.attention.beginStep(seq, { startPosition, numTokens: n, cos, sin });
    const encoder = this.device.createCommandEncoder();
    const inputs = [];
    for (let l = 0; l < L; l++) {
      const q = randoms(next, n * H * d, 2);
      const k = randoms(next, n * G * d, 1);
      const v = randoms(next, n * G * d, 1);
      const io = this.io[l];
      this.device.queue.writeBuffer(io.q, 0, q);
      this.device.queue.writeBuffer(io.k, 0, k);
      this.device.queue.writeBuffer(io.v, 0, v);
      this.attention.encodeLayer(encoder, { layer: l, ...io, numTokens: n, policy });
      inputs.push({ q, k, v });
    }
    this.device.queue.submit([encoder.finish()]);
    let error = 0;
    const outputs: Float32Array[] = [];
    const steps: ReferenceStepInput[] = [];
    for (let l = 0; l < L; l++) {
      const got = await readBuffer(this.device, this.io[l].out, 0, n * H * d * 4);
      const input = { ...inputs[l], numTokens: n, startPosition, cos, sin };
      const want = referenceAttention(ref, l, this.shape, input);
      for (let i = 0; i < got.length; i++) error = Math.max(error, Math.abs(got[i] - want[i]));
      outputs.push(got);
      steps.push(input);
    }
    return { error, outputs, inputs: steps };
  }
}

interface StepResult {
  error: number;
  outputs: Float32Array[];
  /** Each layer's inputs, for reference statistics of the same step. */
  inputs: ReferenceStepInput[];
}

/** Prefill 37 (3 pages, the last partial), 5 decode steps, a 9-token continuation chunk, 2 more decode steps. */
async function conversation(h: Harness, seed: number, kvDtype: KvDtype = 'f32'): Promise<{ errors: number[]; outputs: Float32Array[][] }> {
  const next = rng(seed);
  const seq = h.cache.createSequence();
  const ref = new ReferenceKVCache(h.shape.numLayers, h.shape.numKvHeads, kvDtype);
  const plan: [number, number][] = [[0, 37], [37, 1], [38, 1], [39, 1], [40, 1], [41, 1], [42, 9], [51, 1], [52, 1]];
  const errors: number[] = [];
  const outputs: Float32Array[][] = [];
  for (const [start, n] of plan) {
    const r = await h.step(seq, ref, start, n, next);
    errors.push(r.error);
    outputs.push(r.outputs);
  }
  expect(h.cache.tokensHeld(seq)).toBe(53);
  h.cache.release(seq);
  return { errors, outputs };
}

const CASES: Shape[] = [
  { numHeads: 4, numKvHeads: 2, headDim: 8, ropeLayout: 'half', numLayers: 2 },
  { numHeads: 8, numKvHeads: 2, headDim: 8, ropeLayout: 'interleaved', numLayers: 2 },
  { numHeads: 8, numKvHeads: 2, headDim: 16, ropeLayout: 'half', numLayers: 2 },
  { numHeads: 4, numKvHeads: 2, headDim: 16, ropeLayout: 'interleaved', numLayers: 2 },
  { numHeads: 4, numKvHeads: 2, headDim: 64, ropeLayout: 'half', numLayers: 2 },
  { numHeads: 8, numKvHeads: 2, headDim: 64, ropeLayout: 'interleaved', numLayers: 2 },
  // GQA 1, and head dims whose prefill rows take 5 and 8 threads (80: 60 of a workgroup's 64 threads serve rows).
  { numHeads: 3, numKvHeads: 3, headDim: 64, ropeLayout: 'half', numLayers: 1 },
  { numHeads: 6, numKvHeads: 2, headDim: 80, ropeLayout: 'interleaved', numLayers: 1 },
  { numHeads: 4, numKvHeads: 1, headDim: 128, ropeLayout: 'half', numLayers: 1 },
];

describe('PagedAttention (dense) against the CPU reference', () => {
  for (const shape of CASES) {
    const name = `H=${shape.numHeads} G=${shape.numKvHeads} d=${shape.headDim} ${shape.ropeLayout}`;
    it(`${name}: prefill 37, decode, continuation chunk, decode`, async () => {
      const device = await nodeGpuDevice();
      const h = new Harness(device, shape, 40);
      const { errors } = await conversation(h, 1234 + shape.headDim);
      console.log(`${name}: max abs error per step ${errors.map((e) => e.toExponential(1)).join(' ')}`);
      for (const e of errors) expect(e).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  // The GPUs' decode split (this adapter takes 'serial'): head dims whose value pairs fill the 256 threads unevenly
  // (d=80: 6 lanes of 40, 16 threads idle), exactly (d=8, 128; 16 below) and a one-head group.
  for (const shape of CASES.filter((c, i) => i === 0 || [80, 128].includes(c.headDim) || c.numHeads === c.numKvHeads)) {
    const name = `H=${shape.numHeads} G=${shape.numKvHeads} d=${shape.headDim} ${shape.ropeLayout}`;
    it(`${name}, decode-chunk lanes: prefill 37, decode, continuation chunk, decode`, async () => {
      const device = await nodeGpuDevice();
      const h = new Harness(device, shape, 40, {}, undefined, 'lanes');
      const { errors } = await conversation(h, 1234 + shape.headDim);
      console.log(`${name} lanes: max abs error per step ${errors.map((e) => e.toExponential(1)).join(' ')}`);
      for (const e of errors) expect(e).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  it.for(['serial', 'lanes'] as const)('a long prefill (several workgroups and tiles) and decode over several splits, decode-chunk %s', async (variant) => {
    const device = await nodeGpuDevice();
    const shape: Shape = { numHeads: 8, numKvHeads: 2, headDim: 16, ropeLayout: 'half', numLayers: 1 };
    const h = new Harness(device, shape, 150, {}, undefined, variant);
    const next = rng(7);
    const seq = h.cache.createSequence();
    const ref = new ReferenceKVCache(1, 2);
    const errors = [(await h.step(seq, ref, 0, 150, next)).error];
    for (let p = 150; p < 155; p++) errors.push((await h.step(seq, ref, p, 1, next)).error);
    console.log(`long: max abs error per step ${errors.map((e) => e.toExponential(1)).join(' ')}`);
    for (const e of errors) expect(e).toBeLessThanOrEqual(TOLERANCE);
  });

  it('split-K: key tiles split across workgroups (and merged) equal the reference, continuation chunks included', async () => {
    const device = await nodeGpuDevice();
    // Split whenever there is a second tile: a 150-token prefill over 5 tiles of 32 slots runs as 5 splits.
    const rule = { targetWorkgroups: 1 << 20, minTilesPerSplit: 1 };
    const errors: number[] = [];
    for (const shape of [
      { numHeads: 9, numKvHeads: 3, headDim: 64, ropeLayout: 'half', numLayers: 1 },
      { numHeads: 8, numKvHeads: 2, headDim: 16, ropeLayout: 'interleaved', numLayers: 1 },
    ] satisfies Shape[]) {
      const h = new Harness(device, shape, 150, {}, rule);
      const next = rng(13);
      const seq = h.cache.createSequence();
      const ref = new ReferenceKVCache(1, shape.numKvHeads);
      for (const [start, n] of [[0, 150], [150, 1], [151, 40], [191, 1]]) {
        device.pushErrorScope('validation');
        errors.push((await h.step(seq, ref, start, n, next)).error);
        expect((await device.popErrorScope())?.message).toBeUndefined();
        if (n > 1) expect(h.attention.stepSplits).toBeGreaterThan(2);
      }
    }
    console.log(`split-K: max abs error per step ${errors.map((e) => e.toExponential(1)).join(' ')}`);
    for (const e of errors) expect(e).toBeLessThanOrEqual(TOLERANCE);
  });

  it('gives identical results when a tiny binding limit splits the pool into one arena per layer', async () => {
    const device = await nodeGpuDevice();
    const shape: Shape = { numHeads: 4, numKvHeads: 2, headDim: 16, ropeLayout: 'half', numLayers: 3 };
    const whole = new Harness(device, shape, 40);
    expect(whole.cache.arenas.length).toBe(1);
    const layerBytes = whole.cache.maxPagesPerLayer * 2 * 16 * shape.headDim * 4;
    const split = new Harness(device, shape, 40, { maxBindingBytes: layerBytes + 100 });
    expect(split.cache.arenas.map((a) => a.firstLayer)).toEqual([0, 1, 2]);
    const a = await conversation(whole, 99);
    const b = await conversation(split, 99);
    for (const e of [...a.errors, ...b.errors]) expect(e).toBeLessThanOrEqual(TOLERANCE);
    for (let s = 0; s < a.outputs.length; s++) {
      for (let l = 0; l < shape.numLayers; l++) expect(b.outputs[s][l]).toEqual(a.outputs[s][l]);
    }
  });

  it('a fork shares the prefix and copies the shared last page on write; both branches stay exact', async () => {
    const device = await nodeGpuDevice();
    const shape: Shape = { numHeads: 4, numKvHeads: 2, headDim: 16, ropeLayout: 'interleaved', numLayers: 2 };
    const h = new Harness(device, shape, 40);
    const next = rng(5);
    const a = h.cache.createSequence();
    const refA = new ReferenceKVCache(2, 2);
    expect((await h.step(a, refA, 0, 37, next)).error).toBeLessThanOrEqual(TOLERANCE);
    const b = h.cache.fork(a);
    const refB = refA.fork();
    const lastPage = h.cache.pageId(a, 2, 1, 1);
    expect(h.cache.arenaOf(1).allocator.refCount(lastPage)).toBe(2);
    // Interleave the branches so each write would clobber the other's page without copy on write.
    for (let p = 37; p < 41; p++) {
      expect((await h.step(a, refA, p, 1, next)).error).toBeLessThanOrEqual(TOLERANCE);
      expect((await h.step(b, refB, p, 1, next)).error).toBeLessThanOrEqual(TOLERANCE);
    }
    expect(h.cache.pageId(a, 0, 0, 0)).toBe(h.cache.pageId(b, 0, 0, 0));
    expect(h.cache.pageId(a, 2, 1, 1)).not.toBe(h.cache.pageId(b, 2, 1, 1));
    h.cache.release(a);
    expect((await h.step(b, refB, 41, 3, next)).error).toBeLessThanOrEqual(TOLERANCE);
    h.cache.release(b);
    expect(h.cache.freePages).toBe(h.cache.totalPages);
  });

  it('truncating a sequence rewinds it: the next chunk attends to the kept prefix only', async () => {
    const device = await nodeGpuDevice();
    const shape: Shape = { numHeads: 4, numKvHeads: 2, headDim: 8, ropeLayout: 'half', numLayers: 2 };
    const h = new Harness(device, shape, 40);
    const next = rng(11);
    const seq = h.cache.createSequence();
    const ref = new ReferenceKVCache(2, 2);
    await h.step(seq, ref, 0, 20, next);
    h.cache.truncate(seq, 0);
    // A fresh reference: the truncated tokens must be invisible.
    const fresh = new ReferenceKVCache(2, 2);
    expect((await h.step(seq, fresh, 0, 33, next)).error).toBeLessThanOrEqual(TOLERANCE);
    expect((await h.step(seq, fresh, 33, 1, next)).error).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe('attention policies', () => {
  it('has dense registered, creates it from a spec and rejects unknown names and parameters', () => {
    expect(listPolicies()).toContain('dense');
    const dense = createPolicy({ policy: 'dense', budget: 256 });
    expect(dense.needs.evicts).toBe(false);
    expect(dense.plan(null as unknown as GPUCommandEncoder, null as never)).toEqual({ kind: 'dense' });
    expect(() => createPolicy({ policy: 'nope' })).toThrow(/unknown policy "nope"; available: .*dense/);
    expect(() => createPolicy({ policy: 'dense', window: 4 })).toThrow(/takes no parameters/);
    expect(() => registerPolicy('dense', () => dense)).toThrow(/already registered/);
  });

  it('calls the policy hooks in order and honours its dense layers', async () => {
    const device = await nodeGpuDevice();
    const shape: Shape = { numHeads: 4, numKvHeads: 2, headDim: 8, ropeLayout: 'half', numLayers: 2 };
    const h = new Harness(device, shape, 40);
    const calls: string[] = [];
    const policy: AttentionPolicy = {
      name: 'probe',
      needs: { denseLayers: [0], granularity: 'token', statistics: () => 'none', metadata: [], evicts: false, calibration: null },
      onAppend: (_e, c) => void calls.push(`append ${c.phase} ${c.layer}`),
      plan: (_e, c) => (calls.push(`plan ${c.layer} step ${c.step}`), { kind: 'dense' }),
      afterPrefill: (_e, c) => void calls.push(`prefill ${c.layer}`),
      afterAttention: (_e, c) => void calls.push(`attention ${c.layer}`),
    };
    const next = rng(3);
    const seq = h.cache.createSequence();
    const ref = new ReferenceKVCache(2, 2);
    await h.step(seq, ref, 0, 5, next, policy);
    await h.step(seq, ref, 5, 1, next, policy);
    const r = await h.step(seq, ref, 6, 1, next, policy);
    expect(r.error).toBeLessThanOrEqual(TOLERANCE);
    expect(calls).toEqual([
      'append prefill 0', 'prefill 0', 'append prefill 1', 'prefill 1',
      'append decode 0', 'attention 0', 'append decode 1', 'plan 1 step 0', 'attention 1',
      'append decode 0', 'attention 0', 'append decode 1', 'plan 1 step 1', 'attention 1',
    ]);
  });
});

/**
 * A policy that asks for probability column sums at every layer and copies what the kernels emit into per-layer
 * capture buffers (the hook must consume the statistics buffer before the next layer reuses it).
 */
class StatisticsProbe implements AttentionPolicy {
  readonly name = 'statistics-probe';
  readonly needs;
  readonly captured: GPUBuffer[];

  constructor(readonly device: GPUDevice, layers: number, readonly bytes: number, decay: number) {
    this.needs = {
      denseLayers: 'all' as const, granularity: 'token' as const, statistics: () => 'probability-column-sums' as const,
      metadata: [], evicts: false, calibration: null, prefillRowDecay: () => decay,
    };
    this.captured = Array.from({ length: layers }, () => device.createBuffer({ size: bytes, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC }));
  }

  plan(): { kind: 'dense' } {
    return { kind: 'dense' };
  }

  afterPrefill(encoder: GPUCommandEncoder, ctx: PolicyStepContext, stats: AttentionStatistics): void {
    this.capture(encoder, ctx, stats);
  }

  afterAttention(encoder: GPUCommandEncoder, ctx: PolicyStepContext, stats: AttentionStatistics): void {
    this.capture(encoder, ctx, stats);
  }

  private capture(encoder: GPUCommandEncoder, ctx: PolicyStepContext, stats: AttentionStatistics): void {
    expect(stats.kind).toBe('probability-column-sums');
    encoder.copyBufferToBuffer(stats.buffer as GPUBuffer, 0, this.captured[ctx.layer], 0, this.bytes);
  }
}

describe('attention statistics against the CPU reference', () => {
  /** f32 exp and dot products against f64 sums of up to ~40 rows of probabilities in [0, 1]. */
  const STATISTICS_TOLERANCE = 2e-5;
  // The last case splits every prefill's key tiles (split-K): the merge writes the rows' max and sum.
  const cases: [Shape, number, PrefillSplitRule?][] = [
    [{ numHeads: 4, numKvHeads: 4, headDim: 16, ropeLayout: 'half', numLayers: 2 }, 1],
    [{ numHeads: 8, numKvHeads: 2, headDim: 16, ropeLayout: 'interleaved', numLayers: 2 }, 1],
    [{ numHeads: 4, numKvHeads: 2, headDim: 64, ropeLayout: 'half', numLayers: 2 }, 0.9],
    [{ numHeads: 8, numKvHeads: 2, headDim: 8, ropeLayout: 'half', numLayers: 1 }, 0.9, { targetWorkgroups: 1 << 20, minTilesPerSplit: 1 }],
  ];
  for (const [shape, decay, rule] of cases) {
    const name = `H=${shape.numHeads} G=${shape.numKvHeads} d=${shape.headDim} ${shape.ropeLayout} a=${decay}${rule ? ' split-K' : ''}`;
    it(`${name}: prefill column sums (weighted a^(n-1-i)), a continuation chunk, decode probability sums`, async () => {
      const device = await nodeGpuDevice();
      const h = new Harness(device, shape, 40, {}, rule);
      const { numKvHeads: G, numLayers: L } = shape;
      const probe = new StatisticsProbe(device, L, G * MAX_TOKENS * 4, decay);
      const next = rng(21 + shape.headDim);
      const seq = h.cache.createSequence();
      const ref = new ReferenceKVCache(L, G);
      const errors: string[] = [];
      // 37 prompt tokens (3 pages, the last partial), 2 decode steps, a 9-token chunk after the cache, a decode step.
      for (const [start, n] of [[0, 37], [37, 1], [38, 1], [39, 9], [48, 1]]) {
        device.pushErrorScope('validation');
        const r = await h.step(seq, ref, start, n, next, probe);
        expect((await device.popErrorScope())?.message).toBeUndefined();
        expect(r.error).toBeLessThanOrEqual(TOLERANCE);
        let error = 0;
        for (let l = 0; l < L; l++) {
          const got = await readBuffer(device, probe.captured[l], 0, G * MAX_TOKENS * 4);
          const want = referenceColumnSums(ref, l, shape, r.inputs[l], n > 1 ? decay : 1);
          for (let g = 0; g < G; g++) {
            expect(want[g].length).toBe(start + n);
            for (let j = 0; j < want[g].length; j++) error = Math.max(error, Math.abs(got[g * MAX_TOKENS + j] - want[g][j]));
          }
        }
        errors.push(`${start}+${n}: ${error.toExponential(1)}`);
        expect(error).toBeLessThanOrEqual(STATISTICS_TOLERANCE * n);
      }
      console.log(`${name}: statistics max abs error per step ${errors.join(', ')}`);
    });
  }
});

/** A policy whose decode layers read fixed lists (slots or pages per KV head), written once into GPU buffers. */
class ListProbe implements AttentionPolicy {
  readonly name = 'list-probe';
  readonly needs = {
    denseLayers: [] as number[], granularity: 'token' as const, statistics: () => 'none' as const, metadata: [], evicts: false, calibration: null,
  };
  private readonly indices: GPUBuffer;
  private readonly lengths: GPUBuffer;
  private readonly maxPerHead: number;

  constructor(device: GPUDevice, readonly kind: 'tokens' | 'pages', readonly lists: number[][]) {
    this.maxPerHead = Math.max(1, ...lists.map((l) => l.length));
    const flat = new Uint32Array(lists.length * this.maxPerHead);
    lists.forEach((l, g) => flat.set(l, g * this.maxPerHead));
    this.indices = device.createBuffer({ size: flat.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    this.lengths = device.createBuffer({ size: lists.length * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(this.indices, 0, flat);
    device.queue.writeBuffer(this.lengths, 0, Uint32Array.from(lists.map((l) => l.length)));
  }

  plan() {
    return { kind: this.kind, indices: this.indices, lengths: this.lengths, maxPerHead: this.maxPerHead };
  }
}

describe('decode over a policy\'s token or page list against the CPU reference on the same slots', () => {
  const shape: Shape = { numHeads: 8, numKvHeads: 2, headDim: 16, ropeLayout: 'half', numLayers: 2 };
  const PAGE = 16;
  // 37 cached tokens: pages 0, 1 and the partial page 2, which the new token (slot 37) joins.
  const cases: [string, 'tokens' | 'pages', number[][], (g: number) => number[]][] = [
    ['tokens', 'tokens', [[0, 3, 5, 20, 36], [1, 2, 30, 37]], (g) => (g === 0 ? [0, 3, 5, 20, 36] : [1, 2, 30])],
    ['pages (one listing the newest page)', 'pages', [[0], [1, 2]], (g) => (g === 0 ? range(0, PAGE) : range(PAGE, 2 * PAGE)).concat(range(32, 37))],
    ['every slot (equals dense)', 'tokens', [range(0, 37), range(0, 37)], () => range(0, 37)],
  ];
  function range(from: number, to: number): number[] {
    return Array.from({ length: to - from }, (_, i) => from + i);
  }

  for (const [name, kind, lists, expectedSlots] of cases) {
    it.for(['serial', 'lanes'] as const)(`${name}, decode-chunk %s`, async (variant) => {
      const device = await nodeGpuDevice();
      const h = new Harness(device, shape, 40, {}, undefined, variant);
      const next = rng(31);
      const seq = h.cache.createSequence();
      const ref = new ReferenceKVCache(2, 2);
      expect((await h.step(seq, ref, 0, 37, next)).error).toBeLessThanOrEqual(TOLERANCE);
      // The reference over only the slots the list reads (the step's own token is appended by referenceAttention).
      const restricted = new ReferenceKVCache(2, 2);
      for (let l = 0; l < 2; l++) {
        for (let g = 0; g < 2; g++) {
          const head = ref.head(l, g);
          for (const s of expectedSlots(g)) restricted.append(l, g, head.keys[s], head.values[s], head.positions[s]);
        }
      }
      device.pushErrorScope('validation');
      const r = await h.step(seq, ref, 37, 1, next, new ListProbe(device, kind, lists));
      expect((await device.popErrorScope())?.message).toBeUndefined();
      let error = 0;
      for (let l = 0; l < 2; l++) {
        const want = referenceAttention(restricted, l, shape, r.inputs[l]);
        for (let i = 0; i < want.length; i++) error = Math.max(error, Math.abs(r.outputs[l][i] - want[i]));
      }
      console.log(`list ${name}: max abs error ${error.toExponential(1)} (vs dense ${r.error.toExponential(1)})`);
      expect(error).toBeLessThanOrEqual(TOLERANCE);
      if (name.startsWith('every')) expect(r.error).toBeLessThanOrEqual(TOLERANCE);
      else expect(r.error).toBeGreaterThan(TOLERANCE);
    });
  }
});

describe('f16 KV pages against the CPU reference with f16-rounded K/V', () => {
  /**
   * Max abs error with f16 pages. The reference rounds K and V to nearest even; the GPU's pack2x16float may round a
   * value the other way (WGSL leaves the direction open), one f16 ulp (<= 2^-10 of it) off. Outputs are convex
   * combinations of values in [-1, 1]: V moves them by <= 2^-10; a logit scale * q.k (|q| <= 2, |k| <= 1, random
   * signs over d terms) moves by ~ 2^-10 * 2 * scale * sqrt(d) = 2^-9, the probabilities by about twice that.
   * 4e-3 covers both with room; a kernel reading the wrong half of a word errs by ~0.5.
   */
  const F16_TOLERANCE = 4e-3;
  const f16 = { dtype: 'f16' } as const;

  for (const shape of [CASES[1], CASES[2]]) {
    const name = `H=${shape.numHeads} G=${shape.numKvHeads} d=${shape.headDim} ${shape.ropeLayout}`;
    it(`${name}: prefill 37, decode, continuation chunk, decode`, async () => {
      const device = await nodeGpuDevice();
      const h = new Harness(device, shape, 40, f16);
      expect(h.cache.dtype).toBe('f16');
      const { errors } = await conversation(h, 1234 + shape.headDim, 'f16');
      console.log(`f16 ${name}: max abs error per step ${errors.map((e) => e.toExponential(1)).join(' ')}`);
      for (const e of errors) expect(e).toBeLessThanOrEqual(F16_TOLERANCE);
    });
  }

  it('stores each appended K (rotated) and V element within one f16 ulp of its nearest-even rounding', async () => {
    const device = await nodeGpuDevice();
    const shape: Shape = { numHeads: 4, numKvHeads: 2, headDim: 16, ropeLayout: 'half', numLayers: 1 };
    const h = new Harness(device, shape, 20, f16);
    const seq = h.cache.createSequence();
    const ref = new ReferenceKVCache(1, 2, 'f16');
    await h.step(seq, ref, 0, 20, rng(3));
    const d = shape.headDim;
    let ulps = 0;
    let offNearest = 0;
    for (let g = 0; g < 2; g++) {
      for (let s = 0; s < 20; s++) {
        const id = h.cache.pageId(seq, Math.floor(s / 16), 0, g);
        const words = new Uint32Array((await readBuffer(device, h.cache.arenaOf(0).pages, id * h.cache.pageKvBytes, h.cache.pageKvBytes)).buffer.slice(0));
        const half = (e: number) => (words[e >> 1] >>> ((e & 1) * 16)) & 0xffff;
        const head = ref.head(0, g);
        for (let i = 0; i < d; i++) {
          for (const [e, want] of [[(s % 16) * d + i, head.keys[s][i]], [16 * d + (s % 16) * d + i, head.values[s][i]]] as const) {
            const got = half(e);
            const nearest = f16Bits(want);
            ulps = Math.max(ulps, Math.abs(got - nearest));
            if (got !== nearest) offNearest++;
          }
        }
      }
    }
    console.log(`f16 pages: ${offNearest} of ${2 * 20 * 2 * d} elements off nearest-even`);
    expect(ulps).toBeLessThanOrEqual(1);
  });

  it.for(['serial', 'lanes'] as const)('a long prefill and decode over several splits, decode-chunk %s', async (variant) => {
    const device = await nodeGpuDevice();
    const shape: Shape = { numHeads: 8, numKvHeads: 2, headDim: 16, ropeLayout: 'half', numLayers: 1 };
    const h = new Harness(device, shape, 150, f16, undefined, variant);
    const next = rng(7);
    const seq = h.cache.createSequence();
    const ref = new ReferenceKVCache(1, 2, 'f16');
    const errors = [(await h.step(seq, ref, 0, 150, next)).error];
    for (let p = 150; p < 155; p++) errors.push((await h.step(seq, ref, p, 1, next)).error);
    console.log(`f16 long: max abs error per step ${errors.map((e) => e.toExponential(1)).join(' ')}`);
    for (const e of errors) expect(e).toBeLessThanOrEqual(F16_TOLERANCE);
  });

  it('a fork copies the shared last f16 page on write; both branches stay within the bound', async () => {
    const device = await nodeGpuDevice();
    const shape: Shape = { numHeads: 4, numKvHeads: 2, headDim: 16, ropeLayout: 'interleaved', numLayers: 2 };
    const h = new Harness(device, shape, 40, f16);
    const next = rng(5);
    const a = h.cache.createSequence();
    const refA = new ReferenceKVCache(2, 2, 'f16');
    expect((await h.step(a, refA, 0, 37, next)).error).toBeLessThanOrEqual(F16_TOLERANCE);
    const b = h.cache.fork(a);
    const refB = refA.fork();
    for (let p = 37; p < 40; p++) {
      expect((await h.step(a, refA, p, 1, next)).error).toBeLessThanOrEqual(F16_TOLERANCE);
      expect((await h.step(b, refB, p, 1, next)).error).toBeLessThanOrEqual(F16_TOLERANCE);
    }
    expect(h.cache.pageId(a, 2, 1, 1)).not.toBe(h.cache.pageId(b, 2, 1, 1));
  });

  it('statistics: prefill column sums and decode probability sums', async () => {
    const device = await nodeGpuDevice();
    const shape: Shape = { numHeads: 8, numKvHeads: 2, headDim: 16, ropeLayout: 'interleaved', numLayers: 2 };
    const h = new Harness(device, shape, 40, f16);
    const { numKvHeads: G, numLayers: L } = shape;
    const probe = new StatisticsProbe(device, L, G * MAX_TOKENS * 4, 0.9);
    const next = rng(37);
    const seq = h.cache.createSequence();
    const ref = new ReferenceKVCache(L, G, 'f16');
    let worst = 0;
    for (const [start, n] of [[0, 37], [37, 1], [38, 9], [47, 1]]) {
      const r = await h.step(seq, ref, start, n, next, probe);
      expect(r.error).toBeLessThanOrEqual(F16_TOLERANCE);
      for (let l = 0; l < L; l++) {
        const got = await readBuffer(device, probe.captured[l], 0, G * MAX_TOKENS * 4);
        const want = referenceColumnSums(ref, l, shape, r.inputs[l], n > 1 ? 0.9 : 1);
        for (let g = 0; g < G; g++) for (let j = 0; j < want[g].length; j++) worst = Math.max(worst, Math.abs(got[g * MAX_TOKENS + j] - want[g][j]) / n);
      }
    }
    console.log(`f16 statistics: max abs error per row ${worst.toExponential(1)}`);
    // A column sum adds one probability per row; each moves by the bound's logit share.
    expect(worst).toBeLessThanOrEqual(F16_TOLERANCE);
  });

  for (const [kind, lists, slots] of [
    ['tokens', [[0, 3, 5, 20, 36], [1, 2, 30, 37]], (g: number) => (g === 0 ? [0, 3, 5, 20, 36] : [1, 2, 30])],
    ['pages', [[0], [1, 2]], (g: number) => Array.from({ length: 16 }, (_, i) => (g === 0 ? 0 : 16) + i).concat([32, 33, 34, 35, 36])],
  ] as const) {
    it.for(['serial', 'lanes'] as const)(`decode over a ${kind} list, decode-chunk %s`, async (variant) => {
      const device = await nodeGpuDevice();
      const shape: Shape = { numHeads: 8, numKvHeads: 2, headDim: 16, ropeLayout: 'half', numLayers: 2 };
      const h = new Harness(device, shape, 40, f16, undefined, variant);
      const seq = h.cache.createSequence();
      const ref = new ReferenceKVCache(2, 2, 'f16');
      const next = rng(31);
      await h.step(seq, ref, 0, 37, next);
      const restricted = new ReferenceKVCache(2, 2, 'f16');
      for (let l = 0; l < 2; l++) {
        for (let g = 0; g < 2; g++) {
          const head = ref.head(l, g);
          for (const s of slots(g)) restricted.append(l, g, head.keys[s], head.values[s], head.positions[s]);
        }
      }
      const r = await h.step(seq, ref, 37, 1, next, new ListProbe(device, kind, lists.map((x) => [...x])));
      let error = 0;
      for (let l = 0; l < 2; l++) {
        const want = referenceAttention(restricted, l, shape, r.inputs[l]);
        for (let i = 0; i < want.length; i++) error = Math.max(error, Math.abs(r.outputs[l][i] - want[i]));
      }
      console.log(`f16 list ${kind}: max abs error ${error.toExponential(1)}`);
      expect(error).toBeLessThanOrEqual(F16_TOLERANCE);
    });
  }
});
