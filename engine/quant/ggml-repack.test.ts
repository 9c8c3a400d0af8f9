// Every ggml block type repacked into our blocks against ggml's own dequantization (ggml-blocks.ts, checked against
// gguf-py through the GGUF goldens): random blocks, compared block by block, bit for bit.
import { describe, expect, it } from 'vitest';
import { blobBytes, dequantizeMatrix, GGML_BLOCK_TYPES, ggmlRepackSpec, quantizedBytes, repackGgmlBlocks } from './index.ts';

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

/** Byte offsets of a block type's f16 fields (d, and dmin for Q4_K / Q5_K). */
const HALVES: Record<string, number[]> = { Q4_0: [0], Q8_0: [0], Q4_K: [0, 2], Q5_K: [0, 2], Q6_K: [208] };

/**
 * `blocks` random ggml blocks: every code, scale and min byte random, the f16 scales finite and of either sign over
 * a wide range of exponents (subnormals included), so every rounding path of d * sc and d * sc * q is hit.
 */
function randomBlocks(type: (typeof GGML_BLOCK_TYPES)[number], blocks: number, next: () => number): Uint8Array {
  const bytes = new Uint8Array(blocks * type.blockBytes);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(next() * 256);
  for (let b = 0; b < blocks; b++) {
    for (const at of HALVES[type.name]) {
      const exponent = Math.floor(next() * 24); // 0 (subnormal) .. 23: up to 2^8
      const half = (next() < 0.5 ? 0x8000 : 0) | (exponent << 10) | Math.floor(next() * 1024);
      bytes[b * type.blockBytes + at] = half & 0xff;
      bytes[b * type.blockBytes + at + 1] = half >> 8;
    }
  }
  return bytes;
}

describe('ggml blocks repacked into ours equal ggml\'s dequantization exactly', () => {
  it.each(GGML_BLOCK_TYPES.map((t) => [t.name, t] as const))('%s', (_name, type) => {
    const next = rng(type.id * 977);
    const rows = 3;
    const cols = 2 * 256; // two K-quant super-blocks or 16 Q4_0/Q8_0 blocks per row
    const stored = randomBlocks(type, (rows * cols) / type.blockElements, next);
    const q = repackGgmlBlocks(type.name, stored, rows, cols);
    expect(q).not.toBeNull();
    const spec = ggmlRepackSpec(type.name)!;
    expect(q!.spec).toEqual(spec);
    expect(q!.data.byteLength).toBe((rows * cols * spec.bits) / 8);
    const ours = dequantizeMatrix(q!);
    const ggml = new Float32Array(rows * cols);
    type.dequantize(stored, 0, (rows * cols) / type.blockElements, ggml, 0);
    // Block by block, so a failure names the block and element.
    for (let b = 0; b < (rows * cols) / type.blockElements; b++) {
      const at = b * type.blockElements;
      const mismatch = Array.from({ length: type.blockElements }, (_, j) => j).find((j) => !Object.is(ours[at + j], ggml[at + j]));
      expect(mismatch, `${type.name} block ${b}`).toBeUndefined();
    }
    // The GPU bytes of our form: codes plus 4 (symmetric) or 8 (with mins) bytes per block.
    expect(quantizedBytes(rows, cols, spec)).toBe(q!.data.byteLength + (rows * cols / spec.blockSize) * (spec.symmetric ? 4 : 8));
    expect(blobBytes(spec) % 16).toBe(0);
  });

  it('has no block form for unblocked types, and refuses bytes that are not whole rows of blocks', () => {
    for (const t of ['F32', 'F16', 'BF16']) expect(repackGgmlBlocks(t, new Uint8Array(64), 1, 32)).toBeNull();
    expect(() => repackGgmlBlocks('Q4_K', new Uint8Array(143), 1, 256)).toThrow(/143 bytes are not 1 rows of 1 Q4_K blocks/);
    expect(() => repackGgmlBlocks('Q6_K', new Uint8Array(210), 1, 128)).toThrow(/not a whole number of Q6_K blocks/);
  });
});
