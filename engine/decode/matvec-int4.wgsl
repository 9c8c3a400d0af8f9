// Weight format of matvec.wgsl (//#include weight-format): engine/quant's int4 blocks of 32 (or a multiple of 32).
// A unit is 32 codes, one vec4<u32> (element j in bits 4 (j % 8) of word j / 8, low bits first), read with one
// 16-byte load and unpacked with shifts in registers; UNITS_PER_BLOCK units share their block's scale.
// Symmetric: sum_j (c_j - 8) s x_j = s (sum_j c_j x_j - 8 sum_j x_j); with mins (HAS_MIN: Q4_K), the block's scale
// and min are an f32 pair in `scales` and sum_j (s c_j - min) x_j = s sum_j c_j x_j - min sum_j x_j. The caller
// passes sum_j x_j (sx), shared by its rows.

const UNIT: u32 = 32u;
const UNIT_VEC4S: u32 = 8u;
override UNITS_PER_BLOCK: u32 = 1u;
override HAS_MIN: bool = false;

@group(0) @binding(4) var<storage, read> codes0: array<vec4<u32>>;
@group(0) @binding(5) var<storage, read> scales0: array<f32>;
@group(0) @binding(6) var<storage, read> codes1: array<vec4<u32>>;
@group(0) @binding(7) var<storage, read> scales1: array<f32>;
@group(0) @binding(8) var<storage, read> codes2: array<vec4<u32>>;
@group(0) @binding(9) var<storage, read> scales2: array<f32>;

const NIBBLE_SHIFTS = vec4<u32>(0u, 4u, 8u, 12u);

fn nibbles(word: u32, shift: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(word >> shift) >> NIBBLE_SHIFTS) & vec4<u32>(15u));
}

// sum_j c_j x_j over the unit's 32 codes.
fn int4Dot(c: vec4<u32>, xv: array<vec4<f32>, UNIT_VEC4S>) -> f32 {
  return dot(nibbles(c.x, 0u), xv[0]) + dot(nibbles(c.x, 16u), xv[1])
    + dot(nibbles(c.y, 0u), xv[2]) + dot(nibbles(c.y, 16u), xv[3])
    + dot(nibbles(c.z, 0u), xv[4]) + dot(nibbles(c.z, 16u), xv[5])
    + dot(nibbles(c.w, 0u), xv[6]) + dot(nibbles(c.w, 16u), xv[7]);
}

fn dot0(row: u32, u: u32, xv: array<vec4<f32>, UNIT_VEC4S>, sx: f32) -> f32 {
  let i = row * UNITS_PER_ROW + u;
  let b = i / UNITS_PER_BLOCK;
  let d = int4Dot(codes0[i], xv);
  if (HAS_MIN) {
    return scales0[2u * b] * d - scales0[2u * b + 1u] * sx;
  }
  return scales0[b] * (d - 8.0 * sx);
}

fn dot1(row: u32, u: u32, xv: array<vec4<f32>, UNIT_VEC4S>, sx: f32) -> f32 {
  let i = row * UNITS_PER_ROW + u;
  let b = i / UNITS_PER_BLOCK;
  let d = int4Dot(codes1[i], xv);
  if (HAS_MIN) {
    return scales1[2u * b] * d - scales1[2u * b + 1u] * sx;
  }
  return scales1[b] * (d - 8.0 * sx);
}

fn dot2(row: u32, u: u32, xv: array<vec4<f32>, UNIT_VEC4S>, sx: f32) -> f32 {
  let i = row * UNITS_PER_ROW + u;
  let b = i / UNITS_PER_BLOCK;
  let d = int4Dot(codes2[i], xv);
  if (HAS_MIN) {
    return scales2[2u * b] * d - scales2[2u * b + 1u] * sx;
  }
  return scales2[b] * (d - 8.0 * sx);
}
