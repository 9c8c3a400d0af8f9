// The decode kernels on Dawn/SwiftShader against plain f64 math: every matvec entry at odd sizes, gather, head norm.
import { describe, expect, it } from 'vitest';
import { readBuffer } from '../gpu/index.ts';
import { nodeGpuDevice } from '../gpu/node-webgpu.test-helper.ts';
import { randoms, seededUniform, storageBuffer as upload } from '../gpu/test-inputs.test-helper.ts';
import { referenceMatvec, relativeMaxDiff as maxDiff } from './matvec-reference.test-helper.ts';
import { CPU_ADAPTER_VARIANT, GPU_VARIANT, type DecodeKernelVariant } from './variants.ts';

/** Rows per workgroup of the GPU variant (the CPU-adapter variant has 64). */
const MATVEC_ROWS = (GPU_VARIANT.matvec.workgroupSize / GPU_VARIANT.matvec.threadsPerRow) * GPU_VARIANT.matvec.rowsPerThread;
const VARIANTS: [string, DecodeKernelVariant][] = [['gpu', GPU_VARIANT], ['cpu-adapter', CPU_ADAPTER_VARIANT]];
import { DecodeKernels, encodeDispatch, type Dispatch, type MatrixBuffer } from './kernels.ts';
import { argmax } from '../generation/index.ts';
import { packF16Pairs, roundToF16 } from '../quant/index.ts';

/** Max error against f64 sums, relative to the largest expected magnitude (at least 1): f32 sums of <= 300 terms. */
const TOLERANCE = 1e-5;
const EPS = 1e-5;

function run(device: GPUDevice, ...dispatches: Dispatch[]): void {
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  for (const d of dispatches) encodeDispatch(pass, d);
  pass.end();
  device.queue.submit([encoder.finish()]);
}

/** The CPU reference's product, plus the bias where there is one. */
function matvec(w: Float32Array, x: ArrayLike<number>, out: number, inFeatures: number, bias: Float32Array | null): Float64Array {
  return referenceMatvec(w, x, out, inFeatures).map((v, r) => v + (bias ? bias[r] : 0));
}

function rmsNorm(x: Float32Array, w: Float32Array): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const inv = 1 / Math.sqrt(ss / x.length + EPS);
  return Float64Array.from(x, (v, i) => w[i] * v * inv);
}

/**
 * [out, in]: in not a multiple of the 32-wide units (a short last unit), out not a multiple of the rows per workgroup,
 * one aligned case, 1 row.
 */
const SHAPES: [number, number][] = [[11, 36], [4 * MATVEC_ROWS + 1, 132], [257, 300], [1, 4]];

describe.each(VARIANTS)('decode matvec kernels, %s variant', (_name, variant) => {
  for (const [out, inFeatures] of SHAPES) {
    it(`normed (1 and 3 stacked matrices), gated and residual at out ${out}, in ${inFeatures}`, async () => {
      const device = await nodeGpuDevice();
      const next = seededUniform(out * 1000 + inFeatures);
      const kernels = new DecodeKernels(device, EPS, { variant });
      const x = randoms(next, inFeatures, 2);
      const norm = randoms(next, inFeatures, 0.2, 1);
      const wa = randoms(next, out * inFeatures);
      const wb = randoms(next, out * inFeatures);
      const wc = randoms(next, (out + 2) * inFeatures);
      const ba = randoms(next, out);
      const bb = randoms(next, out);
      const resid = randoms(next, out, 3);
      const xBuf = upload(device, x);
      const mat = (w: Float32Array, rows = out): MatrixBuffer => ({ buffer: upload(device, w), shape: [rows, inFeatures] });
      const A = mat(wa);
      const B = mat(wb);
      const C = mat(wc, out + 2);
      // Stacked q/k/v-like: A at 0, B at 64 past A's end (a gap), C after B; bias only on B, to catch a misplaced one.
      const bAt = out + 64;
      const cAt = bAt + out;
      const stackedBias = new Float32Array(cAt + out + 2);
      stackedBias.set(bb, bAt);
      const outs = Array.from({ length: 3 }, (_, i) => upload(device, new Float32Array(i === 1 ? cAt + out + 2 : out)));
      const residBuf = upload(device, resid);
      const normBuf = upload(device, norm);
      run(device,
        kernels.matvec('normed', 'normed', { x: xBuf, norm: normBuf, matrices: [A], bias: upload(device, ba), out: outs[0] }),
        kernels.matvec('stacked', 'normed', { x: xBuf, norm: normBuf, matrices: [A, B, C], outOffsets: [0, bAt, cAt], bias: upload(device, stackedBias), out: outs[1] }),
        kernels.matvec('gated', 'gated', { x: xBuf, norm: normBuf, matrices: [A, B], bias: upload(device, Float32Array.from([...ba, ...bb])), out: outs[2] }),
        kernels.matvec('residual', 'residual', { x: xBuf, matrices: [A], bias: upload(device, ba), out: residBuf }),
      );
      const xn = rmsNorm(x, norm);
      const expectA = matvec(wa, xn, out, inFeatures, null);
      const expectB = matvec(wb, xn, out, inFeatures, null);
      const expectC = matvec(wc, xn, out + 2, inFeatures, null);
      const read = (b: GPUBuffer, at = 0, n = out) => readBuffer(device, b, at * 4, n * 4);
      expect(maxDiff(await read(outs[0]), expectA.map((v, i) => v + ba[i]))).toBeLessThan(TOLERANCE);
      expect(maxDiff(await read(outs[1]), expectA)).toBeLessThan(TOLERANCE);
      expect(maxDiff(await read(outs[1], bAt), expectB.map((v, i) => v + bb[i]))).toBeLessThan(TOLERANCE);
      expect(maxDiff(await read(outs[1], cAt, out + 2), expectC)).toBeLessThan(TOLERANCE);
      // The gap between the stacked parts is left alone.
      expect(Array.from(await read(outs[1], out, 64)).every((v) => v === 0)).toBe(true);
      const gated = expectA.map((g, i) => { const gb = g + ba[i]; const u = expectB[i] + bb[i]; return (gb / (1 + Math.exp(-gb))) * u; });
      expect(maxDiff(await read(outs[2]), gated)).toBeLessThan(TOLERANCE);
      const residual = matvec(wa, x, out, inFeatures, ba).map((v, i) => v + resid[i]);
      expect(maxDiff(await read(residBuf), residual)).toBeLessThan(TOLERANCE);
      kernels.destroy();
    });
  }

  it('refuses f32 rows that are not whole vec4s with a typed error', async () => {
    const device = await nodeGpuDevice();
    const kernels = new DecodeKernels(device, EPS, { variant });
    const a = { buffer: upload(device, new Float32Array(15)), shape: [3, 5] };
    expect(() => kernels.matvec('odd', 'residual', { x: upload(device, new Float32Array(5)), matrices: [a], out: upload(device, new Float32Array(3)) }))
      .toThrow(/width 5 is not a multiple of 4/);
    kernels.destroy();
  });

  it('folds a grid above the per-dimension limit into two dimensions', async () => {
    const device = await nodeGpuDevice();
    // A limit of 5 workgroups per dimension stands in for 65535 (a 262K-row head would take minutes here).
    const limit = 5;
    const rows = (variant.matvec.workgroupSize / variant.matvec.threadsPerRow) * variant.matvec.rowsPerThread;
    const out = 3 * limit * rows + 2 * rows + 3;
    const inFeatures = 12;
    const next = seededUniform(7);
    const kernels = new DecodeKernels(device, EPS, { variant, maxWorkgroupsPerDimension: limit });
    const x = randoms(next, inFeatures);
    const norm = randoms(next, inFeatures, 0.2, 1);
    const w = randoms(next, out * inFeatures);
    const y = upload(device, new Float32Array(out));
    run(device, kernels.matvec('head', 'normed', { x: upload(device, x), norm: upload(device, norm), matrices: [{ buffer: upload(device, w), shape: [out, inFeatures] }], out: y }));
    expect(maxDiff(await readBuffer(device, y, 0, out * 4), matvec(w, rmsNorm(x, norm), out, inFeatures, null))).toBeLessThan(TOLERANCE);
    kernels.destroy();
  });
});

/** f16 shapes: widths are whole 8-value units (F16_UNIT), one of them a single unit; rows as SHAPES'. */
const F16_SHAPES: [number, number][] = [[11, 40], [4 * MATVEC_ROWS + 1, 136], [1, 8]];

describe.each(VARIANTS)('decode matvec kernels on f16 weights, %s variant', (_name, variant) => {
  for (const [out, inFeatures] of F16_SHAPES) {
    it(`normed (3 stacked), gated and residual at out ${out}, in ${inFeatures} equal f64 sums over the f16-rounded weights`, async () => {
      const device = await nodeGpuDevice();
      const next = seededUniform(out * 77 + inFeatures);
      const kernels = new DecodeKernels(device, EPS, { variant });
      const x = randoms(next, inFeatures, 2);
      const norm = randoms(next, inFeatures, 0.2, 1);
      const [wa, wb, wc] = [out, out, out + 2].map((rows) => randoms(next, rows * inFeatures));
      const ba = randoms(next, out);
      const resid = randoms(next, out, 3);
      const half = (w: Float32Array, rows = out): MatrixBuffer => ({ buffer: upload(device, packF16Pairs(w)), shape: [rows, inFeatures], f16: true });
      const [A, B, C] = [half(wa), half(wb), half(wc, out + 2)];
      const xBuf = upload(device, x);
      const normBuf = upload(device, norm);
      const stacked = upload(device, new Float32Array(3 * out + 2));
      const gated = upload(device, new Float32Array(out));
      const residBuf = upload(device, resid);
      run(device,
        kernels.matvec('stacked', 'normed', { x: xBuf, norm: normBuf, matrices: [A, B, C], outOffsets: [0, out, 2 * out], out: stacked }),
        kernels.matvec('gated', 'gated', { x: xBuf, norm: normBuf, matrices: [A, B], out: gated }),
        kernels.matvec('residual', 'residual', { x: xBuf, matrices: [A], bias: upload(device, ba), out: residBuf }),
      );
      // The oracle: the same f16-rounded weights in f64 sums (what the kernel must equal up to f32 summation).
      const [ra, rb, rc] = [wa, wb, wc].map(roundToF16);
      const xn = rmsNorm(x, norm);
      const expectA = matvec(ra, xn, out, inFeatures, null);
      const expectB = matvec(rb, xn, out, inFeatures, null);
      const read = (b: GPUBuffer, at = 0, n = out) => readBuffer(device, b, at * 4, n * 4);
      expect(maxDiff(await read(stacked), expectA)).toBeLessThan(TOLERANCE);
      expect(maxDiff(await read(stacked, out), expectB)).toBeLessThan(TOLERANCE);
      expect(maxDiff(await read(stacked, 2 * out, out + 2), matvec(rc, xn, out + 2, inFeatures, null))).toBeLessThan(TOLERANCE);
      expect(maxDiff(await read(gated), expectA.map((g, i) => (g / (1 + Math.exp(-g))) * expectB[i]))).toBeLessThan(TOLERANCE);
      expect(maxDiff(await read(residBuf), matvec(ra, x, out, inFeatures, ba).map((v, i) => v + resid[i]))).toBeLessThan(TOLERANCE);
      kernels.destroy();
    });
  }

  it('refuses f16 rows that are not whole 8-value units with a typed error', async () => {
    const device = await nodeGpuDevice();
    const kernels = new DecodeKernels(device, EPS, { variant });
    const a: MatrixBuffer = { buffer: upload(device, new Uint32Array(18)), shape: [3, 12], f16: true };
    expect(() => kernels.matvec('odd', 'residual', { x: upload(device, new Float32Array(12)), matrices: [a], out: upload(device, new Float32Array(3)) }))
      .toThrow(/width 12 is not a multiple of 8/);
    kernels.destroy();
  });
});

describe('decode embedding and head-norm kernels', () => {
  it('gathers an embedding row and normalizes q and k per head', async () => {
    const device = await nodeGpuDevice();
    const next = seededUniform(3);
    const kernels = new DecodeKernels(device, EPS);
    const vocab = 9;
    const width = 300;
    const table = randoms(next, vocab * width);
    const hidden = upload(device, new Float32Array(width));
    const id = upload(device, new Uint32Array([7]));
    const shape = { numHeads: 6, numKvHeads: 2, headDim: 24 };
    const q = randoms(next, 6 * 24, 2);
    const k = randoms(next, 2 * 24, 2);
    const qn = randoms(next, 24, 0.2, 1);
    const kn = randoms(next, 24, 0.2, 1);
    const qBuf = upload(device, q);
    const kBuf = upload(device, k);
    run(device,
      kernels.embed(id, { buffer: upload(device, table), shape: [vocab, width] }, hidden),
      kernels.headNorm('qk', shape, qBuf, kBuf, upload(device, qn), upload(device, kn)));
    expect(maxDiff(await readBuffer(device, hidden, 0, width * 4), table.subarray(7 * width, 8 * width))).toBe(0);
    // An f16 table (packed pairs): the row as f16 rounds it, exactly; rows 3 and 8 of two tokens.
    const hidden2 = upload(device, new Float32Array(2 * width));
    run(device, kernels.embed(upload(device, new Uint32Array([3, 8])), { buffer: upload(device, packF16Pairs(table)), shape: [vocab, width], f16: true }, hidden2, 2));
    const rounded = roundToF16(table);
    const got = await readBuffer(device, hidden2, 0, 2 * width * 4);
    expect(maxDiff(got.subarray(0, width), rounded.subarray(3 * width, 4 * width))).toBe(0);
    expect(maxDiff(got.subarray(width), rounded.subarray(8 * width, 9 * width))).toBe(0);
    const perHead = (v: Float32Array, w: Float32Array, heads: number) => {
      const outv: number[] = [];
      for (let h = 0; h < heads; h++) outv.push(...rmsNorm(v.subarray(h * 24, (h + 1) * 24), w));
      return outv;
    };
    expect(maxDiff(await readBuffer(device, qBuf, 0, q.byteLength), perHead(q, qn, 6))).toBeLessThan(TOLERANCE);
    expect(maxDiff(await readBuffer(device, kBuf, 0, k.byteLength), perHead(k, kn, 2))).toBeLessThan(TOLERANCE);
    kernels.destroy();
  });
});

describe.each(VARIANTS)('greedy argmax kernel, %s variant', (_name, variant) => {
  it('picks the largest logit, ties to the lower id, as the CPU sampler; flags NaN and infinity', async () => {
    const device = await nodeGpuDevice();
    const kernels = new DecodeKernels(device, EPS, { variant });
    const next = seededUniform(11);
    const vocab = 1000; // not a multiple of either workgroup size
    const cases: [string, (l: Float32Array) => void, number | null, number][] = [
      ['random', () => undefined, null, 0],
      ['a tie (the lower id wins)', (l) => { l[700] = 9; l[123] = 9; l[999] = 9; }, 123, 0],
      ['the last id', (l) => { l[999] = 50; }, 999, 0],
      ['all equal', (l) => l.fill(-2), 0, 0],
      ['a NaN', (l) => { l[5] = Number.NaN; }, null, 1],
      ['an infinity', (l) => { l[640] = Number.POSITIVE_INFINITY; }, null, 1],
    ];
    for (const [what, shape, want, flag] of cases) {
      const logits = randoms(next, vocab, 4);
      shape(logits);
      const choice = upload(device, new Uint32Array([77, 77, 0, 0]));
      run(device, kernels.argmax(upload(device, logits), choice, vocab));
      const got = new Uint32Array((await readBuffer(device, choice, 0, 8)).buffer);
      expect(got[1], what).toBe(flag);
      if (flag === 0) expect(got[0], what).toBe(want ?? argmax(logits));
    }
    kernels.destroy();
  });
});

describe('matvec shape by grid size', () => {
  it('keeps 32 rows a workgroup for big matrices and falls to 4 for small ones (GPU variant); the CPU one never changes', async () => {
    const { matvecShapeFor } = await import('./variants.ts');
    const v = GPU_VARIANT.matvec;
    expect(matvecShapeFor(v, 14336)).toEqual(v);
    expect(matvecShapeFor(v, 3072)).toMatchObject({ threadsPerRow: 32, rowsPerThread: 1 });
    expect(matvecShapeFor(v, 576)).toMatchObject({ threadsPerRow: 64, rowsPerThread: 1 });
    expect(matvecShapeFor(CPU_ADAPTER_VARIANT.matvec, 5)).toEqual(CPU_ADAPTER_VARIANT.matvec);
  });
});

describe('default weight format by adapter', () => {
  it('is f16 on real GPUs and f32 on CPU adapters (CI keeps f32 goldens; an explicit option wins elsewhere)', async () => {
    const { defaultWeightFormat } = await import('./variants.ts');
    expect(defaultWeightFormat({ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200' })).toBe('f16');
    expect(defaultWeightFormat({ vendor: 'apple', architecture: 'metal-3' })).toBe('f16');
    expect(defaultWeightFormat({ vendor: 'google', architecture: 'swiftshader' })).toBe('f32');
    expect(defaultWeightFormat({ vendor: 'mesa', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' })).toBe('f32');
  });
});

describe('decode kernels the device refuses', () => {
  it('are a typed error at the next checkGpuErrors, and the kernels work again after it', async () => {
    const device = await nodeGpuDevice();
    const { checkGpuErrors } = await import('../gpu/index.ts');
    const { GpuValidationError } = await import('../errors/index.ts');
    await checkGpuErrors(device); // nothing earlier in this file left pending
    // More threads a workgroup than any device allows: the pipeline is refused, not the call.
    const tooWide = { workgroupSize: 4 * device.limits.maxComputeInvocationsPerWorkgroup, threadsPerRow: 1, rowsPerThread: 1, minWorkgroups: 0 };
    const refused = new DecodeKernels(device, EPS, { variant: { ...CPU_ADAPTER_VARIANT, matvec: tooWide } });
    const w = randoms(seededUniform(5), 4 * 8, 0.1);
    const io = { x: upload(device, new Float32Array(8).fill(1)), matrices: [{ buffer: upload(device, w), shape: [4, 8] }] };
    refused.matvec('too wide', 'residual', { ...io, out: upload(device, new Float32Array(4)) });
    await expect(checkGpuErrors(device)).rejects.toBeInstanceOf(GpuValidationError);
    await checkGpuErrors(device); // heard once
    const kernels = new DecodeKernels(device, EPS, { variant: CPU_ADAPTER_VARIANT });
    const out = upload(device, new Float32Array(4));
    run(device, kernels.matvec('fits', 'residual', { ...io, out }));
    await checkGpuErrors(device);
    expect(maxDiff(await readBuffer(device, out, 0, 16), matvec(w, new Float32Array(8).fill(1), 4, 8, null))).toBeLessThan(TOLERANCE);
    refused.destroy();
    kernels.destroy();
  });
});

describe('measured matvec picks', () => {
  it('a matvec the table names takes its shape (the others keep the format default), with the same products', async () => {
    const device = await nodeGpuDevice();
    const rows = 100;
    const inF = 64;
    const next = seededUniform(17);
    const w = randoms(next, rows * inF, 0.1);
    const x = randoms(next, inF);
    const m: MatrixBuffer = { buffer: upload(device, w), shape: [rows, inF] };
    // 16 lanes a row, 1 row each: 4 rows a workgroup of 64, so 25 workgroups instead of the default's 2.
    const picked = { workgroupSize: 64, threadsPerRow: 16, rowsPerThread: 1, minWorkgroups: 0, laneWords: 4 as const };
    const kernels = new DecodeKernels(device, EPS, { variant: { ...CPU_ADAPTER_VARIANT, matvecPicks: [{ format: 'f32', mode: 'residual', rows, in: inF, shape: picked }] } });
    const want = matvec(w, x, rows, inF, null);
    for (const [mode, workgroups] of [['residual', 25], ['normed', 2]] as const) {
      const out = upload(device, new Float32Array(rows));
      const d = kernels.matvec(mode, mode, { x: upload(device, x), norm: upload(device, new Float32Array(inF).fill(1)), matrices: [m], out });
      expect(d.workgroups[0] * d.workgroups[1], mode).toBe(workgroups);
      run(device, d);
      if (mode === 'residual') expect(maxDiff(await readBuffer(device, out, 0, rows * 4), want)).toBeLessThan(TOLERANCE);
    }
    kernels.destroy();
  });
});
