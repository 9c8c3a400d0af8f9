// Embedding gather of one decode token: the residual stream starts as row `id` of embed_tokens.
//
// Binding layout (@group(0)):
//   0 id      storage read        [1] u32, written by the host once per step (queue.writeBuffer)
//   1 table   storage read        [VOCAB][HIDDEN] f32 (model.embed_tokens.weight)
//   2 hidden  storage read_write  [HIDDEN] f32
// Dispatch: ceil(HIDDEN / 256) workgroups.

override HIDDEN: u32;

@group(0) @binding(0) var<storage, read> id: array<u32>;
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read_write> hidden: array<f32>;

@compute @workgroup_size(256)
fn embed(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i < HIDDEN) {
    hidden[i] = table[id[0] * HIDDEN + i];
  }
}
