// Weight format of matvec.wgsl (//#include weight-format): full-precision values, one vec4<WeightFloat> per unit
// (4 weights). matvec.wgsl's `//#include weight-float` picks the type (weight-f32.wgsl or weight-f16.wgsl), so the
// f16 kernel is the f32 kernel with its weight type swapped: products and sums stay f32.

const UNIT: u32 = 4u;
const UNIT_VEC4S: u32 = 1u;

@group(0) @binding(4) var<storage, read> w0: array<vec4<WeightFloat>>;
@group(0) @binding(5) var<storage, read> w1: array<vec4<WeightFloat>>;
@group(0) @binding(6) var<storage, read> w2: array<vec4<WeightFloat>>;

fn dot0(row: u32, u: u32, xv: array<vec4<f32>, UNIT_VEC4S>, sx: f32) -> f32 {
  return dot(vec4<f32>(w0[row * UNITS_PER_ROW + u]), xv[0]);
}

fn dot1(row: u32, u: u32, xv: array<vec4<f32>, UNIT_VEC4S>, sx: f32) -> f32 {
  return dot(vec4<f32>(w1[row * UNITS_PER_ROW + u]), xv[0]);
}

fn dot2(row: u32, u: u32, xv: array<vec4<f32>, UNIT_VEC4S>, sx: f32) -> f32 {
  return dot(vec4<f32>(w2[row * UNITS_PER_ROW + u]), xv[0]);
}
