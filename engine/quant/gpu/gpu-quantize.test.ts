// The GPU quantizer at load (quantize.wgsl) against the CPU reference quantizeMatrix, on Dawn/SwiftShader: the same
// codes and scale bits for f32, f16 and bf16 sources, int4 and int8, on random tensors of many magnitudes and on the
// edge cases (zeros and -0, constant blocks, exact rounding ties, largest-magnitude ties of both signs, subnormals,
// blocks at and below MIN_BLOCK_MAGNITUDE, f32's and f16's largest values, short last blocks, odd counts of halves,
// pieces split over several windows), and NaN / infinity refused by both.
import { describe, expect, it } from 'vitest';
// First: it installs the WebGPU globals.
import { nodeGpuDevice } from '../../gpu/node-webgpu.test-helper.ts';
import { InvalidArgumentError } from '../../errors/index.ts';
import {
  blobBytes, blocksPerRow, f16Bits, f16Table, MIN_BLOCK_MAGNITUDE, quantizeMatrix, type QuantizationSpec,
} from '../index.ts';
import { GpuBlockQuantizer } from './index.ts';
import { seededUniform as rng } from '../../gpu/test-inputs.test-helper.ts';


type Dtype = 'F32' | 'F16' | 'BF16';

/** Values as `dtype` stores them: the stored bytes, and their exact f32 widening (what the CPU quantizer reads). */
function stored(values: Float32Array, dtype: Dtype): { bytes: Uint8Array; f32: Float32Array } {
  if (dtype === 'F32') return { bytes: new Uint8Array(values.slice().buffer), f32: values };
  const halves = new Uint16Array(values.length);
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  // bf16: truncated f32 bits (what a checkpoint holds is some bf16; which one does not matter here).
  for (let i = 0; i < values.length; i++) halves[i] = dtype === 'BF16' ? bits[i] >>> 16 : f16Bits(values[i]);
  const f32 = new Float32Array(values.length);
  const out = new Uint32Array(f32.buffer);
  const table = f16Table();
  for (let i = 0; i < values.length; i++) {
    if (dtype === 'BF16') out[i] = halves[i] << 16;
    else f32[i] = table[halves[i]];
  }
  return { bytes: new Uint8Array(halves.buffer), f32 };
}

/** Rows of `cols` covering the edge cases, then random rows of magnitudes 1e-8 .. 1e8 (f16: its own range). */
function edgeCases(cols: number, randomRows: number, seed: number, dtype: Dtype): Float32Array {
  const next = rng(seed);
  const rows: number[][] = [];
  const row = (f: (j: number) => number) => rows.push(Array.from({ length: cols }, (_, j) => f(j)));
  const big = dtype === 'F16' ? 65504 : 3.4e38;
  row(() => 0);
  row((j) => (j % 3 ? -0 : 0));
  row(() => 0.3);
  row(() => -0.3);
  // Exact ties: largest magnitude 1 (scale -1/8 or -1/128) and values at every half step of the code grid.
  for (const m of [1, -1]) {
    row((j) => (j === 0 ? m : ((j % 16) - 8 + 0.5) / 8));
    row((j) => (j === 0 ? m : ((j * 5 % 256) - 128 + 0.5) / 128));
  }
  // The largest magnitude twice with both signs: the first one is m.
  row((j) => (j % 2 ? -0.5 : 0.5) * (j % 4 < 2 ? 1 : 0.25));
  row((j) => (j % 2 ? 0.5 : -0.5) * (j % 4 < 2 ? 1 : 0.25));
  row((j) => (j % 5 === 0 ? big : (next() * 2 - 1) * big));
  row((j) => (j === 1 ? -big : (next() * 2 - 1) * 1e-3 * big));
  // Subnormals (f16's from 2^-24, f32's below 2^-126) inside normal blocks and alone.
  row((j) => (j % 2 ? 1e-3 : (j % 7) * 2 ** -24));
  row((j) => (j % 7) * 2 ** -24);
  if (dtype !== 'F16') {
    row((j) => (j % 2 ? 1e-30 : (j % 7) * 2 ** -140));
    row((j) => (j % 7) * 2 ** -140);
    row((j) => (j === 0 ? MIN_BLOCK_MAGNITUDE : (next() - 0.5) * MIN_BLOCK_MAGNITUDE));
    row((j) => (j === 0 ? -MIN_BLOCK_MAGNITUDE * (1 - 2 ** -20) : (next() - 0.5) * MIN_BLOCK_MAGNITUDE));
  }
  const range = dtype === 'F16' ? [-12, 3] : [-8, 8];
  for (let r = 0; r < randomRows; r++) {
    const magnitude = 10 ** (range[0] + next() * (range[1] - range[0]));
    // Some rows Gaussian-like (sums of uniforms), some uniform, some with a few outliers.
    const kind = r % 3;
    row(() => {
      const u = kind === 0 ? next() + next() + next() - 1.5 : next() * 2 - 1;
      return (kind === 2 && next() < 0.05 ? 30 : 1) * u * magnitude;
    });
  }
  return Float32Array.from(rows.flat());
}

async function read(device: GPUDevice, buffer: GPUBuffer, bytes: number): Promise<Uint8Array> {
  const staging = device.createBuffer({ size: Math.ceil(bytes / 4) * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, staging.size);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Uint8Array(staging.getMappedRange().slice(0, bytes));
  staging.destroy();
  return out;
}

/** Quantizes `values` [rows][cols] on the GPU in pieces of `pieceRows` rows; returns codes and scale bytes. */
async function onGpu(device: GPUDevice, quantizer: GpuBlockQuantizer, values: Float32Array, rows: number, cols: number, dtype: Dtype, spec: QuantizationSpec, pieceRows: number, tensor = 0) {
  const perRow = blocksPerRow(cols, spec);
  const codes = device.createBuffer({ size: Math.ceil((rows * perRow * blobBytes(spec)) / 16) * 16 + 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const scales = device.createBuffer({ size: Math.ceil((rows * perRow * 4) / 16) * 16 + 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const { bytes } = stored(values, dtype);
  const rowBytes = bytes.byteLength / rows;
  for (let r = 0; r < rows; r += pieceRows) {
    const n = Math.min(pieceRows, rows - r);
    quantizer.quantize(bytes.subarray(r * rowBytes, (r + n) * rowBytes), dtype, n, cols, r, { codes, scales, spec, tensor });
  }
  const out = { codes: await read(device, codes, rows * perRow * blobBytes(spec)), scales: await read(device, scales, rows * perRow * 4) };
  codes.destroy();
  scales.destroy();
  return out;
}

const SPECS: [string, QuantizationSpec][] = [
  ['int4/32', { bits: 4, blockSize: 32, symmetric: true }],
  ['int8/32', { bits: 8, blockSize: 32, symmetric: true }],
];

describe('GPU block quantizer', () => {
  for (const [label, spec] of SPECS) {
    for (const dtype of ['F32', 'F16', 'BF16'] as Dtype[]) {
      it(`${label} from ${dtype}: the CPU reference's codes and scale bits, edge cases and random rows`, async () => {
        const device = await nodeGpuDevice();
        // A small window: pieces of 3 rows cross several dispatches (and the staging buffer grows once).
        const quantizer = new GpuBlockQuantizer(device, 1024);
        for (const cols of [96, 40, 37]) {
          const values = edgeCases(cols, 24, cols * 7 + spec.bits, dtype);
          const rows = values.length / cols;
          const { f32 } = stored(values, dtype);
          const cpu = quantizeMatrix(f32, rows, cols, spec);
          const gpu = await onGpu(device, quantizer, values, rows, cols, dtype, spec, 3);
          // Scales as bits: -0 for a zero block is part of the layout.
          expect(Array.from(new Uint32Array(gpu.scales.buffer)), `${cols} columns: scales`).toEqual(Array.from(new Uint32Array(cpu.scales.buffer)));
          expect(Array.from(gpu.codes), `${cols} columns: codes`).toEqual(Array.from(cpu.data));
        }
        expect(await quantizer.refusedTensor()).toBeNull();
        quantizer.destroy();
      });
    }
  }

  it('random f32 bit patterns (every mantissa bit, magnitudes 2^-30 .. 2^30 in one block): the same bytes', async () => {
    const device = await nodeGpuDevice();
    const quantizer = new GpuBlockQuantizer(device);
    const next = rng(99);
    const cols = 64;
    const rows = 512;
    const values = new Float32Array(rows * cols);
    const bits = new Uint32Array(values.buffer);
    for (let i = 0; i < values.length; i++) {
      // Exponents 97..157 (2^-30 .. 2^30), every mantissa bit random, random sign.
      bits[i] = ((next() < 0.5 ? 1 : 0) << 31 | ((97 + Math.floor(next() * 61)) << 23) | Math.floor(next() * 0x800000)) >>> 0;
    }
    for (const [label, spec] of SPECS) {
      const cpu = quantizeMatrix(values, rows, cols, spec);
      const gpu = await onGpu(device, quantizer, values, rows, cols, 'F32', spec, rows);
      expect(Array.from(gpu.codes), label).toEqual(Array.from(cpu.data));
      expect(Array.from(new Float32Array(gpu.scales.buffer)), label).toEqual(Array.from(cpu.scales));
    }
    quantizer.destroy();
  });

  it('refuses NaN and infinities: the CPU throws, the GPU names the first tensor that held one', async () => {
    const device = await nodeGpuDevice();
    const spec = SPECS[0][1];
    for (const bad of [NaN, Infinity, -Infinity]) {
      const w = new Float32Array(64).fill(0.1);
      w[40] = bad;
      expect(() => quantizeMatrix(w, 2, 32, spec)).toThrow(InvalidArgumentError);
      const quantizer = new GpuBlockQuantizer(device);
      await onGpu(device, quantizer, new Float32Array(64).fill(0.2), 2, 32, 'F32', spec, 2, 0);
      await onGpu(device, quantizer, w, 2, 32, 'F32', spec, 2, 5);
      await onGpu(device, quantizer, w, 2, 32, bad === Infinity ? 'F16' : 'BF16', spec, 2, 7);
      expect(await quantizer.refusedTensor(), String(bad)).toBe(5);
      quantizer.destroy();
    }
    // f16's own infinity (65520 and above round to it) and a bf16 NaN.
    const quantizer = new GpuBlockQuantizer(device);
    await onGpu(device, quantizer, Float32Array.from({ length: 32 }, (_, j) => (j === 3 ? 70000 : 1)), 1, 32, 'F16', spec, 1, 2);
    expect(await quantizer.refusedTensor()).toBe(2);
    quantizer.destroy();
  });
});
