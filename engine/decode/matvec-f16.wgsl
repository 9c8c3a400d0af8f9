// Weight format of matvec.wgsl (//#include weight-format): f16 values as packed pairs (engine/quant/f16.ts: element
// 2i in the low half of u32 word i). A unit is 8 weights, one vec4<u32> read with one 16-byte load (as the int
// formats), widened with unpack2x16float; products and sums are f32.
// Why u32 words and not array<f16>: unpack2x16float is core WGSL, while an f16 type needs shader-f16, which Chrome
// and Dawn hide on NVIDIA's Vulkan driver and SwiftShader lacks. This way f16 halves the bytes read on every adapter,
// and the same kernel runs in CI. The rows must be whole units: the loader stores f16 only where IN % 8 == 0.
// LANE_WORDS 2: a lane reads half a unit (4 halves, 8 bytes) against one input vec4.

const UNIT: u32 = 8u;
const UNIT_VEC4S: u32 = 2u;

// Values are read as they are: the input is not rescaled.
fn unitInputScale() -> vec4<f32> {
  return vec4<f32>(1.0);
}

@group(0) @binding(4) var<storage, read> w0: array<vec4<u32>>;
@group(0) @binding(5) var<storage, read> w1: array<vec4<u32>>;
@group(0) @binding(6) var<storage, read> w2: array<vec4<u32>>;

// The slice's LANE_WORDS words (2 or 4) of the unit at `i` of slot 0, 1 or 2: the whole vec4 in one 16-byte load, or
// words 2p, 2p + 1.
fn slice0(i: u32, p: u32) -> vec4<u32> {
  if (LANE_WORDS == 4u) {
    return w0[i];
  }
  return vec4<u32>(w0[i][2u * p], w0[i][2u * p + 1u], 0u, 0u);
}

fn slice1(i: u32, p: u32) -> vec4<u32> {
  if (LANE_WORDS == 4u) {
    return w1[i];
  }
  return vec4<u32>(w1[i][2u * p], w1[i][2u * p + 1u], 0u, 0u);
}

fn slice2(i: u32, p: u32) -> vec4<u32> {
  if (LANE_WORDS == 4u) {
    return w2[i];
  }
  return vec4<u32>(w2[i][2u * p], w2[i][2u * p + 1u], 0u, 0u);
}

// sum over the slice's halves (word pair j against input vec4 j).
fn f16Dot(h: vec4<u32>, xv: array<vec4<f32>, UNIT_VEC4S>) -> f32 {
  var d = dot(vec4<f32>(unpack2x16float(h.x), unpack2x16float(h.y)), xv[0]);
  if (LANE_WORDS == 4u) {
    d += dot(vec4<f32>(unpack2x16float(h.z), unpack2x16float(h.w)), xv[1]);
  }
  return d;
}

fn dot0(row: u32, u: u32, p: u32, xv: array<vec4<f32>, UNIT_VEC4S>, sx: f32) -> f32 {
  return f16Dot(slice0(row * UNITS_PER_ROW + u, p), xv);
}

fn dot1(row: u32, u: u32, p: u32, xv: array<vec4<f32>, UNIT_VEC4S>, sx: f32) -> f32 {
  return f16Dot(slice1(row * UNITS_PER_ROW + u, p), xv);
}

fn dot2(row: u32, u: u32, p: u32, xv: array<vec4<f32>, UNIT_VEC4S>, sx: f32) -> f32 {
  return f16Dot(slice2(row * UNITS_PER_ROW + u, p), xv);
}
