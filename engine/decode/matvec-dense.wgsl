// Weight format of matvec.wgsl (//#include weight-format): f32 values, one vec4<f32> per unit (4 weights), read
// whole (LANE_WORDS 4: a slice is the unit, p is 0).

const UNIT: u32 = 4u;
const UNIT_VEC4S: u32 = 1u;

// Values are read as they are: the input is not rescaled.
fn unitInputScale() -> vec4<f32> {
  return vec4<f32>(1.0);
}

@group(0) @binding(4) var<storage, read> w0: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> w1: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> w2: array<vec4<f32>>;

fn dot0(row: u32, u: u32, p: u32, xv: array<vec4<f32>, UNIT_VEC4S>, sx: f32) -> f32 {
  return dot(w0[row * UNITS_PER_ROW + u], xv[0]);
}

fn dot1(row: u32, u: u32, p: u32, xv: array<vec4<f32>, UNIT_VEC4S>, sx: f32) -> f32 {
  return dot(w1[row * UNITS_PER_ROW + u], xv[0]);
}

fn dot2(row: u32, u: u32, p: u32, xv: array<vec4<f32>, UNIT_VEC4S>, sx: f32) -> f32 {
  return dot(w2[row * UNITS_PER_ROW + u], xv[0]);
}
