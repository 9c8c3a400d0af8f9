// WGSL library (//#include kv-write, f16 pages: kvLibrary('f16')): kv-write-f32.wgsl's kvStore2 over packed halves:
// one word, rounded to nearest even by pack2x16float (values past f16's range become infinite). Includes kv-read.
// Needs from the including kernel: `var<storage, read_write> pages: array<KvWord>`.
//#include kv-read

// Elements e and e + 1 (e even): one word.
fn kvStore2(e: u32, v: vec2<f32>) {
  pages[e >> 1u] = pack2x16float(v);
}
