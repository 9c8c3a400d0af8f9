// WGSL library (//#include kv-read, f16 pages: kvLibrary('f16')): kv-read-f32.wgsl's functions over pages of packed
// halves, two elements per u32 word (element 2w in the low half of word w, 2w + 1 in the high half), unpacked with
// core WGSL's unpack2x16float: no shader-f16 needed. Values come back as f32; kernels accumulate in f32.
// Needs from the including kernel: `var<storage, ...> pages: array<KvWord>` (the layer's arena).

alias KvWord = u32;
const KV_PER_WORD: u32 = 2u;

fn kvLoad(e: u32) -> f32 {
  let pair = unpack2x16float(pages[e >> 1u]);
  return select(pair.x, pair.y, (e & 1u) == 1u);
}

// Elements e and e + 1 (e even): one word.
fn kvLoad2(e: u32) -> vec2<f32> {
  return unpack2x16float(pages[e >> 1u]);
}

// Elements e .. e + 3 (e a multiple of 4): two words.
fn kvLoad4(e: u32) -> vec4<f32> {
  let w = e >> 1u;
  return vec4<f32>(unpack2x16float(pages[w]), unpack2x16float(pages[w + 1u]));
}
