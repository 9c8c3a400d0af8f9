// Block quantization of linear weights at load, in the layout of ONNX Runtime's com.microsoft MatMulNBits, and
// its CPU reference dequantizer (the oracle of the GPU kernels' tests).
//
// MatMulNBits (onnxruntime docs/ContribOperators.md, com.microsoft.MatMulNBits, since version 1) computes
// Y = A @ dequant(B)^T for a weight W [N][K] (Hugging Face's [out, in]) quantized along K in blocks:
//   B            uint8 [N][n_blocks][blob]      n_blocks = ceil(K / block_size), blob = block_size * bits / 8;
//                codes packed low bits first: 4-bit element j of a block sits in byte j/2, low nibble when j is even
//   scales       [N * n_blocks] (A's type: f32 here)
//   zero_points  uint8 [N * ceil(n_blocks * bits / 8)], packed like B, each row padded to whole bytes; optional:
//                absent means 2^(bits - 1) (8 for int4, 128 for int8)
//   w = (code - zero_point) * scale
// The same bytes feed ORT (prefill) and our WGSL decode kernels, which read a block's blob as 32-bit words: with
// bits 4 or 8 and block 32 a blob is 16 or 32 bytes, so every block starts on a 16-byte boundary.
import { InvalidArgumentError } from '../errors/index.ts';
import { f16Table } from './ggml-blocks.ts';

/** The load option: full-precision weights, or int8 / int4 blocks. */
export type QuantizationMode = 'f32' | 'int8' | 'int4';
export const QUANTIZATION_MODES: readonly QuantizationMode[] = ['f32', 'int8', 'int4'];

/**
 * Block size along K: 32, as MatMulNBits' int4 models from ORT's own quantizer (matmul_nbits_quantizer.py
 * default block_size 32), llama.cpp's Q4_0/Q8_0 (QK4_0 = QK8_0 = 32) and the issue ask. One block is then
 * 16 (int4) or 32 (int8) bytes of codes plus a 4-byte f32 scale: 5.0 and 9.0 bits per weight.
 */
export const QUANT_BLOCK_SIZE = 32;

export interface QuantizationSpec {
  bits: 4 | 8;
  blockSize: number;
  /**
   * Symmetric: no zero points (MatMulNBits' default 2^(bits-1)), scale = m / -2^(bits-1) where m is the block's
   * value of largest magnitude, so m is exact and the codes span the whole range (llama.cpp's Q4_0 rule).
   * Asymmetric: scale = (hi - lo) / (2^bits - 1) over [lo, hi] = [min(block, 0), max(block, 0)], zero point
   * round(-lo / scale): better for skewed blocks, at 4 more bits per block.
   */
  symmetric: boolean;
}

/** The spec a load option stands for (null: f32). int4 and int8 are symmetric: see docs/quantization.md. */
export function quantizationSpec(mode: QuantizationMode): QuantizationSpec | null {
  if (mode === 'f32') return null;
  return { bits: mode === 'int4' ? 4 : 8, blockSize: QUANT_BLOCK_SIZE, symmetric: true };
}

/** Validates a user-given quantization option (engine.load, the worker, the CLI). */
export function parseQuantization(value: unknown): QuantizationMode {
  if (value === undefined || value === null) return 'f32';
  if (typeof value === 'string' && (QUANTIZATION_MODES as readonly string[]).includes(value)) return value as QuantizationMode;
  throw new InvalidArgumentError('quantization', `must be one of ${QUANTIZATION_MODES.join(', ')}, got ${JSON.stringify(value)}`);
}

/** A weight [rows = N][cols = K] in MatMulNBits' layout. */
export interface QuantizedMatrix {
  rows: number;
  cols: number;
  spec: QuantizationSpec;
  blocksPerRow: number;
  /** B: [rows][blocksPerRow][blockSize * bits / 8]. */
  data: Uint8Array;
  /** [rows * blocksPerRow]. */
  scales: Float32Array;
  /** [rows * zeroPointBytesPerRow], or null (symmetric). */
  zeroPoints: Uint8Array | null;
}

export function blocksPerRow(cols: number, spec: QuantizationSpec): number {
  return Math.ceil(cols / spec.blockSize);
}

export function blobBytes(spec: QuantizationSpec): number {
  return (spec.blockSize * spec.bits) / 8;
}

/** Bytes of one row's packed zero points: ceil(n_blocks * bits / 8). */
export function zeroPointBytesPerRow(blocks: number, bits: number): number {
  return Math.ceil((blocks * bits) / 8);
}

/** The zero point MatMulNBits assumes when none is given. */
export function defaultZeroPoint(bits: number): number {
  return 1 << (bits - 1);
}

/** GPU bytes of a quantized [rows][cols] weight: codes + f32 scales (+ zero points). */
export function quantizedBytes(rows: number, cols: number, spec: QuantizationSpec): number {
  const blocks = blocksPerRow(cols, spec);
  return rows * (blocks * blobBytes(spec) + blocks * 4 + (spec.symmetric ? 0 : zeroPointBytesPerRow(blocks, spec.bits)));
}

/**
 * Bytes of a quantized weight's largest buffer (its codes) per f32 byte of the weight: 1/4 (int8), 1/8 (int4), 1
 * (f32); a K that is not a multiple of the block adds up to one block per row. The loader checks tensor sizes
 * against the device's binding limit as f32 before any download; with quantization that limit scales by this.
 */
export function codeBytesPerF32Byte(mode: QuantizationMode): number {
  const spec = quantizationSpec(mode);
  return spec ? spec.bits / 32 : 1;
}

function checkSpec(spec: QuantizationSpec): void {
  if (spec.bits !== 4 && spec.bits !== 8) throw new InvalidArgumentError('quantization.bits', `must be 4 or 8, got ${spec.bits}`);
  // MatMulNBits: "block_size must be a power of 2 and not smaller than 16"; our kernels read whole 16-byte words.
  if (!Number.isInteger(spec.blockSize) || spec.blockSize < 16 || (spec.blockSize & (spec.blockSize - 1)) !== 0) {
    throw new InvalidArgumentError('quantization.blockSize', `must be a power of two >= 16, got ${spec.blockSize}`);
  }
}

/** Writes a `bits`-wide code at element index `j` of a packed byte array starting at `base`. */
function putCode(bytes: Uint8Array, base: number, j: number, code: number, bits: number): void {
  if (bits === 8) {
    bytes[base + j] = code;
  } else {
    const i = base + (j >> 1);
    bytes[i] = j & 1 ? (bytes[i] & 0x0f) | (code << 4) : (bytes[i] & 0xf0) | code;
  }
}

function getCode(bytes: Uint8Array, base: number, j: number, bits: number): number {
  return bits === 8 ? bytes[base + j] : (bytes[base + (j >> 1)] >> ((j & 1) * 4)) & 0x0f;
}

/** Quantizes W [rows][cols] f32 (row-major, HF's [out, in]) along cols. */
export function quantizeMatrix(w: Float32Array, rows: number, cols: number, spec: QuantizationSpec): QuantizedMatrix {
  checkSpec(spec);
  if (!Number.isSafeInteger(rows) || !Number.isSafeInteger(cols) || rows <= 0 || cols <= 0 || w.length !== rows * cols) {
    throw new InvalidArgumentError('weight', `[${rows}, ${cols}] does not describe ${w.length} values`);
  }
  const { bits, blockSize: bs, symmetric } = spec;
  const maxCode = (1 << bits) - 1;
  const blocks = blocksPerRow(cols, spec);
  const blob = blobBytes(spec);
  const zpRow = zeroPointBytesPerRow(blocks, bits);
  const data = new Uint8Array(rows * blocks * blob);
  const scales = new Float32Array(rows * blocks);
  const zeroPoints = symmetric ? null : new Uint8Array(rows * zpRow);
  const scratch = new Float32Array(1);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < blocks; b++) {
      const start = r * cols + b * bs;
      const count = Math.min(bs, cols - b * bs);
      let scale: number;
      let zp: number;
      if (symmetric) {
        let m = 0;
        for (let j = 0; j < count; j++) if (Math.abs(w[start + j]) > Math.abs(m)) m = w[start + j];
        zp = defaultZeroPoint(bits);
        scale = m / -zp;
      } else {
        let lo = 0;
        let hi = 0;
        for (let j = 0; j < count; j++) {
          lo = Math.min(lo, w[start + j]);
          hi = Math.max(hi, w[start + j]);
        }
        scale = (hi - lo) / maxCode;
        zp = scale === 0 ? 0 : Math.min(maxCode, Math.max(0, Math.round(-lo / scale)));
      }
      // Codes are chosen against the f32 scale that is stored, so the CPU and GPU dequantize the same numbers.
      scratch[0] = scale;
      scale = scratch[0];
      scales[r * blocks + b] = scale;
      if (zeroPoints) putCode(zeroPoints, r * zpRow, b, zp, bits);
      const inv = scale === 0 ? 0 : 1 / scale;
      const base = (r * blocks + b) * blob;
      // Elements past cols (the last block of a row whose cols is not a multiple of blockSize) get the zero point.
      for (let j = 0; j < bs; j++) {
        const code = j < count ? Math.min(maxCode, Math.max(0, Math.round(w[start + j] * inv) + zp)) : zp;
        putCode(data, base, j, code, bits);
      }
    }
  }
  return { rows, cols, spec: { ...spec }, blocksPerRow: blocks, data, scales, zeroPoints };
}

/**
 * llama.cpp's Q8_0 / Q4_0 rows repacked into our int8 / int4 blocks without passing through f32: both are symmetric
 * blocks of 32 with one f16 scale, so code = q + 2^(bits-1) and scale = d (as f32) give w = (code - zp) * scale =
 * q * d, ggml's dequantized value exactly. `stored`: `rows` whole rows of ggml blocks (block_q8_0 { f16 d; i8 qs[32] },
 * block_q4_0 { f16 d; u8 qs[16] } with element j in the low nibble of qs[j], j + 16 in its high nibble). Null for
 * other types or specs (they go through f32 and quantizeMatrix).
 */
export function repackGgmlBlocks(type: string, stored: Uint8Array, rows: number, cols: number, spec: QuantizationSpec): QuantizedMatrix | null {
  if (spec.blockSize !== 32 || !spec.symmetric || cols % 32 !== 0) return null;
  const kind = type === 'Q8_0' && spec.bits === 8 ? 8 : type === 'Q4_0' && spec.bits === 4 ? 4 : 0;
  if (kind === 0) return null;
  const blockBytes = kind === 8 ? 34 : 18;
  const blocks = cols / 32;
  if (stored.byteLength !== rows * blocks * blockBytes) throw new InvalidArgumentError('stored', `${stored.byteLength} bytes are not ${rows} rows of ${blocks} ${type} blocks`);
  const t = f16Table();
  const blob = blobBytes(spec);
  const data = new Uint8Array(rows * blocks * blob);
  const scales = new Float32Array(rows * blocks);
  for (let b = 0; b < rows * blocks; b++) {
    const at = b * blockBytes;
    scales[b] = t[stored[at] | (stored[at + 1] << 8)];
    const out = b * blob;
    if (kind === 8) {
      // int8 q + 128 is the byte with its top bit flipped.
      for (let j = 0; j < 32; j++) data[out + j] = stored[at + 2 + j] ^ 0x80;
    } else {
      for (let j = 0; j < 16; j += 2) {
        const q0 = stored[at + 2 + j];
        const q1 = stored[at + 3 + j];
        data[out + j / 2] = (q0 & 0x0f) | ((q1 & 0x0f) << 4); // elements j, j + 1
        data[out + 8 + j / 2] = (q0 >> 4) | (q1 & 0xf0); // elements j + 16, j + 17
      }
    }
  }
  return { rows, cols, spec: { ...spec }, blocksPerRow: blocks, data, scales, zeroPoints: null };
}

/** The CPU reference: W' [rows][cols] f32 with w' = (code - zero_point) * scale, as MatMulNBits defines it. */
export function dequantizeMatrix(q: QuantizedMatrix): Float32Array {
  const { rows, cols, blocksPerRow: blocks } = q;
  const { bits, blockSize: bs } = q.spec;
  const blob = blobBytes(q.spec);
  const zpRow = zeroPointBytesPerRow(blocks, bits);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < blocks; b++) {
      const scale = q.scales[r * blocks + b];
      const zp = q.zeroPoints ? getCode(q.zeroPoints, r * zpRow, b, bits) : defaultZeroPoint(bits);
      const base = (r * blocks + b) * blob;
      const count = Math.min(bs, cols - b * bs);
      for (let j = 0; j < count; j++) out[r * cols + b * bs + j] = (getCode(q.data, base, j, bits) - zp) * scale;
    }
  }
  return out;
}

/**
 * Which weights are quantized: the linear layers' matrices (q/k/v/o, gate/up/down), the embedding table and an
 * untied LM head. Norms, biases and qwen3's q/k norms stay f32 (a few KiB, and every output depends on them).
 * The embedding table is quantized too, and shared by the gather and a tied LM head: kept f32 it would be the
 * largest tensor of every small model (SmolLM2-135M: 113 MB of its 540 MB; Qwen2.5-0.5B: 545 MB of 2 GB).
 */
export function isQuantizedWeight(name: string): boolean {
  return QUANTIZED_WEIGHT.test(name);
}

const QUANTIZED_WEIGHT = /^(model\.layers\.\d+\.(self_attn\.[qkvo]_proj|mlp\.(gate|up|down)_proj)\.weight|model\.embed_tokens\.weight|lm_head\.weight)$/;
