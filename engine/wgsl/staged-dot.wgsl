// WGSL library (//#include staged-dot): a staged query head against one cached key, in the one summation order that
// decode attention (decode-chunk) and its statistics (statistics.wgsl) share, so a statistic's logits are the
// attention's to the bit. Keys are read a pair of dims at a time (one word of a packed f16 page).
// Needs from the including kernel: `override D: u32`; workgroup array `qs` [group * D] f32 (decode-query's staging);
// `pages` (read through kv-read).
//#include kv-read

// qs[hh] . K at element `base` of `pages`.
fn stagedDot(hh: u32, base: u32) -> f32 {
  var dot = 0.0;
  for (var i = 0u; i < D; i += 2u) {
    let k = kvLoad2(base + i);
    dot += qs[hh * D + i] * k.x + qs[hh * D + i + 1u] * k.y;
  }
  return dot;
}
