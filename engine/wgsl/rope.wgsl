// WGSL library (//#include rope): the rotary pair of a head dimension, for every kernel that rotates q or k.
// Needs from the including kernel: `override D: u32` (head dim) and `override INTERLEAVED: bool` (the model's RoPE
// layout: GGUF / Meta pairs (2i, 2i+1); Hugging Face halves (i, i + D/2); engine/model/rope.ts).

// The two elements that rotate together by angle i (i < D / 2).
fn ropePair(i: u32) -> vec2<u32> {
  if (INTERLEAVED) {
    return vec2<u32>(2u * i, 2u * i + 1u);
  }
  return vec2<u32>(i, i + D / 2u);
}
