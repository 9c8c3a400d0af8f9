// WGSL library (//#include staged-dot): a staged query head against one cached key, in the one summation order that
// decode attention (decode-chunk) and its statistics (statistics.wgsl) share, so a statistic's logits are the
// attention's to the bit. The dim pairs are dealt to DOT_LANES lanes (pair p to lane p % DOT_LANES, each lane summing
// its pairs in order; lanes joined by combineDotLanes): decode-chunk runs the lanes on DOT_LANES adjacent threads, so
// a warp reads whole keys coalesced, a pair (one word of a packed f16 page) per thread.
// Needs from the including kernel: `override D: u32`; workgroup array `qs` [group * D] f32 (decode-query's staging);
// `pages` (read through kv-read).
//#include kv-read

const DOT_LANES: u32 = 4u;

// Lane `lane`'s part of qs[hh] . K at element `base` of `pages`: dim pairs lane, lane + DOT_LANES, ...
fn stagedDotLane(hh: u32, base: u32, lane: u32) -> f32 {
  var dot = 0.0;
  for (var p = lane; p < D / 2u; p += DOT_LANES) {
    let i = 2u * p;
    let k = kvLoad2(base + i);
    dot += qs[hh * D + i] * k.x + qs[hh * D + i + 1u] * k.y;
  }
  return dot;
}

fn combineDotLanes(parts: vec4<f32>) -> f32 {
  return (parts.x + parts.y) + (parts.z + parts.w);
}

// qs[hh] . K at element `base` of `pages`, on one thread.
fn stagedDot(hh: u32, base: u32) -> f32 {
  return combineDotLanes(vec4<f32>(stagedDotLane(hh, base, 0u), stagedDotLane(hh, base, 1u), stagedDotLane(hh, base, 2u), stagedDotLane(hh, base, 3u)));
}
