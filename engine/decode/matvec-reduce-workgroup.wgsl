// Reduction of matvec.wgsl's partial sums (//#include matvec-reduce) on any adapter: one workgroup-shared tree per
// row group, log2(TPR) barriers.

// Partial sums per thread: RPT (gated: 2 RPT) dot products and sum(x^2).
override RED: u32 = WG * (2u * RPT + 1u);

var<workgroup> red: array<f32, RED>;

// Sums the first `count` partials of each row group over its TPR lanes; lane 0 of the group then holds them.
fn reduceLanes(lid: u32, count: u32) {
  if (TPR == 1u) {
    return;
  }
  workgroupBarrier();
  let lane = lid % TPR;
  for (var stride = TPR / 2u; stride > 0u; stride >>= 1u) {
    if (lane < stride) {
      for (var j = 0u; j < count; j++) {
        red[j * WG + lid] += red[j * WG + lid + stride];
      }
    }
    workgroupBarrier();
  }
}

// Reduces this thread's partials (`count` dots, then sum(x^2) at MAX_RPT) over its lanes; lane 0's result.
fn reduced(lid: u32, acc: array<f32, 9>, count: u32) -> array<f32, 9> {
  var r = acc;
  if (TPR == 1u) {
    return r;
  }
  for (var j = 0u; j < count; j++) {
    red[j * WG + lid] = acc[j];
  }
  red[count * WG + lid] = acc[MAX_RPT];
  reduceLanes(lid, count + 1u);
  for (var j = 0u; j < count; j++) {
    r[j] = red[j * WG + lid];
  }
  r[MAX_RPT] = red[count * WG + lid];
  return r;
}
