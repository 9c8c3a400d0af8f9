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

// For kernels that write one element at a time (a packed f16 K page is written a word, two adjacent dims, per
// thread): element i of the rotated vector is x[i] * cos - x[ropePartner(i)] * sin when i is the first of its
// pair, + when the second, at angle ropeFrequency(i).
fn ropeFrequency(i: u32) -> u32 {
  if (INTERLEAVED) {
    return i / 2u;
  }
  return i % (D / 2u);
}

fn ropePartner(i: u32) -> u32 {
  if (INTERLEAVED) {
    return i ^ 1u;
  }
  return select(i + D / 2u, i - D / 2u, i >= D / 2u);
}

// -1 for the first element of a pair, +1 for the second.
fn ropeSign(i: u32) -> f32 {
  if (INTERLEAVED) {
    return select(-1.0, 1.0, (i & 1u) == 1u);
  }
  return select(-1.0, 1.0, i >= D / 2u);
}
