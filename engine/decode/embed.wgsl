// Embedding gather: the residual stream of token t starts as row ids[t] of embed_tokens (decode: one token; prefill:
// a chunk's, whose ids may be non-negative i32), stored as f32 or as f16 pairs (HALF: engine/quant/f16.ts, element
// 2i in the low half of word i, widened with core WGSL's unpack2x16float: no shader-f16 needed).
//
// Binding layout (@group(0)):
//   0 id      storage read        [tokens] u32, written by the host (queue.writeBuffer) or chosen by a greedy step
//   1 table   storage read        [VOCAB][HIDDEN] f32 as u32 bits, or [VOCAB][HIDDEN / 2] f16 pairs (HALF)
//                                 (model.embed_tokens.weight)
//   2 hidden  storage read_write  [tokens][HIDDEN] f32
// Dispatch: (ceil(HIDDEN / 256), tokens) workgroups.

override HIDDEN: u32;
override HALF: bool = false;

@group(0) @binding(0) var<storage, read> id: array<u32>;
@group(0) @binding(1) var<storage, read> table: array<u32>;
@group(0) @binding(2) var<storage, read_write> hidden: array<f32>;

@compute @workgroup_size(256)
fn embed(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let t = gid.y;
  if (i < HIDDEN) {
    let e = id[t] * HIDDEN + i;
    if (HALF) {
      hidden[t * HIDDEN + i] = unpack2x16float(table[e / 2u])[e % 2u];
    } else {
      hidden[t * HIDDEN + i] = bitcast<f32>(table[e]);
    }
  }
}
