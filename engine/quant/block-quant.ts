// Block quantization of linear weights at load, in the layout of ONNX Runtime's com.microsoft MatMulNBits for its
// codes and scales, and its CPU reference dequantizer (the oracle of the GPU kernels' tests).
//
// A weight W [N][K] (Hugging Face's [out, in]) is quantized along K in blocks:
//   data     uint8 [N][n_blocks][blob]      n_blocks = ceil(K / block_size), blob = block_size * bits / 8;
//            codes packed low bits first: 4-bit element j of a block sits in byte j/2, low nibble when j is even
//   scales   f32 [N * n_blocks]
//   mins     f32 [N * n_blocks], optional (asymmetric blocks):
//            symmetric   w = (code - 2^(bits - 1)) * scale          (MatMulNBits' default zero point: 8 or 128)
//            with mins   w = scale * code - min                      (llama.cpp's Q4_K / Q5_K: d * sc * q - dmin * m)
// Why an f32 min and not MatMulNBits' integer zero point: the K-quants' offset dmin * m is no integer multiple of
// their scale d * sc, so only w = s * q - min holds them exactly; the integer zero point is the special case
// min = zp * s, so one form serves both and the kernels read one thing (an f32 beside each scale). No load path
// made zero points, and the kernels' cost is one more f32 read per block where mins exist, none where they do not.
// Our WGSL kernels read a block's blob as 32-bit words: with bits 4 or 8 and blocks of 16 or more a blob is a
// whole number of 16-byte words (int8 blocks of 16: llama.cpp's Q6_K sub-blocks).
import { InvalidArgumentError } from '../errors/index.ts';

/**
 * The load option, the one weight-format option: f32 values, f16 values (engine/quant/f16.ts: pairs packed in u32
 * words, read with WGSL's core unpack2x16float, so no shader-f16 is needed), or int8 / int4 blocks. Products and sums
 * are f32 in every format.
 */
export type QuantizationMode = 'f32' | 'f16' | 'int8' | 'int4';
export const QUANTIZATION_MODES: readonly QuantizationMode[] = ['f32', 'f16', 'int8', 'int4'];

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
   * Symmetric: no mins (the zero point is MatMulNBits' default 2^(bits-1)), scale = m / -2^(bits-1) where m is the
   * block's value of largest magnitude, so m is exact and the codes span the whole range (llama.cpp's Q4_0 rule).
   * Asymmetric: scale = (hi - lo) / (2^bits - 1) and min = -lo over [lo, hi] = [min(block, 0), max(block, 0)]
   * (llama.cpp's Q4_1 rule): better for skewed blocks, at 32 more bits per block.
   */
  symmetric: boolean;
}

/** The block spec a load option stands for (null: f32 or f16 values). int4 and int8 are symmetric: see docs/quantization.md. */
export function quantizationSpec(mode: QuantizationMode): QuantizationSpec | null {
  if (mode === 'f32' || mode === 'f16') return null;
  return { bits: mode === 'int4' ? 4 : 8, blockSize: QUANT_BLOCK_SIZE, symmetric: true };
}

/**
 * Validates a user-given quantization option (engine.load, the worker, the CLI); absent, it is `byDefault` (the
 * adapter's default: engine/decode's defaultWeightFormat, f16 on real GPUs and f32 on CPU adapters).
 */
export function parseQuantization(value: unknown, byDefault: QuantizationMode = 'f32'): QuantizationMode {
  if (value === undefined || value === null) return byDefault;
  if (typeof value === 'string' && (QUANTIZATION_MODES as readonly string[]).includes(value)) return value as QuantizationMode;
  throw new InvalidArgumentError('quantization', `must be one of ${QUANTIZATION_MODES.join(', ')}, got ${JSON.stringify(value)}`);
}

/** A weight [rows = N][cols = K] in blocks along K (the layout above). */
export interface QuantizedMatrix {
  rows: number;
  cols: number;
  spec: QuantizationSpec;
  blocksPerRow: number;
  /** B: [rows][blocksPerRow][blockSize * bits / 8]. */
  data: Uint8Array;
  /** [rows * blocksPerRow]. */
  scales: Float32Array;
  /** [rows * blocksPerRow]: w = scale * code - min; null when symmetric (w = (code - 2^(bits-1)) * scale). */
  mins: Float32Array | null;
}

export function blocksPerRow(cols: number, spec: QuantizationSpec): number {
  return Math.ceil(cols / spec.blockSize);
}

export function blobBytes(spec: QuantizationSpec): number {
  return (spec.blockSize * spec.bits) / 8;
}

/** The zero point of a symmetric block (MatMulNBits' default): 8 (int4) or 128 (int8). */
export function defaultZeroPoint(bits: number): number {
  return 1 << (bits - 1);
}

/** GPU bytes of a quantized [rows][cols] weight: codes + f32 scales (+ f32 mins). */
export function quantizedBytes(rows: number, cols: number, spec: QuantizationSpec): number {
  const blocks = blocksPerRow(cols, spec);
  return rows * blocks * (blobBytes(spec) + (spec.symmetric ? 4 : 8));
}

/**
 * Bytes of a weight's largest buffer (int: its codes) per f32 byte of the weight: 1/2 (f16), 1/4 (int8), 1/8 (int4),
 * 1 (f32); a K that is not a multiple of the block adds up to one block per row. The loader checks tensor sizes
 * against the device's binding limit as f32 before any download; with another format that limit scales by this.
 */
export function codeBytesPerF32Byte(mode: QuantizationMode): number {
  if (mode === 'f16') return 0.5;
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

/**
 * A symmetric block whose largest magnitude is below this is stored as zeros (scale -0, every code the zero point):
 * its scale would be subnormal, which GPUs may flush to zero (WGSL allows it), so the kernels could not read it as
 * stored, and no model's output depends on values under 1e-30.
 */
export const MIN_BLOCK_MAGNITUDE = 2 ** -100;

/** NaN or an infinity in a weight: blocks cannot hold it (its block's scale and every code would be garbage). */
function nonFinite(row: number, col: number, value: number): InvalidArgumentError {
  return new InvalidArgumentError('weight', `holds ${value} at row ${row}, column ${col}; block quantization takes finite values only (the file is damaged)`);
}

/**
 * Quantizes W [rows][cols] f32 (row-major, HF's [out, in]) along cols: the CPU reference of quantize.wgsl (the load's
 * quantizer, engine/quant/gpu/gpu-quantize.ts), and the quantizer of tests and benches. Throws on NaN or an infinity.
 */
export function quantizeMatrix(w: Float32Array, rows: number, cols: number, spec: QuantizationSpec): QuantizedMatrix {
  checkSpec(spec);
  if (!Number.isSafeInteger(rows) || !Number.isSafeInteger(cols) || rows <= 0 || cols <= 0 || w.length !== rows * cols) {
    throw new InvalidArgumentError('weight', `[${rows}, ${cols}] does not describe ${w.length} values`);
  }
  const { bits, blockSize: bs, symmetric } = spec;
  const maxCode = (1 << bits) - 1;
  const blocks = blocksPerRow(cols, spec);
  const blob = blobBytes(spec);
  const data = new Uint8Array(rows * blocks * blob);
  const scales = new Float32Array(rows * blocks);
  const mins = symmetric ? null : new Float32Array(rows * blocks);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < blocks; b++) {
      const start = r * cols + b * bs;
      const count = Math.min(bs, cols - b * bs);
      const at = r * blocks + b;
      for (let j = 0; j < count; j++) if (!Number.isFinite(w[start + j])) throw nonFinite(r, b * bs + j, w[start + j]);
      const base = at * blob;
      if (symmetric) {
        let m = 0;
        for (let j = 0; j < count; j++) if (Math.abs(w[start + j]) > Math.abs(m)) m = w[start + j];
        if (Math.abs(m) < MIN_BLOCK_MAGNITUDE) m = 0;
        const zp = defaultZeroPoint(bits);
        scales[at] = m / -zp;
        // code = round(-zp * w / m) + zp: -zp * w is exact in double, and the one division of two f32s cannot cross a
        // rounding boundary (a quotient of 24-bit mantissas is a half-integer or at least 2^-34 from one), so this is
        // the exact rounding, ties toward +infinity: what quantize.wgsl computes on integer mantissas, bit for bit.
        // Elements past cols (the last block of a row whose cols is not a multiple of blockSize) get the code of 0.
        for (let j = 0; j < bs; j++) {
          const v = j < count && m !== 0 ? Math.round((-zp * w[start + j]) / m) + zp : zp;
          putCode(data, base, j, Math.min(maxCode, Math.max(0, v)), bits);
        }
        continue;
      }
      // Asymmetric (tests' and benches' blocks with mins): codes are chosen against the f32 scale and min that are
      // stored, so the CPU and GPU dequantize the same numbers.
      let lo = 0;
      let hi = 0;
      for (let j = 0; j < count; j++) {
        lo = Math.min(lo, w[start + j]);
        hi = Math.max(hi, w[start + j]);
      }
      scales[at] = (hi - lo) / maxCode;
      (mins as Float32Array)[at] = -lo;
      lo = -(mins as Float32Array)[at];
      const scale = scales[at];
      const inv = scale === 0 ? 0 : 1 / scale;
      const zeroCode = Math.min(maxCode, Math.round(-lo * inv));
      for (let j = 0; j < bs; j++) {
        const v = j < count ? Math.round((w[start + j] - lo) * inv) : zeroCode;
        putCode(data, base, j, Math.min(maxCode, Math.max(0, v)), bits);
      }
    }
  }
  return { rows, cols, spec: { ...spec }, blocksPerRow: blocks, data, scales, mins };
}

/**
 * The per-block f32s as the GPU kernels read them from one buffer: the scales, or with mins (scale, min) pairs
 * (engine/decode QuantizedMatrixBuffers says why one buffer).
 */
export function gpuScales(q: QuantizedMatrix): Float32Array {
  const { scales, mins } = q;
  if (!mins) return scales;
  const pairs = new Float32Array(2 * scales.length);
  for (let i = 0; i < scales.length; i++) {
    pairs[2 * i] = scales[i];
    pairs[2 * i + 1] = mins[i];
  }
  return pairs;
}

/**
 * The CPU reference: W' [rows][cols] f32 with w' = (code - 2^(bits-1)) * scale (symmetric) or scale * code - min,
 * each product and difference rounded to f32 as the GPU kernels and ggml's dequantize_row_q4_K / _q5_K compute it.
 */
export function dequantizeMatrix(q: QuantizedMatrix): Float32Array {
  const { rows, cols, blocksPerRow: blocks, mins } = q;
  const { bits, blockSize: bs } = q.spec;
  const blob = blobBytes(q.spec);
  const zp = defaultZeroPoint(bits);
  const f32 = Math.fround;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < blocks; b++) {
      const at = r * blocks + b;
      const scale = q.scales[at];
      const base = at * blob;
      const count = Math.min(bs, cols - b * bs);
      const to = r * cols + b * bs;
      if (mins) for (let j = 0; j < count; j++) out[to + j] = f32(f32(scale * getCode(q.data, base, j, bits)) - mins[at]);
      else for (let j = 0; j < count; j++) out[to + j] = (getCode(q.data, base, j, bits) - zp) * scale;
    }
  }
  return out;
}

/**
 * Which weights are quantized (or stored as f16 under 'f16'): the linear layers' matrices (q/k/v/o, gate/up/down), the embedding table and an
 * untied LM head. Norms, biases and qwen3's q/k norms stay f32 (a few KiB, and every output depends on them).
 * The embedding table is quantized too, and shared by the gather and a tied LM head: kept f32 it would be the
 * largest tensor of every small model (SmolLM2-135M: 113 MB of its 540 MB; Qwen2.5-0.5B: 545 MB of 2 GB).
 */
export function isQuantizedWeight(name: string): boolean {
  return QUANTIZED_WEIGHT.test(name);
}

const QUANTIZED_WEIGHT = /^(model\.layers\.\d+\.(self_attn\.[qkvo]_proj|mlp\.(gate|up|down)_proj)\.weight|model\.embed_tokens\.weight|lm_head\.weight)$/;
