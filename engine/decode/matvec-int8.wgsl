// Weight format of matvec.wgsl (//#include weight-format): engine/quant's symmetric int8 blocks (MatMulNBits'
// layout, block 32, zero point 128). A unit is half a block: 16 codes in one vec4<u32> (element j in byte j % 4 of
// word j / 4), read with one 16-byte load; two units share their block's scale.
// sum_j (c_j - 128) x_j = sum_j c_j x_j - 128 sum_j x_j, with sum_j x_j (sx) from the caller.

const UNIT: u32 = 16u;
const UNIT_VEC4S: u32 = 4u;

@group(0) @binding(4) var<storage, read> codes0: array<vec4<u32>>;
@group(0) @binding(5) var<storage, read> scales0: array<f32>;
@group(0) @binding(6) var<storage, read> codes1: array<vec4<u32>>;
@group(0) @binding(7) var<storage, read> scales1: array<f32>;
@group(0) @binding(8) var<storage, read> codes2: array<vec4<u32>>;
@group(0) @binding(9) var<storage, read> scales2: array<f32>;

const BYTE_SHIFTS = vec4<u32>(0u, 8u, 16u, 24u);

fn bytes4(word: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(word) >> BYTE_SHIFTS) & vec4<u32>(255u));
}

fn int8Dot(c: vec4<u32>, scale: f32, xv: array<vec4<f32>, UNIT_VEC4S>, sx: f32) -> f32 {
  let d = dot(bytes4(c.x), xv[0]) + dot(bytes4(c.y), xv[1]) + dot(bytes4(c.z), xv[2]) + dot(bytes4(c.w), xv[3]);
  return scale * (d - 128.0 * sx);
}

fn dot0(row: u32, u: u32, xv: array<vec4<f32>, UNIT_VEC4S>, sx: f32) -> f32 {
  let i = row * UNITS_PER_ROW + u;
  return int8Dot(codes0[i], scales0[i / 2u], xv, sx);
}

fn dot1(row: u32, u: u32, xv: array<vec4<f32>, UNIT_VEC4S>, sx: f32) -> f32 {
  let i = row * UNITS_PER_ROW + u;
  return int8Dot(codes1[i], scales1[i / 2u], xv, sx);
}

fn dot2(row: u32, u: u32, xv: array<vec4<f32>, UNIT_VEC4S>, sx: f32) -> f32 {
  let i = row * UNITS_PER_ROW + u;
  return int8Dot(codes2[i], scales2[i / 2u], xv, sx);
}
