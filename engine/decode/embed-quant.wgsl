// Embedding gather from a block-quantized table (engine/quant, MatMulNBits' layout) for TOKENS ids: row t of the
// output is row ids[t] of embed_tokens, dequantized (engine/wgsl block-quant: symmetric, or with mins). Prefill runs
// it on a chunk, decode on one id.
//
// Binding layout (@group(0)):
//   0 ids     storage read        [TOKENS] u32 (int32 ids read as u32: they are non-negative)
//   1 codes   storage read        [VOCAB][BLOCKS][BLOCK * BITS / 8] bytes as u32, low bits first
//   2 scales  storage read        [VOCAB * BLOCKS] f32, or [VOCAB * BLOCKS][2] (scale, min) pairs (HAS_MIN)
//   3 hidden  storage read_write  [TOKENS][HIDDEN] f32
// Dispatch: (ceil(HIDDEN / 256), TOKENS) workgroups.

override HIDDEN: u32;
override BLOCKS: u32;
override BLOCK: u32 = 32u;
override BITS: u32 = 4u;
override HAS_MIN: bool = false;

@group(0) @binding(0) var<storage, read> ids: array<u32>;
@group(0) @binding(1) var<storage, read> codes: array<u32>;
@group(0) @binding(2) var<storage, read> scales: array<f32>;
@group(0) @binding(3) var<storage, read_write> hidden: array<f32>;

//#include block-quant

fn byteAt(index: u32) -> u32 {
  return (codes[index / 4u] >> (8u * (index % 4u))) & 0xffu;
}

@compute @workgroup_size(256)
fn embed(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let t = gid.y;
  if (i >= HIDDEN) {
    return;
  }
  let row = ids[t];
  let b = i / BLOCK;
  let j = i % BLOCK;
  let blob = BLOCK * BITS / 8u;
  let byte = byteAt((row * BLOCKS + b) * blob + (j * BITS) / 8u);
  var code = byte;
  if (BITS == 4u) {
    code = (byte >> (4u * (j % 2u))) & 0xfu;
  }
  hidden[t * HIDDEN + i] = blockWeight(code, blockAffine(row * BLOCKS + b));
}
