// WGSL library (//#include query-channel): one channel of a query head after RoPE, for the estimators that score
// cached tokens or pages on the rotated query (Quest's page bounds, Double Sparsity's and FASA's label channels).
// Needs from the including kernel: overrides D, INTERLEAVED; `fn queryAt(h: u32, i: u32) -> f32` (element i of query
// head h before RoPE), `fn ropeCos(i: u32) -> f32` / `fn ropeSin(i: u32) -> f32` (this step's angle i, i < D / 2).
//#include rope

// Channel c of query head h, rotated: x[c] cos -/+ x[partner] sin (rope.wgsl's element rule).
fn rotatedQueryChannel(h: u32, c: u32) -> f32 {
  let f = ropeFrequency(c);
  return queryAt(h, c) * ropeCos(f) + ropeSign(c) * queryAt(h, ropePartner(c)) * ropeSin(f);
}
