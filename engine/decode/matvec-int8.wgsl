// Weight format of matvec.wgsl (//#include weight-format): engine/quant's int8 blocks of 16, 32 or a larger power of
// two. A unit is 16 codes in one vec4<u32> (element j in byte j % 4 of word j / 4), read with one 16-byte load;
// UNITS_PER_BLOCK units share their block's scale (1 for Q6_K's sub-blocks of 16, 2 for blocks of 32).
// Symmetric: sum_j (c_j - 128) s x_j = s (sum_j c_j x_j - 128 sum_j x_j); with mins (HAS_MIN: Q5_K), the block's
// scale and min are an f32 pair in `scales` and the unit gives s sum_j c_j x_j - min sum_j x_j. sum_j x_j (sx) comes
// from the caller.
// UNPACK_EXPONENT: as matvec-int4.wgsl's, bytes 0 and 1 of each half word masked in place into 2^23's mantissa
// (c * 256^k, the input of place k scaled by 256^-k), no conversion.

const UNIT: u32 = 16u;
const UNIT_VEC4S: u32 = 4u;
override UNITS_PER_BLOCK: u32 = 2u;
override HAS_MIN: bool = false;
override UNPACK_EXPONENT: bool = false;

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

const BYTE_MASKS = vec4<u32>(0xffu, 0xff00u, 0xffu, 0xff00u);
const TWO_23_BITS = 0x4b000000u;
const TWO_23 = 8388608.0;

// The 4 codes of `word`, code j as c_j * 256^(j % 2) (exponent unpacking).
fn bytesInPlace(word: u32) -> vec4<f32> {
  let halves = vec4<u32>(word, word, word >> 16u, word >> 16u);
  return bitcast<vec4<f32>>((halves & BYTE_MASKS) | vec4<u32>(TWO_23_BITS)) - vec4<f32>(TWO_23);
}

fn unitInputScale() -> vec4<f32> {
  if (UNPACK_EXPONENT) {
    return vec4<f32>(1.0, 0.00390625, 1.0, 0.00390625);
  }
  return vec4<f32>(1.0);
}

// The slice's LANE_WORDS words of the unit at `i` of slot 0, 1 or 2 (words p LANE_WORDS ..), in c[0 .. LANE_WORDS):
// the whole vec4 in one 16-byte load, or narrower loads.
fn slice0(i: u32, p: u32) -> vec4<u32> {
  if (LANE_WORDS == 4u) {
    return codes0[i];
  }
  var c = vec4<u32>(0u);
  for (var w = 0u; w < LANE_WORDS; w++) {
    c[w] = codes0[i][p * LANE_WORDS + w];
  }
  return c;
}

fn slice1(i: u32, p: u32) -> vec4<u32> {
  if (LANE_WORDS == 4u) {
    return codes1[i];
  }
  var c = vec4<u32>(0u);
  for (var w = 0u; w < LANE_WORDS; w++) {
    c[w] = codes1[i][p * LANE_WORDS + w];
  }
  return c;
}

fn slice2(i: u32, p: u32) -> vec4<u32> {
  if (LANE_WORDS == 4u) {
    return codes2[i];
  }
  var c = vec4<u32>(0u);
  for (var w = 0u; w < LANE_WORDS; w++) {
    c[w] = codes2[i][p * LANE_WORDS + w];
  }
  return c;
}

// sum_j c_j x_j over the slice's codes, word w against input vec4 w (exponent unpacking: xv carries unitInputScale).
fn int8Dot(c: vec4<u32>, xv: array<vec4<f32>, UNIT_VEC4S>) -> f32 {
  // Whole units spelled out: the code every adapter ran before lane slices (no loop for a compiler to unroll).
  if (LANE_WORDS == 4u) {
    if (UNPACK_EXPONENT) {
      return dot(bytesInPlace(c.x), xv[0]) + dot(bytesInPlace(c.y), xv[1]) + dot(bytesInPlace(c.z), xv[2]) + dot(bytesInPlace(c.w), xv[3]);
    }
    return dot(bytes4(c.x), xv[0]) + dot(bytes4(c.y), xv[1]) + dot(bytes4(c.z), xv[2]) + dot(bytes4(c.w), xv[3]);
  }
  var d = 0.0;
  for (var w = 0u; w < LANE_WORDS; w++) {
    if (UNPACK_EXPONENT) {
      d += dot(bytesInPlace(c[w]), xv[w]);
    } else {
      d += dot(bytes4(c[w]), xv[w]);
    }
  }
  return d;
}

fn dot0(row: u32, u: u32, p: u32, xv: array<vec4<f32>, UNIT_VEC4S>, sx: f32) -> f32 {
  let i = row * UNITS_PER_ROW + u;
  let b = i / UNITS_PER_BLOCK;
  let d = int8Dot(slice0(i, p), xv);
  if (HAS_MIN) {
    return scales0[2u * b] * d - scales0[2u * b + 1u] * sx;
  }
  return scales0[b] * (d - 128.0 * sx);
}

fn dot1(row: u32, u: u32, p: u32, xv: array<vec4<f32>, UNIT_VEC4S>, sx: f32) -> f32 {
  let i = row * UNITS_PER_ROW + u;
  let b = i / UNITS_PER_BLOCK;
  let d = int8Dot(slice1(i, p), xv);
  if (HAS_MIN) {
    return scales1[2u * b] * d - scales1[2u * b + 1u] * sx;
  }
  return scales1[b] * (d - 128.0 * sx);
}

fn dot2(row: u32, u: u32, p: u32, xv: array<vec4<f32>, UNIT_VEC4S>, sx: f32) -> f32 {
  let i = row * UNITS_PER_ROW + u;
  let b = i / UNITS_PER_BLOCK;
  let d = int8Dot(slice2(i, p), xv);
  if (HAS_MIN) {
    return scales2[2u * b] * d - scales2[2u * b + 1u] * sx;
  }
  return scales2[b] * (d - 128.0 * sx);
}
