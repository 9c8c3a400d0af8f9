import { describe, expect, it } from 'vitest';
import { f16Bits, packF16Pairs, roundToF16, toF16 } from './f16.ts';
import { f16Table } from './ggml-blocks.ts';

describe('f16 conversion', () => {
  it('round-trips every finite f16 exactly and rounds halfway values to even', () => {
    const t = f16Table();
    for (let h = 0; h < 65536; h++) {
      if (((h >> 10) & 0x1f) === 0x1f) continue;
      expect(f16Bits(t[h])).toBe(h === 0x8000 ? 0x8000 : h);
    }
    // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: to even (1). 1 + 3 * 2^-11: to 1 + 2^-9.
    expect(f16Bits(1 + 2 ** -11)).toBe(0x3c00);
    expect(f16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f16Bits(70000)).toBe(0x7c00);
    expect(f16Bits(-1e-9)).toBe(0x8000);
    expect(Number.isNaN(t[f16Bits(NaN)])).toBe(true);
    expect(Array.from(toF16(Float32Array.from([0.5, -2])))).toEqual([0x3800, 0xc000]);
  });

  it('stays within half an f16 ulp of random values', () => {
    const t = f16Table();
    for (let i = 0; i < 10000; i++) {
      const v = Math.fround((Math.sin(i * 12.9898) * 43758.5453 % 1) * 8);
      const back = t[f16Bits(v)];
      const ulp = 2 ** (Math.floor(Math.log2(Math.max(Math.abs(v), 2 ** -14))) - 10);
      expect(Math.abs(back - v)).toBeLessThanOrEqual(ulp / 2);
    }
  });

  it('packs pairs low half first, as WGSL unpack2x16float reads them, and pads an odd count with 0', () => {
    const v = Float32Array.from([1, -2, 0.5, 65504, 3]);
    expect(Array.from(packF16Pairs(v))).toEqual([(0xc000 << 16 | 0x3c00) >>> 0, (0x7bff << 16 | 0x3800) >>> 0, 0x4200]);
    expect(Array.from(packF16Pairs(v, 2))).toEqual([(0xc000 << 16 | 0x3c00) >>> 0]);
    // The bytes are a Uint16Array's of the halves (little-endian).
    expect(Array.from(new Uint16Array(packF16Pairs(v).buffer))).toEqual([...toF16(v), 0]);
    expect(Array.from(roundToF16(Float32Array.from([1 + 2 ** -11, 0.1])))).toEqual([1, f16Table()[f16Bits(0.1)]]);
  });
});
