// Block quantization against its layout (MatMulNBits' codes and scales, f32 mins) written out by hand, and quantize -> dequantize round trips.
import { describe, expect, it } from 'vitest';
import {
  dequantizeMatrix, isQuantizedWeight, parseQuantization, quantizationSpec, quantizedBytes, quantizeMatrix, type QuantizationSpec,
} from './index.ts';

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

function randoms(seed: number, count: number, offset = 0): Float32Array {
  const next = rng(seed);
  return Float32Array.from({ length: count }, () => offset + (next() * 2 - 1) * 0.1);
}

const SPECS: [string, QuantizationSpec][] = [
  ['int4 symmetric', { bits: 4, blockSize: 32, symmetric: true }],
  ['int4 with mins', { bits: 4, blockSize: 32, symmetric: false }],
  ['int8 symmetric', { bits: 8, blockSize: 32, symmetric: true }],
  ['int8 with mins', { bits: 8, blockSize: 32, symmetric: false }],
  ['int8 symmetric, blocks of 16', { bits: 8, blockSize: 16, symmetric: true }],
];

describe('block layout', () => {
  it('int4 symmetric: codes packed low nibble first, default zero point 8, scale = -max/8', () => {
    // One row, one block: w_j = (j - 16) * 0.5 for j < 32 -> largest magnitude -8 (j = 0) -> scale 1, code j - 8 + 8.
    const w = Float32Array.from({ length: 32 }, (_, j) => (j - 16) * 0.5);
    const q = quantizeMatrix(w, 1, 32, { bits: 4, blockSize: 32, symmetric: true });
    expect(Array.from(q.scales)).toEqual([1]);
    expect(q.mins).toBeNull();
    expect(q.data.length).toBe(16);
    // w_j / 1 + 8 = j/2: round(j/2) half up, clamped to 15.
    const codes = Array.from({ length: 32 }, (_, j) => Math.min(15, Math.round(j / 2)));
    const bytes = Array.from({ length: 16 }, (_, i) => codes[2 * i] | (codes[2 * i + 1] << 4));
    expect(Array.from(q.data)).toEqual(bytes);
  });

  it('int4 with mins: one f32 min per block, w = scale * code - min, the block minimum at code 0', () => {
    const w = new Float32Array(2 * 96);
    for (let b = 0; b < 6; b++) for (let j = 0; j < 32; j++) w[b * 32 + j] = j === 0 ? -b - 1 : j === 1 ? 15 - b - 1 : 0;
    const q = quantizeMatrix(w, 2, 96, { bits: 4, blockSize: 32, symmetric: false });
    // Block b spans [-(b+1), 14-b]: scale 1, min b+1.
    expect(Array.from(q.scales)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(Array.from(q.mins as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(q.data[0]).toBe(0 | (15 << 4)); // block 0: codes 0 and 15
    expect(q.data[1]).toBe(1 | (1 << 4)); // zeros -> code 1 (1 * 1 - 1 = 0)
    expect(Array.from(dequantizeMatrix(q))).toEqual(Array.from(w));
    expect(quantizedBytes(2, 96, q.spec)).toBe(2 * 3 * (16 + 8));
  });

  it('int8: one byte per code, default zero point 128; a short last block is padded with the zero point', () => {
    const w = Float32Array.from({ length: 40 }, (_, j) => (j % 2 ? 1 : -1) * (j + 1));
    const q = quantizeMatrix(w, 1, 40, { bits: 8, blockSize: 32, symmetric: true });
    expect(q.blocksPerRow).toBe(2);
    expect(q.data.length).toBe(64);
    // Block 1 holds 8 values, largest magnitude 40 (j = 39, positive) -> scale -40/128; padding codes 128.
    expect(q.scales[1]).toBeCloseTo(-40 / 128, 7);
    expect(q.data[32 + 7]).toBe(0);
    expect(Array.from(q.data.subarray(40, 64))).toEqual(new Array(24).fill(128));
    expect(quantizedBytes(1, 40, q.spec)).toBe(64 + 8);
  });
});

describe('quantize -> dequantize round trip', () => {
  for (const [name, spec] of SPECS) {
    it(`${name}: every value within its block's half step (symmetric: one step at the clamped end)`, () => {
      const rows = 7;
      const cols = 172; // not a multiple of 32 (stories260K's FFN width): a short last block
      const w = randoms(11 + spec.bits, rows * cols, spec.symmetric ? 0 : 0.03);
      const q = quantizeMatrix(w, rows, cols, spec);
      const back = dequantizeMatrix(q);
      let worst = 0;
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < cols; j++) {
          const scale = Math.abs(q.scales[r * q.blocksPerRow + Math.floor(j / spec.blockSize)]);
          const err = Math.abs(back[r * cols + j] - w[r * cols + j]);
          const bound = (spec.symmetric ? 1 : 0.5) * scale * (1 + 1e-5) + 1e-7;
          expect(err).toBeLessThanOrEqual(bound);
          worst = Math.max(worst, err / scale);
        }
        if (!spec.symmetric) continue;
        // Symmetric: the block's value of largest magnitude comes back within f32 rounding (it defines the scale).
        const row = w.subarray(r * cols, r * cols + spec.blockSize);
        const i = row.reduce((best, v, k) => (Math.abs(v) > Math.abs(row[best]) ? k : best), 0);
        expect(Math.abs(back[r * cols + i] - row[i])).toBeLessThan(1e-6);
      }
      // int4: 16 levels over a block; the errors really are of the size of a step, not zero by accident.
      expect(worst).toBeGreaterThan(0.3);
    });
  }

  it('int4 error is about 16x int8 error on the same weights', () => {
    const w = randoms(3, 64 * 256);
    const err = (spec: QuantizationSpec) => {
      const back = dequantizeMatrix(quantizeMatrix(w, 64, 256, spec));
      let s = 0;
      for (let i = 0; i < w.length; i++) s += (back[i] - w[i]) ** 2;
      return Math.sqrt(s / w.length);
    };
    const ratio = err({ bits: 4, blockSize: 32, symmetric: true }) / err({ bits: 8, blockSize: 32, symmetric: true });
    expect(ratio).toBeGreaterThan(10);
    expect(ratio).toBeLessThan(25);
  });

  it('an all-zero block stays zero', () => {
    for (const [, spec] of SPECS) {
      const back = dequantizeMatrix(quantizeMatrix(new Float32Array(64), 2, 32, spec));
      expect(back.every((v) => v === 0)).toBe(true);
    }
  });
});

describe('options', () => {
  it('parses the load option and names the bad value', () => {
    expect(parseQuantization(undefined)).toBe('f32');
    expect(parseQuantization('int4')).toBe('int4');
    expect(quantizationSpec('f32')).toBeNull();
    expect(quantizationSpec('int8')).toEqual({ bits: 8, blockSize: 32, symmetric: true });
    expect(() => parseQuantization('q4')).toThrow(/quantization: must be one of f32, f16, int8, int4/);
    expect(parseQuantization(undefined, 'f16')).toBe('f16');
    expect(parseQuantization('f32', 'f16')).toBe('f32');
    expect(quantizationSpec('f16')).toBeNull();
  });

  it('quantizes linear weights and the embedding table, never norms or biases', () => {
    expect(isQuantizedWeight('model.layers.3.self_attn.q_proj.weight')).toBe(true);
    expect(isQuantizedWeight('model.layers.0.mlp.down_proj.weight')).toBe(true);
    expect(isQuantizedWeight('model.embed_tokens.weight')).toBe(true);
    expect(isQuantizedWeight('lm_head.weight')).toBe(true);
    expect(isQuantizedWeight('model.layers.0.self_attn.q_proj.bias')).toBe(false);
    expect(isQuantizedWeight('model.layers.0.self_attn.q_norm.weight')).toBe(false);
    expect(isQuantizedWeight('model.norm.weight')).toBe(false);
  });
});
