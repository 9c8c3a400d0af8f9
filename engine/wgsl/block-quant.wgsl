// WGSL library (//#include block-quant): reading engine/quant's block-quantized layout (MatMulNBits': blocks of
// BLOCK codes of BITS bits, one f32 scale per block, optional packed u8 zero points).
// Needs from the including kernel: `override BLOCKS: u32` (blocks per row), `override BITS: u32` (4 or 8),
// `override HAS_ZP: bool`, and `zeros: array<u32>` (packed zero points [rows][ceil(BLOCKS * BITS / 8)] bytes).

// The zero point of block b of `row`: stored (HAS_ZP) or the symmetric 2^(BITS-1).
fn zeroPoint(row: u32, b: u32) -> f32 {
  if (!HAS_ZP) {
    return f32(1u << (BITS - 1u));
  }
  let rowBytes = (BLOCKS * BITS + 7u) / 8u;
  let byteIndex = row * rowBytes + (b * BITS) / 8u;
  let byte = (zeros[byteIndex / 4u] >> (8u * (byteIndex % 4u))) & 0xffu;
  if (BITS == 4u) {
    return f32((byte >> (4u * (b % 2u))) & 0xfu);
  }
  return f32(byte);
}
