// WGSL library (//#include split-reduce): the partials of split (flash-decoding) attention and their merge.
// A split s of query head h leaves acc = sum_j exp(l_j - m) v_j unnormalized at accIndex(h, s), with its max m and
// sum l = sum_j exp(l_j - m) at mlIndex(h, s); the merge rescales every split to the global max (the online-softmax
// merge), so the result does not depend on the split beyond rounding.
// Needs from the including kernel: overrides D, NUM_HEADS, MAX_SPLITS; const WG, NEG_BIG;
// `partials: array<f32>` [NUM_HEADS][MAX_SPLITS][D] then [NUM_HEADS][MAX_SPLITS][2] and `out: array<f32>`
// [NUM_HEADS * D] (read_write).

fn accIndex(h: u32, s: u32) -> u32 {
  return (h * MAX_SPLITS + s) * D;
}

fn mlIndex(h: u32, s: u32) -> u32 {
  return NUM_HEADS * MAX_SPLITS * D + (h * MAX_SPLITS + s) * 2u;
}

// out[h] = the merge of splits 0 .. numSplits - 1 of head h; the workgroup's threads share the D outputs.
fn mergeSplits(h: u32, numSplits: u32, lid: u32) {
  var m = NEG_BIG;
  for (var s = 0u; s < numSplits; s++) {
    m = max(m, partials[mlIndex(h, s)]);
  }
  var l = 0.0;
  for (var s = 0u; s < numSplits; s++) {
    let ml = mlIndex(h, s);
    l += partials[ml + 1u] * exp(partials[ml] - m);
  }
  for (var i = lid; i < D; i += WG) {
    var o = 0.0;
    for (var s = 0u; s < numSplits; s++) {
      o += partials[accIndex(h, s) + i] * exp(partials[mlIndex(h, s)] - m);
    }
    out[h * D + i] = o / l;
  }
}
