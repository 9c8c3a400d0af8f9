// WGSL library (//#include kv-read, f32 pages: kvLibrary('f32')): how every kernel reads K/V elements of the paged
// cache. Its twin kv-read-f16.wgsl has the same names over packed f16 words; kernels address pages by element (the
// f32 layout's index: page * 2 * PAGE * D + ...), so one kernel source serves both dtypes.
// Needs from the including kernel: `var<storage, ...> pages: array<KvWord>` (the layer's arena).

// The storage word of a page: one element.
alias KvWord = f32;
// Elements per KvWord.
const KV_PER_WORD: u32 = 1u;

fn kvLoad(e: u32) -> f32 {
  return pages[e];
}

// Elements e and e + 1 (e even).
fn kvLoad2(e: u32) -> vec2<f32> {
  return vec2<f32>(pages[e], pages[e + 1u]);
}

// Elements e .. e + 3 (e a multiple of 4).
fn kvLoad4(e: u32) -> vec4<f32> {
  return vec4<f32>(pages[e], pages[e + 1u], pages[e + 2u], pages[e + 3u]);
}
