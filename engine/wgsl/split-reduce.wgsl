// WGSL library (//#include split-reduce): the partials of split (flash-decoding) attention and their merge.
// A split s of query head h leaves acc = sum_j exp(l_j - m) v_j unnormalized at accIndex(h, s), with its max m and
// sum l = sum_j exp(l_j - m) at mlIndex(h, s); the merge rescales every split to the global max (the online-softmax
// merge), so the result does not depend on the split beyond rounding.
// Needs from the including kernel: overrides D, NUM_HEADS, MAX_SPLITS; const WG (a power of two), NEG_BIG;
// `partials: array<f32>` [NUM_HEADS][MAX_SPLITS][D] then [NUM_HEADS][MAX_SPLITS][2] and `out: array<f32>`
// [NUM_HEADS * D] (read_write).

// The merge's per-thread partial maxima and sums, reduced as a tree.
var<workgroup> mergeShared: array<f32, WG>;

fn accIndex(h: u32, s: u32) -> u32 {
  return (h * MAX_SPLITS + s) * D;
}

fn mlIndex(h: u32, s: u32) -> u32 {
  return NUM_HEADS * MAX_SPLITS * D + (h * MAX_SPLITS + s) * 2u;
}

// mergeShared[0] = the max (isMax) or sum of mergeShared[0 .. WG). Uniform control flow; a barrier before return.
fn mergeTree(lid: u32, isMax: bool) {
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      let a = mergeShared[lid];
      let b = mergeShared[lid + stride];
      mergeShared[lid] = select(a + b, max(a, b), isMax);
    }
    workgroupBarrier();
  }
}

// out[h] = the merge of splits 0 .. numSplits - 1 of head h. The threads share the splits for the global max and
// sum (a serial walk over thousands of splits by one thread was most of a 128K step: the H200 run of 2026-12-04),
// then the D outputs (lanes of splits per output: a 64-thread walk over 256 splits was
// latency-bound). Call in uniform control flow.
fn mergeSplits(h: u32, numSplits: u32, lid: u32) {
  var m = NEG_BIG;
  for (var s = lid; s < numSplits; s += WG) {
    m = max(m, partials[mlIndex(h, s)]);
  }
  mergeShared[lid] = m;
  mergeTree(lid, true);
  let gm = mergeShared[0];
  workgroupBarrier();
  var l = 0.0;
  for (var s = lid; s < numSplits; s += WG) {
    let ml = mlIndex(h, s);
    l += partials[ml + 1u] * exp(partials[ml] - gm);
  }
  mergeShared[lid] = l;
  mergeTree(lid, false);
  let gl = mergeShared[0];
  workgroupBarrier();
  // The D outputs in blocks of `width`, each output on WG / width lanes of splits, the lanes joined in order.
  let width = min(D, WG);
  let lanes = WG / width;
  let lane = lid / width;
  for (var i0 = 0u; i0 < D; i0 += width) {
    let i = i0 + lid % width;
    var o = 0.0;
    if (lane < lanes && i < D) {
      for (var s = lane; s < numSplits; s += lanes) {
        o += partials[accIndex(h, s) + i] * exp(partials[mlIndex(h, s)] - gm);
      }
    }
    mergeShared[lid] = o;
    workgroupBarrier();
    if (lid < width && i0 + lid < D) {
      var sum = 0.0;
      for (var k = 0u; k < lanes; k++) {
        sum += mergeShared[k * width + lid];
      }
      out[h * D + i0 + lid] = sum / gl;
    }
    workgroupBarrier();
  }
}
