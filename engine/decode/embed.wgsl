// Embedding gather: the residual stream of token t starts as row ids[t] of embed_tokens (decode: one token; prefill:
// a chunk's, whose ids may be non-negative i32), f32 or f16 (`//#include weight-float`: weight-f32.wgsl or
// weight-f16.wgsl, as matvec-dense.wgsl).
//#include weight-float
//
// Binding layout (@group(0)):
//   0 id      storage read        [tokens] u32, written by the host (queue.writeBuffer) or chosen by a greedy step
//   1 table   storage read        [VOCAB][HIDDEN] f32 or f16 (model.embed_tokens.weight)
//   2 hidden  storage read_write  [tokens][HIDDEN] f32
// Dispatch: (ceil(HIDDEN / 256), tokens) workgroups.

override HIDDEN: u32;

@group(0) @binding(0) var<storage, read> id: array<u32>;
@group(0) @binding(1) var<storage, read> table: array<WeightFloat>;
@group(0) @binding(2) var<storage, read_write> hidden: array<f32>;

@compute @workgroup_size(256)
fn embed(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let t = gid.y;
  if (i < HIDDEN) {
    hidden[t * HIDDEN + i] = f32(table[id[t] * HIDDEN + i]);
  }
}
