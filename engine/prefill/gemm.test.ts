// The prefill GEMM (gemm.wgsl) on Dawn/SwiftShader against f64 products on the CPU: f32, f16 (against the f16-rounded
// weights) and block-quantized weights (int4 and int8, symmetric and with mins, blocks of 16, through engine/quant's own dequantizer), odd shapes that leave
// partial tiles in every dimension, K not a multiple of the block, bias, the residual add, the SwiGLU input, and one
// recording run for two row counts (the uniform the chunk writes). Plus the row RMSNorm.
import { describe, expect, it } from 'vitest';
import { readBuffer } from '../gpu/index.ts';
import { nodeGpuDevice } from '../gpu/node-webgpu.test-helper.ts';
import { dequantizeMatrix, gpuScales, packF16Pairs, quantizeMatrix, roundToF16, type QuantizationSpec } from '../quant/index.ts';
import { DEFAULT_GEMM_TILE, type GemmTile, type MatrixBuffer } from '../decode/index.ts';
import { GEMM_TILE_CANDIDATES, gemmTileName, PrefillKernels, type GemmIO } from './gemm.ts';

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

function upload(device: GPUDevice, data: Float32Array | Uint8Array | Uint32Array, usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST): GPUBuffer {
  const b = device.createBuffer({ size: Math.max(16, Math.ceil(data.byteLength / 16) * 16), usage });
  const bytes = new Uint8Array(Math.ceil(data.byteLength / 4) * 4);
  bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  device.queue.writeBuffer(b, 0, bytes);
  return b;
}

/** max |gpu - cpu| / max(1, max |cpu|). */
function relError(gpu: Float32Array, cpu: Float64Array): number {
  let m = 0;
  let scale = 1;
  for (let i = 0; i < cpu.length; i++) {
    m = Math.max(m, Math.abs(gpu[i] - cpu[i]));
    scale = Math.max(scale, Math.abs(cpu[i]));
  }
  return m / scale;
}

interface Case {
  name: string;
  m: number;
  n: number;
  k: number;
  spec: QuantizationSpec | null;
  /** f32 weights stored as f16 pairs (spec null). */
  f16?: boolean;
  bias?: boolean;
  add?: boolean;
  gated?: boolean;
}

// Rows and columns past a tile (128 x 64), K past a 16-step and (quantized) past a block.
const CASES: Case[] = [
  { name: 'f32, bias', m: 131, n: 70, k: 37, spec: null, bias: true },
  { name: 'f32, residual add', m: 5, n: 130, k: 64, spec: null, add: true },
  { name: 'f32, SwiGLU input', m: 129, n: 33, k: 48, spec: null, gated: true },
  { name: 'f16, bias', m: 131, n: 70, k: 38, spec: null, f16: true, bias: true },
  { name: 'f16, SwiGLU input, residual add', m: 5, n: 65, k: 48, spec: null, f16: true, gated: true, add: true },
  { name: 'int4 symmetric, bias', m: 140, n: 67, k: 80, spec: { bits: 4, blockSize: 32, symmetric: true }, bias: true },
  { name: 'int4 with mins, residual add', m: 3, n: 129, k: 96, spec: { bits: 4, blockSize: 32, symmetric: false }, add: true },
  { name: 'int8 symmetric, SwiGLU input', m: 130, n: 65, k: 72, spec: { bits: 8, blockSize: 32, symmetric: true }, gated: true },
  { name: 'int8 with mins, blocks of 64', m: 17, n: 20, k: 100, spec: { bits: 8, blockSize: 64, symmetric: false } },
  { name: 'int8 symmetric, blocks of 16 (Q6_K), bias', m: 9, n: 70, k: 56, spec: { bits: 8, blockSize: 16, symmetric: true }, bias: true },
];

/**
 * The default tile takes every case; the other tiles (bench/matvec-sweep.ts's candidates) the ones that pass their
 * tile edges in both dimensions in each weight path (f32, f16, int4, int8), to keep SwiftShader's compiles few.
 */
const TILED: [string, GemmTile, Case][] = GEMM_TILE_CANDIDATES.flatMap((tile) => CASES
  .filter((c) => tile === DEFAULT_GEMM_TILE || ['f32, bias', 'f16, SwiGLU input, residual add', 'int4 with mins, residual add', 'int8 symmetric, SwiGLU input'].includes(c.name))
  .map((c): [string, GemmTile, Case] => [`${gemmTileName(tile)} tile, ${c.name}`, tile, c]));

describe('prefill GEMM (gemm.wgsl) against the CPU', () => {
  it.each(TILED)('%s', async (_name, tile, { m, n, k, spec, f16, bias, add, gated }) => {
    const device = await nodeGpuDevice();
    const next = rng(m * 1000 + n * 10 + k);
    const x = randoms(next, m * k);
    const x2 = randoms(next, m * k);
    const wf = randoms(next, n * k);
    const b = randoms(next, n);
    const residual = randoms(next, m * n);
    let wCpu: Float32Array = wf;
    let w: MatrixBuffer = { buffer: upload(device, wf), shape: [n, k] };
    if (f16) {
      wCpu = roundToF16(wf);
      w = { buffer: upload(device, packF16Pairs(wf)), shape: [n, k], f16: true };
    }
    if (spec) {
      const q = quantizeMatrix(wf, n, k, spec);
      wCpu = dequantizeMatrix(q);
      w = {
        buffer: upload(device, q.data), shape: [n, k],
        quantized: { scales: upload(device, gpuScales(q)), mins: q.mins !== null, bits: spec.bits, blockSize: spec.blockSize, blocksPerRow: q.blocksPerRow },
      };
    }
    const input = gated ? x.map((g, i) => g / (1 + Math.exp(-g)) * x2[i]) : x;
    const expected = new Float64Array(m * n);
    for (let r = 0; r < m; r++) {
      for (let c = 0; c < n; c++) {
        let s = bias ? b[c] : 0;
        for (let i = 0; i < k; i++) s += input[r * k + i] * wCpu[c * k + i];
        expected[r * n + c] = s + (add ? residual[r * n + c] : 0);
      }
    }
    const dims = upload(device, new Uint8Array(new Uint32Array([m, 0, 0, 0]).buffer), GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const kernels = new PrefillKernels(device, 1e-5, dims, tile);
    const out = upload(device, add ? residual : new Float32Array(m * n));
    const io: GemmIO = { x: upload(device, x), x2: gated ? upload(device, x2) : undefined, w, bias: bias ? upload(device, b) : null, out, add };
    const d = kernels.gemm('test', io);
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    d.encode(pass, m);
    pass.end();
    device.queue.submit([encoder.finish()]);
    const got = await readBuffer(device, out, 0, m * n * 4);
    expect(relError(got, expected)).toBeLessThan(2e-6);
    kernels.destroy();
  });

  it('one recording serves fewer rows (the chunk length comes from the uniform); rows past it are not written', async () => {
    const device = await nodeGpuDevice();
    const next = rng(7);
    const [m, n, k] = [150, 40, 24];
    const x = randoms(next, m * k);
    const wf = randoms(next, n * k);
    const dims = upload(device, new Uint8Array(new Uint32Array([m, 0, 0, 0]).buffer), GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const kernels = new PrefillKernels(device, 1e-5, dims);
    const out = upload(device, new Float32Array(m * n).fill(-7));
    const d = kernels.gemm('rows', { x: upload(device, x), w: { buffer: upload(device, wf), shape: [n, k] }, out });
    const rows = 9;
    device.queue.writeBuffer(dims, 0, new Uint32Array([rows, 0, 0, 0]));
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    d.encode(pass, rows);
    pass.end();
    device.queue.submit([encoder.finish()]);
    const got = await readBuffer(device, out, 0, m * n * 4);
    const expected = new Float64Array(rows * n);
    for (let r = 0; r < rows; r++) for (let c = 0; c < n; c++) for (let i = 0; i < k; i++) expected[r * n + c] += x[r * k + i] * wf[c * k + i];
    expect(relError(got.subarray(0, rows * n), expected)).toBeLessThan(2e-6);
    expect(got.subarray(rows * n).every((v) => v === -7)).toBe(true);
    kernels.destroy();
  });

  it('row RMSNorm equals transformers\' formula', async () => {
    const device = await nodeGpuDevice();
    const next = rng(11);
    const [rows, width] = [6, 300];
    const x = randoms(next, rows * width);
    const w = randoms(next, width);
    const dims = upload(device, new Uint8Array(new Uint32Array([rows, 0, 0, 0]).buffer), GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const kernels = new PrefillKernels(device, 1e-5, dims);
    const out = upload(device, new Float32Array(rows * width));
    const d = kernels.rmsNorm('norm', upload(device, x), upload(device, w), out, width);
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    d.encode(pass, rows);
    pass.end();
    device.queue.submit([encoder.finish()]);
    const got = await readBuffer(device, out, 0, rows * width * 4);
    const expected = new Float64Array(rows * width);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let i = 0; i < width; i++) s += x[r * width + i] ** 2;
      const scale = 1 / Math.sqrt(s / width + 1e-5);
      for (let i = 0; i < width; i++) expected[r * width + i] = w[i] * x[r * width + i] * scale;
    }
    expect(relError(got, expected)).toBeLessThan(1e-6);
    kernels.destroy();
  });
});
