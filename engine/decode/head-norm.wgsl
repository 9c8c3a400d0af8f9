// Per-head RMSNorm of q and k before RoPE (qwen3's q_norm / k_norm), in place, for each token
// (decode: one; prefill: a chunk's).
//
// Binding layout (@group(0)):
//   0 q      storage read_write  [tokens][NUM_HEADS * D] f32
//   1 k      storage read_write  [tokens][NUM_KV_HEADS * D] f32
//   2 qNorm  storage read        [D] f32
//   3 kNorm  storage read        [D] f32
// Dispatch: (NUM_HEADS + NUM_KV_HEADS, tokens) workgroups; workgroup (h, t) normalizes q head h of token t for
// h < NUM_HEADS, k head h - NUM_HEADS otherwise.
// Math as transformers' Qwen3RMSNorm: w * (v / sqrt(mean(v^2) + EPS)) over the head's D values.

override D: u32;
override NUM_HEADS: u32;
override EPS: f32;

const WG: u32 = 64u;

@group(0) @binding(0) var<storage, read_write> q: array<f32>;
@group(0) @binding(1) var<storage, read_write> k: array<f32>;
@group(0) @binding(2) var<storage, read> qNorm: array<f32>;
@group(0) @binding(3) var<storage, read> kNorm: array<f32>;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(64)
fn headNorm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let isQ = wid.x < NUM_HEADS;
  let kvHeads = groups.x - NUM_HEADS;
  let base = select((wid.y * kvHeads + wid.x - NUM_HEADS) * D, (wid.y * NUM_HEADS + wid.x) * D, isQ);
  var s = 0.0;
  for (var i = lid; i < D; i += WG) {
    var v: f32;
    if (isQ) {
      v = q[base + i];
    } else {
      v = k[base + i];
    }
    s += v * v;
  }
  partial[lid] = s;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
  let scale = 1.0 / sqrt(partial[0] / f32(D) + EPS);
  for (var i = lid; i < D; i += WG) {
    if (isQ) {
      q[base + i] = qNorm[i] * (q[base + i] * scale);
    } else {
      k[base + i] = kNorm[i] * (k[base + i] * scale);
    }
  }
}
