// bench/sparse-decode's cache fill: pseudo-random K/V words over a whole arena buffer, so a long context exists
// without a prefill (a 128K prefill of the 1B shape would take minutes). Timing of decode does not depend on the values.
//
// Binding layout: 0 words storage read_write [n] u32 (an arena's pages: f32 bits, or two packed f16s per word);
//                 1 params uniform (n, workgroups per row of the grid).
// Dispatch: fill (ceil(n / 256) workgroups as a grid of rows, a row at most 32768).

override F16: bool;

struct Params {
  words: u32,
  row: u32,
  pad0: u32,
  pad1: u32,
}

@group(0) @binding(0) var<storage, read_write> words: array<u32>;
@group(0) @binding(1) var<uniform> params: Params;

// PCG hash of the word index: uniform in [-1, 1).
fn noise(i: u32) -> f32 {
  var h = i * 747796405u + 2891336453u;
  h = ((h >> ((h >> 28u) + 4u)) ^ h) * 277803737u;
  h = (h >> 22u) ^ h;
  return f32(h) / 2147483648.0 - 1.0;
}

@compute @workgroup_size(256)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.row * 256u + gid.x;
  if (i >= params.words) {
    return;
  }
  if (F16) {
    words[i] = pack2x16float(vec2<f32>(noise(2u * i), noise(2u * i + 1u)));
  } else {
    words[i] = bitcast<u32>(noise(i));
  }
}
