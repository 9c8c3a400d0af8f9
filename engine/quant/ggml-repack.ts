// llama.cpp's GGUF block types repacked into our blocks (engine/quant/block-quant.ts) without passing through f32:
// each type maps to the one block format that holds its values exactly, so a GGUF tensor keeps its own precision
// and about its own size on the GPU.
//
//   ggml type  its value (ggml-quants.c dequantize_row_*)          ours                     exact because
//   Q8_0       d * q, q int8, blocks of 32                         int8 / 32, symmetric     code = q + 128, scale = d
//   Q4_0       d * (q - 8), q 4-bit, blocks of 32                  int4 / 32, symmetric     code = q, scale = d
//   Q6_K       (d * sc) * (q - 32), q 6-bit, sub-blocks of 16      int8 / 16, symmetric     code = q + 96, scale = d * sc
//   Q4_K       (d * sc) * q - dmin * m, q 4-bit, sub-blocks of 32  int4 / 32 with mins      code = q, scale = d * sc, min = dmin * m
//   Q5_K       the same with a 5-bit q                             int8 / 32 with mins      code = q
// The scale (and min) is the f32 product ggml computes before it multiplies (d * sc with sc a 6-bit or int8
// integer), and dequantizeMatrix rounds as ggml does, so dequantizeMatrix(repack(t)) equals ggml's f32 bit for bit.
// Q5_K takes a byte per code (5 bits do not pack into our 4-bit words): 10 bits per weight against its 5.5.
import { InvalidArgumentError } from '../errors/index.ts';
import { blobBytes, isQuantizedWeight, type QuantizationSpec, type QuantizedMatrix } from './block-quant.ts';
import { f16Table, ggmlBlockTypeNamed, kScaleMin } from './ggml-blocks.ts';

const QK_K = 256;

/** Our block format for each ggml block type (the table above). */
const NATIVE_SPECS: Record<string, QuantizationSpec> = {
  Q8_0: { bits: 8, blockSize: 32, symmetric: true },
  Q4_0: { bits: 4, blockSize: 32, symmetric: true },
  Q6_K: { bits: 8, blockSize: 16, symmetric: true },
  Q4_K: { bits: 4, blockSize: 32, symmetric: false },
  Q5_K: { bits: 8, blockSize: 32, symmetric: false },
};

/** The block format a ggml type ('Q4_K', ...) is repacked into, or null (F32, F16, BF16: no blocks). */
export function ggmlRepackSpec(type: string): QuantizationSpec | null {
  const spec = NATIVE_SPECS[type];
  return spec ? { ...spec } : null;
}

/**
 * How a weight is stored on the GPU (null: f32), for the loader's writer and the memory estimate alike: a GGUF's
 * ggml blocks (Q4_0, Q8_0, Q4_K, Q5_K, Q6_K) in their own block format whatever the load option, so the weight keeps
 * the precision and about the size its file chose, with no f32 between (requantizing them to the option would only
 * lose accuracy; expanding them to f32 takes 5 to 7 times the memory: a 1B Q4_K_M 4.9 GB); f32, f16 and bf16
 * weights in the load's `quantization`. Only the matrices isQuantizedWeight names are blocks: the embedding table
 * too (the gather and the tied LM head read every block format: Q4_K_M's own Q6_K table), never norms or biases.
 */
export function storageSpec(name: string, dtype: string, shape: readonly number[], quantization: QuantizationSpec | null): QuantizationSpec | null {
  if (shape.length !== 2 || !isQuantizedWeight(name)) return null;
  return ggmlRepackSpec(dtype) ?? (quantization && { ...quantization });
}

/**
 * `rows` whole rows of a tensor's stored ggml blocks ([rows][cols / blockElements] blocks, as the GGUF stores them)
 * in our blocks (ggmlRepackSpec(type)). Null for a type with no block format.
 */
export function repackGgmlBlocks(type: string, stored: Uint8Array, rows: number, cols: number): QuantizedMatrix | null {
  const spec = ggmlRepackSpec(type);
  const ggml = ggmlBlockTypeNamed(type);
  if (!spec || !ggml) return null;
  if (cols % ggml.blockElements !== 0) throw new InvalidArgumentError('cols', `${cols} is not a whole number of ${type} blocks (${ggml.blockElements})`);
  const ggmlBlocks = rows * (cols / ggml.blockElements);
  if (stored.byteLength !== ggmlBlocks * ggml.blockBytes) {
    throw new InvalidArgumentError('stored', `${stored.byteLength} bytes are not ${rows} rows of ${cols / ggml.blockElements} ${type} blocks`);
  }
  const blocksPerRow = cols / spec.blockSize;
  const blocks = rows * blocksPerRow;
  const q: QuantizedMatrix = {
    rows, cols, spec, blocksPerRow,
    data: new Uint8Array(blocks * blobBytes(spec)),
    scales: new Float32Array(blocks),
    mins: spec.symmetric ? null : new Float32Array(blocks),
  };
  const repack = REPACK[type];
  for (let b = 0; b < ggmlBlocks; b++) repack(stored, b * ggml.blockBytes, q, b * (ggml.blockElements / spec.blockSize));
  return q;
}

const f32 = Math.fround;
const half = (src: Uint8Array, at: number) => f16Table()[src[at] | (src[at + 1] << 8)];

/** Repacks the ggml block at byte `at` of `src` into our blocks from block index `to` on. */
type Repack = (src: Uint8Array, at: number, q: QuantizedMatrix, to: number) => void;

const REPACK: Record<string, Repack> = {
  // block_q8_0 { f16 d; int8 qs[32] }: int8 q + 128 is the byte with its top bit flipped.
  Q8_0(src, at, q, to) {
    q.scales[to] = half(src, at);
    const out = to * 32;
    for (let j = 0; j < 32; j++) q.data[out + j] = src[at + 2 + j] ^ 0x80;
  },
  // block_q4_0 { f16 d; u8 qs[16] }: element j in the low nibble of qs[j], j + 16 in its high nibble.
  Q4_0(src, at, q, to) {
    q.scales[to] = half(src, at);
    const out = to * 16;
    for (let j = 0; j < 16; j += 2) {
      const q0 = src[at + 2 + j];
      const q1 = src[at + 3 + j];
      q.data[out + j / 2] = (q0 & 0x0f) | ((q1 & 0x0f) << 4); // elements j, j + 1
      q.data[out + 8 + j / 2] = (q0 >> 4) | (q1 & 0xf0); // elements j + 16, j + 17
    }
  },
  // block_q6_K { u8 ql[128]; u8 qh[64]; int8 scales[16]; f16 d }: per half h of 128 elements, element l (< 32) of
  // each quarter k takes 4 low bits from ql[64h + l + 32 (k & 1)] (low nibble for k < 2) and 2 high bits from
  // qh[32h + l] at bit 2k; sub-block s (of 16) has scale scales[s].
  Q6_K(src, at, q, to) {
    const d = half(src, at + 208);
    for (let s = 0; s < 16; s++) {
      const sc = src[at + 192 + s];
      q.scales[to + s] = f32(d * (sc >= 128 ? sc - 256 : sc));
    }
    const out = to * 16;
    for (let h = 0; h < 2; h++) {
      const ql = at + 64 * h;
      const qh = at + 128 + 32 * h;
      for (let l = 0; l < 32; l++) {
        const hi = src[qh + l];
        const e = out + 128 * h + l;
        q.data[e] = ((src[ql + l] & 0x0f) | ((hi & 3) << 4)) + 96;
        q.data[e + 32] = ((src[ql + l + 32] & 0x0f) | (((hi >> 2) & 3) << 4)) + 96;
        q.data[e + 64] = ((src[ql + l] >> 4) | (((hi >> 4) & 3) << 4)) + 96;
        q.data[e + 96] = ((src[ql + l + 32] >> 4) | (((hi >> 6) & 3) << 4)) + 96;
      }
    }
  },
  // block_q4_K { f16 d, dmin; u8 scales[12]; u8 qs[128] }: sub-blocks 2i and 2i + 1 are the low and high nibbles of
  // qs[32i .. 32i + 32).
  Q4_K(src, at, q, to) {
    kScales(src, at, q, to);
    const out = to * 16;
    for (let i = 0; i < 4; i++) {
      const qs = at + 16 + 32 * i;
      const lo = out + 32 * i;
      for (let j = 0; j < 32; j += 2) {
        const q0 = src[qs + j];
        const q1 = src[qs + j + 1];
        q.data[lo + j / 2] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
        q.data[lo + 16 + j / 2] = (q0 >> 4) | (q1 & 0xf0);
      }
    }
  },
  // block_q5_K { f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128] }: Q4_K's nibbles plus a fifth bit, bit 2i of
  // qh[l] for sub-block 2i and bit 2i + 1 for 2i + 1.
  Q5_K(src, at, q, to) {
    kScales(src, at, q, to);
    const out = to * 32;
    const qh = at + 16;
    for (let i = 0; i < 4; i++) {
      const qs = at + 48 + 32 * i;
      for (let l = 0; l < 32; l++) {
        const h = src[qh + l] >> (2 * i);
        q.data[out + 64 * i + l] = (src[qs + l] & 0x0f) | ((h & 1) << 4);
        q.data[out + 64 * i + 32 + l] = (src[qs + l] >> 4) | ((h & 2) << 3);
      }
    }
  },
};

/** Q4_K / Q5_K: scale d * sc and min dmin * m of the 8 sub-blocks of 32 (6-bit sc, m), as ggml's f32 products. */
function kScales(src: Uint8Array, at: number, q: QuantizedMatrix, to: number): void {
  const d = half(src, at);
  const dmin = half(src, at + 2);
  const mins = q.mins as Float32Array;
  for (let s = 0; s < QK_K / 32; s++) {
    const [sc, m] = kScaleMin(src, at + 4, s);
    q.scales[to + s] = f32(d * sc);
    mins[to + s] = f32(dmin * m);
  }
}
