// f32 -> IEEE half conversion for weights stored as f16 (quantization 'f16'), rounding to nearest even, and the
// GPU's layout of them: two halves per u32 word, element 2i in the low 16 bits (what WGSL's core unpack2x16float
// reads as .x and pack2x16float writes). Why words and not an array<f16>: unpack2x16float is core WGSL, while f16
// types need the shader-f16 feature, which Chrome and Dawn hide on NVIDIA's Vulkan driver. Stored this way, f16 halves
// the bytes every adapter reads, SwiftShader in CI included. On little-endian hosts (every WebGPU one) the bytes are
// those of a Uint16Array of the halves.
import { f16Table } from './ggml-blocks.ts';

const f32Buffer = new Float32Array(1);
const u32Buffer = new Uint32Array(f32Buffer.buffer);

/** The f16 bits of one value: round to nearest, ties to even; overflow to infinity, NaN kept. */
export function f16Bits(value: number): number {
  f32Buffer[0] = value;
  return halfOfF32Bits(u32Buffer[0]);
}

/** f16Bits of the f32 whose bits are `x` (the loop form: no store through a scratch float). */
function halfOfF32Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    // Subnormal: the implicit 1 joins the mantissa, shifted right by 1 - e more places.
    const m = mant | 0x800000;
    const shift = 14 - e;
    const half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && (half & 1)) ? 1 : 0));
  }
  const half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa rounds into the exponent, as it should (up to infinity).
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && (half & 1)) ? 1 : 0));
}

/** `values` as f16 bits. */
export function toF16(values: Float32Array): Uint16Array<ArrayBuffer> {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f16Bits(values[i]);
  return out;
}

/**
 * `values` as packed f16 pairs: word i holds element 2i (low half) and 2i + 1 (high half); an odd count pads the last
 * high half with 0. `count` (default all) converts a prefix.
 */
export function packF16Pairs(values: Float32Array, count = values.length): Uint32Array<ArrayBuffer> {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint32Array(Math.ceil(count / 2));
  const even = count & ~1;
  for (let i = 0; i < even; i += 2) out[i >> 1] = (halfOfF32Bits(bits[i]) | (halfOfF32Bits(bits[i + 1]) << 16)) >>> 0;
  if (count & 1) out[count >> 1] = halfOfF32Bits(bits[count - 1]);
  return out;
}

/** What f16 storage keeps of `values`: each rounded to the nearest f16 (ties to even) and back to f32, the CPU reference of f16 weights. */
export function roundToF16(values: Float32Array): Float32Array<ArrayBuffer> {
  const t = f16Table();
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = t[f16Bits(values[i])];
  return out;
}
