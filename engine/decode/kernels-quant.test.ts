// The quantized decode kernels on Dawn/SwiftShader against engine/quant's CPU dequantizer: every mode of the
// quantized matvec and the quantized gather, int4 and int8, symmetric and asymmetric, K not a multiple of 32.
import { describe, expect, it } from 'vitest';
import { readBuffer } from '../gpu/index.ts';
import { nodeGpuDevice } from '../gpu/node-webgpu.test-helper.ts';
import { randoms, seededUniform, storageBuffer as upload } from '../gpu/test-inputs.test-helper.ts';
import { dequantizeMatrix, gpuScales, quantizeMatrix, type QuantizationSpec, type QuantizedMatrix } from '../quant/index.ts';
import { CPU_ADAPTER_VARIANT, GPU_VARIANT } from './variants.ts';

const QMATVEC_ROWS = (GPU_VARIANT.quantMatvec.workgroupSize / GPU_VARIANT.quantMatvec.threadsPerRow) * GPU_VARIANT.quantMatvec.rowsPerThread;
import { referenceMatvec as matvec, relativeMaxDiff as maxDiff } from './matvec-reference.test-helper.ts';
import { DecodeKernels, encodeDispatch, type Dispatch, type MatrixBuffer } from './kernels.ts';

/** Max error against f64 sums of the dequantized weights, relative to max(1, largest expected): f32 rounding only. */
const TOLERANCE = 1e-5;
const EPS = 1e-5;

function uploadQuantized(device: GPUDevice, q: QuantizedMatrix): MatrixBuffer {
  return {
    buffer: upload(device, q.data), shape: [q.rows, q.cols],
    quantized: {
      scales: upload(device, gpuScales(q)), mins: q.mins !== null,
      bits: q.spec.bits, blockSize: q.spec.blockSize, blocksPerRow: q.blocksPerRow,
    },
  };
}

function run(device: GPUDevice, ...dispatches: Dispatch[]): void {
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  for (const d of dispatches) encodeDispatch(pass, d);
  pass.end();
  device.queue.submit([encoder.finish()]);
}

/** engine/quant's load formats (symmetric) and the GGUF ones: with mins (Q4_K, Q5_K), int8 blocks of 16 (Q6_K). */
const SPECS: [string, QuantizationSpec][] = [
  ['int4 symmetric', { bits: 4, blockSize: 32, symmetric: true }],
  ['int4 with mins', { bits: 4, blockSize: 32, symmetric: false }],
  ['int8 symmetric', { bits: 8, blockSize: 32, symmetric: true }],
  ['int8 with mins', { bits: 8, blockSize: 32, symmetric: false }],
  ['int8 symmetric, blocks of 16', { bits: 8, blockSize: 16, symmetric: true }],
];

/**
 * [out, in]: a short last block (in 100) on more rows than a workgroup holds, and several units per lane (in 1088),
 * the last block short (in 4200); odd out. Each on the GPU variant, the last also on the CPU-adapter one.
 */
const SHAPES: [number, number, 'gpu' | 'cpu-adapter'][] = [[2 * QMATVEC_ROWS + 3, 100, 'gpu'], [13, 1088, 'gpu'], [6, 4200, 'cpu-adapter']];

describe.each(SPECS)('quantized decode kernels, %s', (_name, spec) => {
  // The GGUF formats skip the middle shape (several units per lane reads no block constant differently): CI time.
  const legacy = spec.symmetric && spec.blockSize === 32;
  for (const [out, inFeatures, variantName] of legacy ? SHAPES : [SHAPES[0], SHAPES[2]]) {
    const variant = variantName === 'gpu' ? GPU_VARIANT : CPU_ADAPTER_VARIANT;
    it(`normed (3 stacked), gated and residual at out ${out}, in ${inFeatures} equal the CPU dequantized matvec (${variant.name} variant)`, async () => {
      const device = await nodeGpuDevice();
      const next = seededUniform(out * 7919 + inFeatures + spec.bits);
      const kernels = new DecodeKernels(device, EPS, { variant });
      const x = randoms(next, inFeatures, 2);
      const norm = randoms(next, inFeatures, 0.2, 1);
      const bias = randoms(next, 3 * out);
      const resid = randoms(next, out, 3);
      // Offset weights: blocks with mins then have mins far from zero, which a dropped min term would show.
      const mats = [0, 1, 2].map(() => quantizeMatrix(randoms(next, out * inFeatures, 0.1, spec.symmetric ? 0 : 0.05), out, inFeatures, spec));
      const ws = mats.map(dequantizeMatrix);
      const As = mats.map((q) => uploadQuantized(device, q));
      const xBuf = upload(device, x);
      const normBuf = upload(device, norm);
      const stackedOut = upload(device, new Float32Array(3 * out));
      const residualOut = upload(device, resid);
      const gatedOut = upload(device, new Float32Array(out));
      run(device,
        kernels.matvec('normed', 'normed', { x: xBuf, norm: normBuf, matrices: As, outOffsets: [0, out, 2 * out], bias: upload(device, bias), out: stackedOut }),
        kernels.matvec('residual', 'residual', { x: xBuf, matrices: [As[0]], out: residualOut }),
        kernels.matvec('gated', 'gated', { x: xBuf, norm: normBuf, matrices: [As[0], As[1]], bias: upload(device, bias), out: gatedOut }),
      );
      let ss = 0;
      for (const v of x) ss += v * v;
      const inv = 1 / Math.sqrt(ss / inFeatures + EPS);
      const xn = Array.from(x, (v, i) => norm[i] * v * inv);
      const products = ws.map((w) => matvec(w, xn, out, inFeatures));
      const stacked = await readBuffer(device, stackedOut, 0, 3 * out * 4);
      expect(maxDiff(stacked, products.flatMap((p, m) => Array.from(p, (v, i) => v + bias[m * out + i])))).toBeLessThan(TOLERANCE);
      expect(maxDiff(await readBuffer(device, residualOut, 0, out * 4), matvec(ws[0], x, out, inFeatures).map((v, i) => v + resid[i]))).toBeLessThan(TOLERANCE);
      const gated = products[0].map((g, i) => { const gb = g + bias[i]; return (gb / (1 + Math.exp(-gb))) * (products[1][i] + bias[out + i]); });
      expect(maxDiff(await readBuffer(device, gatedOut, 0, out * 4), gated)).toBeLessThan(TOLERANCE);
      kernels.destroy();
    });
  }

  it('gathers the dequantized rows of several ids exactly', async () => {
    const device = await nodeGpuDevice();
    const next = seededUniform(spec.bits * 31 + (spec.symmetric ? 1 : 2));
    const kernels = new DecodeKernels(device, EPS);
    const vocab = 11;
    const width = 300; // 10 blocks, the last short; 2 workgroups per row
    const q = quantizeMatrix(randoms(next, vocab * width), vocab, width, spec);
    const table = dequantizeMatrix(q);
    const ids = [7, 0, 10, 7];
    const hidden = upload(device, new Float32Array(ids.length * width));
    run(device, kernels.embed(upload(device, new Uint32Array(ids)), uploadQuantized(device, q), hidden, ids.length));
    const got = await readBuffer(device, hidden, 0, ids.length * width * 4);
    const want = new Float32Array(ids.length * width);
    ids.forEach((id, t) => want.set(table.subarray(id * width, (id + 1) * width), t * width));
    expect(Array.from(got)).toEqual(Array.from(want));
    kernels.destroy();
  });
});

describe('quantized decode kernels refuse what they cannot read, typed', () => {
  it('fused matrices stored in different layouts (a Q4_K q with a Q6_K v), and int4 blocks of 16', async () => {
    const device = await nodeGpuDevice();
    const kernels = new DecodeKernels(device, EPS);
    const w = randoms(seededUniform(3), 4 * 64, 0.1, 0.02);
    const x = upload(device, new Float32Array(64));
    const norm = upload(device, new Float32Array(64).fill(1));
    const q4 = uploadQuantized(device, quantizeMatrix(w, 4, 64, { bits: 4, blockSize: 32, symmetric: false }));
    const q6 = uploadQuantized(device, quantizeMatrix(w, 4, 64, { bits: 8, blockSize: 16, symmetric: true }));
    expect(() => kernels.matvec('qv', 'normed', { x, norm, matrices: [q4, q6], out: upload(device, new Float32Array(8)) }))
      .toThrow(/stored as int4\/32\+min and int8\/16/);
    const int4By16 = uploadQuantized(device, quantizeMatrix(w, 4, 64, { bits: 4, blockSize: 16, symmetric: true }));
    expect(() => kernels.matvec('q', 'residual', { x, matrices: [int4By16], out: upload(device, new Float32Array(4)) }))
      .toThrow(/int4 blocks of a multiple of 32 codes, got blocks of 16/);
    kernels.destroy();
  });
});
