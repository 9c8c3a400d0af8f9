// Weight format of matvec.wgsl (//#include weight-format): f16 values as packed pairs (engine/quant/f16.ts: element
// 2i in the low half of u32 word i). A unit is 8 weights, one vec4<u32> read with one 16-byte load (as the int
// formats), widened with unpack2x16float; products and sums are f32.
// Why u32 words and not array<f16>: unpack2x16float is core WGSL, while an f16 type needs shader-f16, which Chrome
// and Dawn hide on NVIDIA's Vulkan driver and SwiftShader lacks. This way f16 halves the bytes read on every adapter,
// and the same kernel runs in CI. The rows must be whole units: the loader stores f16 only where IN % 8 == 0.

const UNIT: u32 = 8u;
const UNIT_VEC4S: u32 = 2u;

// Values are read as they are: the input is not rescaled.
fn unitInputScale() -> vec4<f32> {
  return vec4<f32>(1.0);
}

@group(0) @binding(4) var<storage, read> w0: array<vec4<u32>>;
@group(0) @binding(5) var<storage, read> w1: array<vec4<u32>>;
@group(0) @binding(6) var<storage, read> w2: array<vec4<u32>>;

fn f16Dot(h: vec4<u32>, xv: array<vec4<f32>, UNIT_VEC4S>) -> f32 {
  let lo = vec4<f32>(unpack2x16float(h.x), unpack2x16float(h.y));
  let hi = vec4<f32>(unpack2x16float(h.z), unpack2x16float(h.w));
  return dot(lo, xv[0]) + dot(hi, xv[1]);
}

fn dot0(row: u32, u: u32, xv: array<vec4<f32>, UNIT_VEC4S>, sx: f32) -> f32 {
  return f16Dot(w0[row * UNITS_PER_ROW + u], xv);
}

fn dot1(row: u32, u: u32, xv: array<vec4<f32>, UNIT_VEC4S>, sx: f32) -> f32 {
  return f16Dot(w1[row * UNITS_PER_ROW + u], xv);
}

fn dot2(row: u32, u: u32, xv: array<vec4<f32>, UNIT_VEC4S>, sx: f32) -> f32 {
  return f16Dot(w2[row * UNITS_PER_ROW + u], xv);
}
