// llama.cpp's block quantization types as GGUF files store them, and their dequantization to f32: the rules of
// ggml-quants.c (dequantize_row_q4_0, _q8_0, _q4_K, _q5_K, _q6_K) on the layouts of ggml-common.h, in f32 arithmetic
// in ggml's order of operations (d * sc, then d1 * q - m1), so a weight reads back as ggml computes it.
// A tensor row is a whole number of blocks along its innermost dimension (ne[0]).

export interface GgmlBlockType {
  name: string;
  /** ggml_type id (ggml.h). */
  id: number;
  /** Elements per block (QK4_0 = QK8_0 = 32, QK_K = 256). */
  blockElements: number;
  blockBytes: number;
  /** Dequantizes `blocks` consecutive blocks of `src` starting at byte `at` into `out` from element `to`. */
  dequantize(src: Uint8Array, at: number, blocks: number, out: Float32Array, to: number): void;
}

const QK_K = 256;
const K_SCALE_SIZE = 12;

let F16: Float32Array | null = null;
/** All binary16 values as f32 (every f16 is exactly an f32). */
export function f16Table(): Float32Array {
  if (F16) return F16;
  F16 = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    F16[h] = exp === 0 ? sign * mant * 2 ** -24 : exp === 0x1f ? (mant ? NaN : sign * Infinity) : sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return F16;
}

const f32 = Math.fround;
const half = (src: Uint8Array, at: number, t: Float32Array) => t[src[at] | (src[at + 1] << 8)];

/** block_q4_0 { ggml_half d; uint8_t qs[16]; }: x[j] = (lo nibble - 8) * d, x[j + 16] = (hi nibble - 8) * d. */
const Q4_0: GgmlBlockType = {
  name: 'Q4_0', id: 2, blockElements: 32, blockBytes: 18,
  dequantize(src, at, blocks, out, to) {
    const t = f16Table();
    for (let b = 0; b < blocks; b++, at += 18, to += 32) {
      const d = half(src, at, t);
      for (let j = 0; j < 16; j++) {
        const q = src[at + 2 + j];
        out[to + j] = f32(((q & 0x0f) - 8) * d);
        out[to + j + 16] = f32(((q >> 4) - 8) * d);
      }
    }
  },
};

/** block_q8_0 { ggml_half d; int8_t qs[32]; }: x[j] = qs[j] * d. */
const Q8_0: GgmlBlockType = {
  name: 'Q8_0', id: 8, blockElements: 32, blockBytes: 34,
  dequantize(src, at, blocks, out, to) {
    const t = f16Table();
    for (let b = 0; b < blocks; b++, at += 34, to += 32) {
      const d = half(src, at, t);
      for (let j = 0; j < 32; j++) {
        const q = src[at + 2 + j];
        out[to + j] = f32((q >= 128 ? q - 256 : q) * d);
      }
    }
  },
};

/** get_scale_min_k4: the 6-bit scale and min of sub-block j from the 12 packed bytes at `s`. */
export function kScaleMin(src: Uint8Array, s: number, j: number): [number, number] {
  if (j < 4) return [src[s + j] & 63, src[s + j + 4] & 63];
  return [(src[s + j + 4] & 0x0f) | ((src[s + j - 4] >> 6) << 4), (src[s + j + 4] >> 4) | ((src[s + j] >> 6) << 4)];
}

/**
 * block_q4_K { ggml_half d, dmin; uint8_t scales[12]; uint8_t qs[128]; }: 8 sub-blocks of 32, each
 * x = d * sc * q - dmin * m with 6-bit sc, m; a pair of sub-blocks shares 32 bytes (low nibbles, then high).
 */
const Q4_K: GgmlBlockType = {
  name: 'Q4_K', id: 12, blockElements: QK_K, blockBytes: 4 + K_SCALE_SIZE + QK_K / 2,
  dequantize(src, at, blocks, out, to) {
    const t = f16Table();
    for (let b = 0; b < blocks; b++, at += 144) {
      const d = half(src, at, t);
      const dmin = half(src, at + 2, t);
      const scales = at + 4;
      let q = at + 16;
      for (let j = 0, is = 0; j < QK_K; j += 64, is += 2, q += 32) {
        const [sc1, m1] = kScaleMin(src, scales, is);
        const [sc2, m2] = kScaleMin(src, scales, is + 1);
        const d1 = f32(d * sc1), min1 = f32(dmin * m1), d2 = f32(d * sc2), min2 = f32(dmin * m2);
        for (let l = 0; l < 32; l++) out[to++] = f32(f32(d1 * (src[q + l] & 0x0f)) - min1);
        for (let l = 0; l < 32; l++) out[to++] = f32(f32(d2 * (src[q + l] >> 4)) - min2);
      }
    }
  },
};

/** block_q5_K { ggml_half d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; }: Q4_K with a fifth bit. */
const Q5_K: GgmlBlockType = {
  name: 'Q5_K', id: 13, blockElements: QK_K, blockBytes: 4 + K_SCALE_SIZE + QK_K / 8 + QK_K / 2,
  dequantize(src, at, blocks, out, to) {
    const t = f16Table();
    for (let b = 0; b < blocks; b++, at += 176) {
      const d = half(src, at, t);
      const dmin = half(src, at + 2, t);
      const scales = at + 4;
      const qh = at + 16;
      let ql = at + 48;
      let u1 = 1, u2 = 2;
      for (let j = 0, is = 0; j < QK_K; j += 64, is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
        const [sc1, m1] = kScaleMin(src, scales, is);
        const [sc2, m2] = kScaleMin(src, scales, is + 1);
        const d1 = f32(d * sc1), min1 = f32(dmin * m1), d2 = f32(d * sc2), min2 = f32(dmin * m2);
        for (let l = 0; l < 32; l++) out[to++] = f32(f32(d1 * ((src[ql + l] & 0x0f) + (src[qh + l] & u1 ? 16 : 0))) - min1);
        for (let l = 0; l < 32; l++) out[to++] = f32(f32(d2 * ((src[ql + l] >> 4) + (src[qh + l] & u2 ? 16 : 0))) - min2);
      }
    }
  },
};

/**
 * block_q6_K { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; ggml_half d; }: 16 sub-blocks of 16,
 * x = d * sc * (q - 32) with 6-bit q (4 low bits in ql, 2 high in qh) and int8 sc.
 */
const Q6_K: GgmlBlockType = {
  name: 'Q6_K', id: 14, blockElements: QK_K, blockBytes: QK_K / 2 + QK_K / 4 + QK_K / 16 + 2,
  dequantize(src, at, blocks, out, to) {
    const t = f16Table();
    const sc = (i: number) => (src[i] >= 128 ? src[i] - 256 : src[i]);
    for (let b = 0; b < blocks; b++, at += 210, to += QK_K) {
      const d = half(src, at + 208, t);
      let ql = at, qh = at + 128, s = at + 192, y = to;
      for (let n = 0; n < QK_K; n += 128, ql += 64, qh += 32, s += 8, y += 128) {
        for (let l = 0; l < 32; l++) {
          const is = l >> 4;
          const h = src[qh + l];
          const q1 = ((src[ql + l] & 0x0f) | ((h & 3) << 4)) - 32;
          const q2 = ((src[ql + l + 32] & 0x0f) | (((h >> 2) & 3) << 4)) - 32;
          const q3 = ((src[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
          const q4 = ((src[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
          out[y + l] = f32(f32(d * sc(s + is)) * q1);
          out[y + l + 32] = f32(f32(d * sc(s + is + 2)) * q2);
          out[y + l + 64] = f32(f32(d * sc(s + is + 4)) * q3);
          out[y + l + 96] = f32(f32(d * sc(s + is + 6)) * q4);
        }
      }
    }
  },
};

export const GGML_BLOCK_TYPES: readonly GgmlBlockType[] = [Q4_0, Q8_0, Q4_K, Q5_K, Q6_K];

export function ggmlBlockType(id: number): GgmlBlockType | undefined {
  return GGML_BLOCK_TYPES.find((t) => t.id === id);
}

export function ggmlBlockTypeNamed(name: string): GgmlBlockType | undefined {
  return GGML_BLOCK_TYPES.find((t) => t.name === name);
}
