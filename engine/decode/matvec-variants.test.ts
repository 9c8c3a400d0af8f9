// Every matvec shape the sweep may pick (variants.ts MATVEC_CANDIDATES) on Dawn/SwiftShader against the CPU
// reference (engine/quant's dequantizer, f64 sums): each in int4, normed with 3 stacked matrices and a bias; each
// unpacking x reduction x staging x lane words also residual and gated in f32, f16 (packed pairs), int8, int4, and int4 and int8 with mins
// (GGUF's K-quants). SwiftShader's
// subgroups hold 4 lanes, so the candidates' 32- and 16-lane rows fall back to the workgroup tree there; the
// 4-lane rows are where its subgroup shuffles run.
import { describe, expect, it } from 'vitest';
import { readBuffer } from '../gpu/index.ts';
import { nodeGpuDevice } from '../gpu/node-webgpu.test-helper.ts';
import { randoms, seededUniform, storageBuffer as upload } from '../gpu/test-inputs.test-helper.ts';
import { dequantizeMatrix, gpuScales, quantizeMatrix, toF16, type QuantizationMode, type QuantizedMatrix } from '../quant/index.ts';
import { DecodeKernels, encodeDispatch, type MatrixBuffer, type MatvecMode } from './kernels.ts';
import { referenceMatvec, relativeMaxDiff as maxDiff } from './matvec-reference.test-helper.ts';
import { GPU_VARIANT, MATVEC_CANDIDATES, type MatvecCandidate, type MatvecShape } from './variants.ts';

/** Relative to max(1, largest expected): f32 sums of 100 terms (f16: the weights' own rounding is in the reference). */
const TOLERANCE = 1e-5;
const EPS = 1e-5;
/** In-features: 3 blocks and a short fourth (int), whole f16 units of 8, a short last unit for every lane count. */
const IN = 104;


function halfToFloat(h: number): number {
  const e = (h >> 10) & 31;
  const m = h & 1023;
  const v = e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15);
  return h & 0x8000 ? -v : v;
}

/** A weight format, or int4/int8 blocks with f32 mins (GGUF's Q4_K / Q5_K on the GPU: w = scale * code - min). */
type TestFormat = QuantizationMode | 'int4+min' | 'int8+min';

/** A random matrix in `format` on the GPU, and the f32 weights the GPU should see (the CPU reference's). */
function matrix(device: GPUDevice, next: () => number, format: TestFormat, out: number): { gpu: MatrixBuffer; w: Float32Array } {
  // Offset weights with mins: a dropped or misscaled min term would show.
  const values = randoms(next, out * IN, 0.1, format.endsWith('+min') ? 0.05 : 0);
  if (format === 'f32') return { gpu: { buffer: upload(device, values), shape: [out, IN] }, w: values };
  if (format === 'f16') {
    const half = toF16(values);
    return { gpu: { buffer: upload(device, half), shape: [out, IN], f16: true }, w: Float32Array.from(half, halfToFloat) };
  }
  const q: QuantizedMatrix = quantizeMatrix(values, out, IN, { bits: format.startsWith('int4') ? 4 : 8, blockSize: 32, symmetric: !format.endsWith('+min') });
  return {
    gpu: { buffer: upload(device, q.data), shape: [out, IN], quantized: { scales: upload(device, gpuScales(q)), mins: q.mins !== null, bits: q.spec.bits, blockSize: 32, blocksPerRow: q.blocksPerRow } },
    w: dequantizeMatrix(q),
  };
}

const withLanes = (s: MatvecShape, threadsPerRow: number): MatvecShape => ({ ...s, threadsPerRow });
/**
 * Each candidate in int4, normed with 3 stacked matrices (its shape, unpacking and reduction all act there), and
 * each unpacking x reduction at 4 lanes a row in every format and mode: the modes and formats share the shapes'
 * arithmetic, so this covers every pair without compiling all of them (SwiftShader takes seconds a pipeline).
 */
type Case = [string, MatvecShape, TestFormat[], MatvecMode[]];
/**
 * One candidate per reduction x unpacking x staging x lane words; narrow lanes with staging only in int4 above (the
 * slice arithmetic is the same staged or not, and a staged pipeline takes SwiftShader seconds).
 */
const mechanism = (c: MatvecCandidate) => `${!!c.shape.subgroups}:${!!c.shape.exponentUnpack}:${!!c.shape.stageInput}:${c.shape.laneWords ?? 4}`;
const MECHANISMS = MATVEC_CANDIDATES.filter((c, i, all) => all.findIndex((o) => mechanism(o) === mechanism(c)) === i && !(c.shape.stageInput && (c.shape.laneWords ?? 4) !== 4));
const SHAPES: Case[] = [
  ...MATVEC_CANDIDATES.map((c): Case => [c.name, c.shape, ['int4'], ['normed']]),
  ...MECHANISMS.map((c): Case => [`${c.name} at 4 lanes a row`, { ...withLanes(c.shape, 4), workgroupSize: 64, rowsPerThread: 2 }, ['f32', 'int8', 'int4', 'f16', 'int4+min', 'int8+min'], ['normed', 'residual', 'gated']]),
];

describe.each(SHAPES)('matvec candidate %s', (_name, shape, asked, modes) => {
  it(`${modes.join(', ')} equal the CPU reference in ${asked.join(', ')}`, async () => {
    const device = await nodeGpuDevice();
    const formats = asked;
    const variant = { ...GPU_VARIANT, matvec: shape, quantMatvec: shape, int4Matvec: shape, matvecPicks: [] };
    const kernels = new DecodeKernels(device, EPS, { variant });
    // Two workgroups and a partial third: rows past the matrix in the last one.
    const out = 2 * (shape.workgroupSize / shape.threadsPerRow) * shape.rowsPerThread + 3;
    for (const format of formats) {
      const next = seededUniform(out * 31 + IN + format.length);
      const x = randoms(next, IN, 2);
      const norm = randoms(next, IN, 0.2, 1);
      const bias = randoms(next, 3 * out);
      const resid = randoms(next, out, 3);
      const mats = [0, 1, 2].map(() => matrix(device, next, format, out));
      const xBuf = upload(device, x);
      const normBuf = upload(device, norm);
      const biasBuf = upload(device, bias);
      const stacked = upload(device, new Float32Array(3 * out));
      const residual = upload(device, resid);
      const gated = upload(device, new Float32Array(out));
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      encodeDispatch(pass, kernels.matvec('normed', 'normed', { x: xBuf, norm: normBuf, matrices: mats.map((m) => m.gpu), bias: biasBuf, out: stacked }));
      if (modes.includes('residual')) encodeDispatch(pass, kernels.matvec('residual', 'residual', { x: xBuf, matrices: [mats[0].gpu], out: residual }));
      if (modes.includes('gated')) encodeDispatch(pass, kernels.matvec('gated', 'gated', { x: xBuf, norm: normBuf, matrices: [mats[0].gpu, mats[1].gpu], bias: biasBuf, out: gated }));
      pass.end();
      device.queue.submit([encoder.finish()]);
      let ss = 0;
      for (const v of x) ss += v * v;
      const inv = 1 / Math.sqrt(ss / IN + EPS);
      const xn = Array.from(x, (v, i) => norm[i] * v * inv);
      const products = mats.map((m) => referenceMatvec(m.w, xn, out, IN));
      const wantStacked = products.flatMap((p, m) => Array.from(p, (v, i) => v + bias[m * out + i]));
      const wantResidual = Array.from(referenceMatvec(mats[0].w, x, out, IN), (v, i) => v + resid[i]);
      const wantGated = Array.from(products[0], (g, i) => { const gb = g + bias[i]; return (gb / (1 + Math.exp(-gb))) * (products[1][i] + bias[out + i]); });
      expect(maxDiff(await readBuffer(device, stacked, 0, 3 * out * 4), wantStacked), `${format} normed`).toBeLessThan(TOLERANCE);
      if (modes.includes('residual')) expect(maxDiff(await readBuffer(device, residual, 0, out * 4), wantResidual), `${format} residual`).toBeLessThan(TOLERANCE);
      if (modes.includes('gated')) expect(maxDiff(await readBuffer(device, gated, 0, out * 4), wantGated), `${format} gated`).toBeLessThan(TOLERANCE);
      for (const b of [xBuf, normBuf, biasBuf, stacked, residual, gated]) b.destroy();
    }
    kernels.destroy();
  });
});

it('the 4-lane shapes reduce through subgroups on this device, where it has them (the shuffles are what the tests above ran); staging takes an odd stride and only what fits', async () => {
  const device = await nodeGpuDevice();
  const kernels = new DecodeKernels(device, EPS);
  const sub = { ...MATVEC_CANDIDATES[3].shape, threadsPerRow: 4 };
  expect(kernels.stagingFor({ ...sub, stageInput: true }, 'int4', 4, 'subgroup')).toEqual({ stride: 9, vec4s: 36 });
  expect(kernels.stagingFor({ ...sub, stageInput: true }, 'int4', 1 << 20, 'subgroup')).toBeNull();
  expect(kernels.reduceFor(sub)).toBe(device.features.has('subgroups') && (device as GPUDevice & { adapterInfo?: { subgroupMinSize?: number } }).adapterInfo?.subgroupMinSize === 4 ? 'subgroup' : 'workgroup');
  expect(device.features.has('subgroups')).toBe(true);
  expect(kernels.reduceFor(MATVEC_CANDIDATES[3].shape)).toBe('workgroup');
  kernels.destroy();
});
