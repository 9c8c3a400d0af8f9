// Reduction of matvec.wgsl's partial sums (//#include matvec-reduce) through subgroup shuffles: no workgroup memory
// and no barrier. A row group's TPR lanes are consecutive invocations, so with TPR no larger than the device's
// smallest subgroup (engine/decode/kernels.ts checks it) they sit in one subgroup and a butterfly of log2(TPR)
// xor-shuffles leaves every lane, lane 0 included, with the group's sums. Needs `enable subgroups`
// (matvec-reduce-enable-subgroup.wgsl) and the device feature 'subgroups'.

// Reduces this thread's partials (`count` dots, then sum(x^2) at MAX_RPT) over its lanes.
fn reduced(lid: u32, acc: array<f32, 9>, count: u32) -> array<f32, 9> {
  var r = acc;
  for (var s = 1u; s < TPR; s <<= 1u) {
    for (var j = 0u; j < count; j++) {
      r[j] += subgroupShuffleXor(r[j], s);
    }
    r[MAX_RPT] += subgroupShuffleXor(r[MAX_RPT], s);
  }
  return r;
}
