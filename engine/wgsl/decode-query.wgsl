// WGSL library (//#include decode-query): stages the rotated, scaled queries of one KV head's GQA group in workgroup
// memory, for every decode-attention kernel (dense, over a list, statistics).
// Needs from the including kernel: overrides D, NUM_HEADS, NUM_KV_HEADS, SCALE, INTERLEAVED; const WG; workgroup
// array `qs` [group * D] f32; `fn queryAt(h: u32, i: u32) -> f32` (element i of query head h before RoPE) and
// `fn ropeCos(i: u32) -> f32` / `fn ropeSin(i: u32) -> f32` (this step's angle i, i < D / 2).
//#include rope

// Most query heads per KV head of the decode kernels (DECODE_MAX_GROUP in engine/attention/constants.ts): sizes
// decode-chunk-lanes' register accumulators and the per-head workgroup arrays.
const MAX_GROUP: u32 = 16u;

// qs[hh * D + i] = SCALE * RoPE(q of head g * group + hh)[i]. Call in uniform control flow, then a barrier.
fn stageQuery(g: u32, lid: u32) {
  let group = NUM_HEADS / NUM_KV_HEADS;
  let half = D / 2u;
  for (var idx = lid; idx < group * half; idx += WG) {
    let hh = idx / half;
    let i = idx % half;
    let p = ropePair(i);
    let c = ropeCos(i);
    let sn = ropeSin(i);
    let h = g * group + hh;
    let x0 = queryAt(h, p.x);
    let x1 = queryAt(h, p.y);
    qs[hh * D + p.x] = (x0 * c - x1 * sn) * SCALE;
    qs[hh * D + p.y] = (x1 * c + x0 * sn) * SCALE;
  }
}
