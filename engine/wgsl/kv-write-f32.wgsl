// WGSL library (//#include kv-write, f32 pages: kvLibrary('f32')): how kernels write K/V elements of the paged cache,
// a pair at a time (the unit f16 pages store in one word, so no two threads share a word). Includes kv-read.
// Needs from the including kernel: `var<storage, read_write> pages: array<KvWord>`.
//#include kv-read

// Elements e and e + 1 (e even).
fn kvStore2(e: u32, v: vec2<f32>) {
  pages[e] = v.x;
  pages[e + 1u] = v.y;
}
