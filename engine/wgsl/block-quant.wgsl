// WGSL library (//#include block-quant): reading engine/quant's block-quantized layout (blocks of BLOCK codes of
// BITS bits, one f32 scale per block, or with HAS_MIN an f32 (scale, min) pair per block).
// Needs from the including kernel: `override BITS: u32` (4 or 8), `override HAS_MIN: bool`, and
// `scales: array<f32>` ([blocks] scales, or [blocks][2] (scale, min) pairs with HAS_MIN).

// Block b's dequantization as w = code * a.x - a.y: with mins (scale, min); symmetric (scale, 0), the zero point
// subtracted by blockWeight.
fn blockAffine(b: u32) -> vec2<f32> {
  if (HAS_MIN) {
    return vec2<f32>(scales[2u * b], scales[2u * b + 1u]);
  }
  return vec2<f32>(scales[b], 0.0);
}

// The weight of `code` in a block with affine `a` (blockAffine): scale * code - min, or (code - 2^(BITS-1)) * scale
// (the zero point subtracted first, exactly as the CPU reference and MatMulNBits compute it).
fn blockWeight(code: u32, a: vec2<f32>) -> f32 {
  if (HAS_MIN) {
    return f32(code) * a.x - a.y;
  }
  return (f32(code) - f32(1u << (BITS - 1u))) * a.x;
}
