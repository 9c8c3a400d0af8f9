// Symmetric block quantization at load on the GPU: rows of a weight as the checkpoint stores them (f32, f16 or bf16)
// -> engine/quant/block-quant.ts's layout (codes [rows][blocks][BLOCK * BITS / 8 bytes], one f32 scale per block),
// the same bytes as its quantizeMatrix. One thread per block.
//
// Bindings (group 0):
//   0 src      array<u32>               the piece's stored values: f32 words, or f16 / bf16 halves two to a word
//                                       (element 2i in the low half of word i), element r * cols + c at row r, column c
//   1 codes    array<u32>               the tensor's codes; the piece's blocks start at word first_block * WORDS
//   2 scales   array<f32>               the tensor's scales; the piece's start at first_block
//   3 params   uniform Params
//   4 refused  atomic<u32>              atomicMin'd with `tensor` when a block holds NaN or an infinity
//
// Exact on every adapter: the code is round(-2^(BITS-1) * w / m) (m the block's value of largest magnitude), ties
// toward +infinity as JS's Math.round, and the CPU computes it exactly (one division in double, which cannot cross a
// rounding boundary: block-quant.ts says why). f32 arithmetic on a GPU gives a division of 2.5 ULP (WGSL) and may
// flush subnormals, so an f32 kernel alone would round near-ties differently: here an f32 estimate decides only where
// it cannot be wrong, and the integer mantissas decide the rest (rounded()). The max and the NaN test work on bits.
// The scale m / -2^(BITS-1) is m's bits with the sign flipped and the exponent lowered: exact, since blocks below
// MIN_BLOCK_MAGNITUDE (2^-100) are zeros and the scale is then never subnormal.

override BITS: u32 = 4u;
override BLOCK: u32 = 32u;
// 0: f32, 1: f16, 2: bf16.
override SRC: u32 = 0u;

struct Params {
  blocks: u32,        // blocks in this piece (rows * blocks_per_row)
  cols: u32,
  blocks_per_row: u32,
  first_block: u32,   // the piece's first block in the tensor (row_start * blocks_per_row)
  tensor: u32,        // the index refused is set to
  grid_x: u32,        // threads along x of the dispatch (blocks past 65535 workgroups wrap into y)
}

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> codes: array<u32>;
@group(0) @binding(2) var<storage, read_write> scales: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
@group(0) @binding(4) var<storage, read_write> refused: atomic<u32>;

// Biased f32 exponent of 2^-100: a block whose largest magnitude is below it is stored as zeros (block-quant.ts).
const MIN_EXPONENT: u32 = 27u;

// The f32 bits of element i (f16 widened exactly, its subnormals normalized: no float conversion that might flush).
fn f32Bits(i: u32) -> u32 {
  if (SRC == 0u) {
    return src[i];
  }
  let h = (src[i >> 1u] >> ((i & 1u) * 16u)) & 0xffffu;
  if (SRC == 2u) {
    return h << 16u;
  }
  let sign = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 0x1fu) {
    return sign | 0x7f800000u | (m << 13u);
  }
  if (e != 0u) {
    return sign | ((e + 112u) << 23u) | (m << 13u);
  }
  if (m == 0u) {
    return sign;
  }
  // Subnormal m * 2^-24: shift the leading 1 to bit 10 (s places) and drop it into the implicit bit.
  let s = 10u - (31u - countLeadingZeros(m));
  return sign | ((113u - s) << 23u) | (((m << s) & 0x3ffu) << 13u);
}

// floor(2 zp |w| / |m|) and whether it is exact, on the integer mantissas (w, m as f32 bits, m normal, |w| <= |m|).
fn exactHalves(wa: u32, m: u32) -> vec2<u32> {
  let zp = 1u << (BITS - 1u);
  let we = wa >> 23u;
  let wm = select(wa & 0x7fffffu, (wa & 0x7fffffu) | 0x800000u, we != 0u);
  let me = (m >> 23u) & 0xffu;
  let mm = (m & 0x7fffffu) | 0x800000u;
  // 2 zp |w| / |m| = (2 zp wm / mm) / 2^d; 2 zp wm < 2^32 (zp <= 128, wm < 2^24).
  let d = me - max(we, 1u);
  let num = 2u * zp * wm;
  let q1 = num / mm;
  let r1 = num % mm;
  if (d >= 32u) {
    return vec2<u32>(0u, 0u);
  }
  return vec2<u32>(q1 >> d, select(0u, 1u, r1 == 0u && (q1 & ((1u << d) - 1u)) == 0u));
}

// How close (in units of a half step) the f32 estimate of 2 zp |w| / |m| must be to an integer for the exact integer
// path to decide: the estimate's error is a few ULP of a value <= 2 zp <= 256, under 1e-4.
const NEAR: f32 = 1e-3;

// The rounded -2^(BITS-1) * w / m for |w| <= |m| (w, m as f32 bits, m normal; `r` = 2 zp / |m| in f32). Only the
// integer part of 2 zp |w| / |m| matters, and whether it is exact when odd (a tie): an f32 estimate gives it unless
// it is within NEAR of an integer, and there (about 0.1% of weights) the integer mantissas decide exactly. Below 1
// the estimate is always right (the magnitude rounds to 0), so a subnormal w flushed to 0 changes nothing.
fn rounded(w: u32, m: u32, r: f32) -> i32 {
  let wa = w & 0x7fffffffu;
  let x = bitcast<f32>(wa) * r;
  let n = round(x);
  var k = u32(floor(x));
  var exact = false;
  if (n >= 1.0 && abs(x - n) < NEAR) {
    let e = exactHalves(wa, m);
    k = e.x;
    exact = e.y == 1u;
  }
  // k = floor(2a) for a = |q|; q > 0 when w and m have opposite signs (or w is 0).
  if (((w ^ m) & 0x80000000u) != 0u || wa == 0u) {
    return i32((k + 1u) >> 1u);
  }
  if (exact && (k & 1u) == 1u) {
    return -i32((k - 1u) >> 1u);
  }
  return -i32((k + 1u) >> 1u);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let b = gid.y * params.grid_x + gid.x;
  if (b >= params.blocks) {
    return;
  }
  let row = b / params.blocks_per_row;
  let col0 = (b % params.blocks_per_row) * BLOCK;
  let count = min(BLOCK, params.cols - col0);
  let base = row * params.cols + col0;
  // The first value of largest magnitude (strictly greater wins, as the CPU's loop): magnitudes of finite f32s order
  // as their bits without the sign.
  var m = 0u;
  var bad = false;
  for (var j = 0u; j < count; j++) {
    let x = f32Bits(base + j);
    let a = x & 0x7fffffffu;
    if (a >= 0x7f800000u) {
      bad = true;
    }
    if (a > (m & 0x7fffffffu)) {
      m = x;
    }
  }
  if (bad) {
    atomicMin(&refused, params.tensor);
  }
  let zp = 1u << (BITS - 1u);
  let at = params.first_block + b;
  let tiny = ((m >> 23u) & 0xffu) < MIN_EXPONENT;
  // m / -zp: the sign flipped and the exponent lowered by BITS - 1; a zero or tiny block's scale is -0 (0 / -zp).
  scales[at] = bitcast<f32>(select((m ^ 0x80000000u) - ((BITS - 1u) << 23u), 0x80000000u, tiny));
  let maxCode = i32((1u << BITS) - 1u);
  // 2 zp / |m|: normal (|m| >= 2^-100), at most 2^108.
  let r = f32(2u * zp) / bitcast<f32>(m & 0x7fffffffu);
  let perWord = 32u / BITS;
  let words = BLOCK / perWord;
  for (var wi = 0u; wi < words; wi++) {
    var word = 0u;
    for (var e = 0u; e < perWord; e++) {
      let j = wi * perWord + e;
      var code = i32(zp);
      // Elements past cols (a row's last, short block) and every element of a tiny block get the code of 0.
      if (j < count && !tiny) {
        code = clamp(i32(zp) + rounded(f32Bits(base + j), m, r), 0, maxCode);
      }
      word |= u32(code) << (e * BITS);
    }
    codes[at * words + wi] = word;
  }
}
