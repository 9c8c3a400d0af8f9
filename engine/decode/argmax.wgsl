// Greedy token choice on the GPU: the index of the largest logit (ties to the lower index, as the CPU sampler's
// argmax), written where the next step's embedding gather reads its id, plus a flag when any logit is NaN or
// infinite (the host raises NonFiniteLogitsError instead of feeding a meaningless id).
//
// Binding layout (@group(0)):
//   0 logits  storage read        [VOCAB] f32
//   1 choice  storage read_write  [4] u32: [0] the chosen id (the decoder's id buffer), [1] 1 when a logit was not
//                                 finite, else 0
// Dispatch: 1 workgroup of WG threads (the variant's: a loop per thread, then a tree in workgroup memory).

override VOCAB: u32;
override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> choice: array<u32>;

var<workgroup> bestValue: array<f32, WG>;
var<workgroup> bestIndex: array<u32, WG>;
var<workgroup> nonFinite: array<u32, WG>;

// Exponent bits all set: infinity or NaN. Read from the bits, since WGSL lets compilers assume floats are finite.
fn isNonFinite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u;
}

@compute @workgroup_size(WG)
fn argmax(@builtin(local_invocation_index) lid: u32) {
  var value = -3.4028234e38;
  var index = 0xffffffffu;
  var bad = 0u;
  // Indices rise within a thread, so a strict > keeps the lowest index of equal values.
  for (var i = lid; i < VOCAB; i += WG) {
    let x = logits[i];
    if (isNonFinite(x)) {
      bad = 1u;
    } else if (index == 0xffffffffu || x > value) {
      value = x;
      index = i;
    }
  }
  bestValue[lid] = value;
  bestIndex[lid] = index;
  nonFinite[lid] = bad;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      let v = bestValue[lid + stride];
      let j = bestIndex[lid + stride];
      if (j != 0xffffffffu && (bestIndex[lid] == 0xffffffffu || v > bestValue[lid] || (v == bestValue[lid] && j < bestIndex[lid]))) {
        bestValue[lid] = v;
        bestIndex[lid] = j;
      }
      nonFinite[lid] = nonFinite[lid] | nonFinite[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    // Every logit non-finite: any id in range (the flag makes the host stop).
    choice[0] = select(bestIndex[0], 0u, bestIndex[0] == 0xffffffffu);
    choice[1] = nonFinite[0];
  }
}
