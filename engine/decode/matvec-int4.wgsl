// Weight format of matvec.wgsl (//#include weight-format): engine/quant's int4 blocks of 32 (or a multiple of 32).
// A unit is 32 codes, one vec4<u32> (element j in bits 4 (j % 8) of word j / 8, low bits first), read with one
// 16-byte load and unpacked with shifts in registers; UNITS_PER_BLOCK units share their block's scale.
// Symmetric: sum_j (c_j - 8) s x_j = s (sum_j c_j x_j - 8 sum_j x_j); with mins (HAS_MIN: Q4_K), the block's scale
// and min are an f32 pair in `scales` and sum_j (s c_j - min) x_j = s sum_j c_j x_j - min sum_j x_j. The caller
// passes sum_j x_j (sx), shared by its rows.
//
// Two ways to turn codes into f32 (the override UNPACK_EXPONENT, engine/decode/variants.ts picks per adapter):
// - convert: shift, mask and f32() of each code. On NVIDIA an int-to-float conversion issues at a quarter of the
//   FMA rate or less, and that, not the bytes, bound int4 on the H200 (0.17-0.20 of read bandwidth, 2026-12-03);
// - exponent: a nibble masked in place, OR'd into the mantissa of 2^23 and 2^23 subtracted, is exactly
//   c * 16^k (k: its place in the word's low or high half): no shift per code and no conversion, one mask-or
//   (one LOP3), one subtraction and the FMA. The input of place k carries 16^-k (unitInputScale, exact: a power
//   of two), so the dot product is the same sum.

const UNIT: u32 = 32u;
const UNIT_VEC4S: u32 = 8u;
override UNITS_PER_BLOCK: u32 = 1u;
override HAS_MIN: bool = false;
override UNPACK_EXPONENT: bool = false;

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

const NIBBLE_MASKS = vec4<u32>(0xfu, 0xf0u, 0xf00u, 0xf000u);
const TWO_23_BITS = 0x4b000000u;
const TWO_23 = 8388608.0;

// The 4 codes of the low 16 bits of `half`, code k as c_k * 16^k (exponent unpacking).
fn nibblesInPlace(half: u32) -> vec4<f32> {
  return bitcast<vec4<f32>>((vec4<u32>(half) & NIBBLE_MASKS) | vec4<u32>(TWO_23_BITS)) - vec4<f32>(TWO_23);
}

fn unitInputScale() -> vec4<f32> {
  if (UNPACK_EXPONENT) {
    return vec4<f32>(1.0, 0.0625, 0.00390625, 0.000244140625);
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

// sum_j c_j x_j over the slice's codes, word w against input vec4s 2w, 2w + 1 (exponent unpacking: xv carries
// unitInputScale).
fn int4Dot(c: vec4<u32>, xv: array<vec4<f32>, UNIT_VEC4S>) -> f32 {
  // Whole units spelled out: the code every adapter ran before lane slices (no loop for a compiler to unroll).
  if (LANE_WORDS == 4u) {
    if (UNPACK_EXPONENT) {
      return dot(nibblesInPlace(c.x), xv[0]) + dot(nibblesInPlace(c.x >> 16u), xv[1])
        + dot(nibblesInPlace(c.y), xv[2]) + dot(nibblesInPlace(c.y >> 16u), xv[3])
        + dot(nibblesInPlace(c.z), xv[4]) + dot(nibblesInPlace(c.z >> 16u), xv[5])
        + dot(nibblesInPlace(c.w), xv[6]) + dot(nibblesInPlace(c.w >> 16u), xv[7]);
    }
    return dot(nibbles(c.x, 0u), xv[0]) + dot(nibbles(c.x, 16u), xv[1])
      + dot(nibbles(c.y, 0u), xv[2]) + dot(nibbles(c.y, 16u), xv[3])
      + dot(nibbles(c.z, 0u), xv[4]) + dot(nibbles(c.z, 16u), xv[5])
      + dot(nibbles(c.w, 0u), xv[6]) + dot(nibbles(c.w, 16u), xv[7]);
  }
  var d = 0.0;
  for (var w = 0u; w < LANE_WORDS; w++) {
    if (UNPACK_EXPONENT) {
      d += dot(nibblesInPlace(c[w]), xv[2u * w]) + dot(nibblesInPlace(c[w] >> 16u), xv[2u * w + 1u]);
    } else {
      d += dot(nibbles(c[w], 0u), xv[2u * w]) + dot(nibbles(c[w], 16u), xv[2u * w + 1u]);
    }
  }
  return d;
}

fn dot0(row: u32, u: u32, p: u32, xv: array<vec4<f32>, UNIT_VEC4S>, sx: f32) -> f32 {
  let i = row * UNITS_PER_ROW + u;
  let b = i / UNITS_PER_BLOCK;
  let d = int4Dot(slice0(i, p), xv);
  if (HAS_MIN) {
    return scales0[2u * b] * d - scales0[2u * b + 1u] * sx;
  }
  return scales0[b] * (d - 8.0 * sx);
}

fn dot1(row: u32, u: u32, p: u32, xv: array<vec4<f32>, UNIT_VEC4S>, sx: f32) -> f32 {
  let i = row * UNITS_PER_ROW + u;
  let b = i / UNITS_PER_BLOCK;
  let d = int4Dot(slice1(i, p), xv);
  if (HAS_MIN) {
    return scales1[2u * b] * d - scales1[2u * b + 1u] * sx;
  }
  return scales1[b] * (d - 8.0 * sx);
}

fn dot2(row: u32, u: u32, p: u32, xv: array<vec4<f32>, UNIT_VEC4S>, sx: f32) -> f32 {
  let i = row * UNITS_PER_ROW + u;
  let b = i / UNITS_PER_BLOCK;
  let d = int4Dot(slice2(i, p), xv);
  if (HAS_MIN) {
    return scales2[2u * b] * d - scales2[2u * b + 1u] * sx;
  }
  return scales2[b] * (d - 8.0 * sx);
}
