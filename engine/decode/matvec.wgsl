// Matrix-vector products of one decode token: W [OUT][IN] f32, row-major as Hugging Face stores it, times a vector.
//
// Binding layout (@group(0); each entry point binds only the entries it uses, at most 8 storage buffers):
//   0 x      storage read        [IN] f32   input vector (normed*: the residual stream, RMSNorm'd on the fly)
//   1 norm   storage read        [IN] f32   RMSNorm weight (normed* only)
//   2 wA     storage read        [OUT][IN] f32, bound as vec4 (the allocation is padded to 16 bytes)
//   3 wB     storage read        [OUT][IN] f32, as wA (normedPair, normedGated)
//   4 biasA  storage read        [OUT] f32; read only when HAS_BIAS_A (else a 16-byte placeholder)
//   5 biasB  storage read        [OUT] f32; read only when HAS_BIAS_B (normedPair, normedGated)
//   6 outA   storage read_write  [OUT] f32  (residual: the residual stream, added to in place)
//   7 outB   storage read_write  [OUT] f32  (normedPair)
//
// Entry points (xn = rmsnorm(x) = norm * (x / sqrt(mean(x^2) + EPS)), as transformers' LlamaRMSNorm):
//   normed       outA = wA xn + biasA                              q_proj; lm_head after the final norm
//   normedPair   outA = wA xn + biasA; outB = wB xn + biasB        k_proj and v_proj
//   normedGated  outA = silu(wA xn + biasA) * (wB xn + biasB)      gate_proj and up_proj (SwiGLU), x read once
//   residual     outA += wA x + biasA                              o_proj; down_proj (residual add fused)
//
// Dispatch: ceil(OUT / ROWS_PER_WG) workgroups, folded into (WORKGROUPS_X, y) when above the 65535-per-dimension limit.
// A workgroup serves ROWS_PER_WG rows with TPR threads per row. The threads of a row read its 16-byte words in order
// (coalesced vec4 loads); when IN is not a multiple of 4 a row starts mid-word, so each word's lanes are masked
// to the row and the input is read with that shift. Partial sums meet in a workgroup-shared tree.
// Every normed workgroup recomputes sum(x^2) itself: x is a few KiB and cached, and it saves a dispatch.

override IN: u32;
override OUT: u32;
override EPS: f32 = 1e-6;
override HAS_BIAS_A: bool = false;
override HAS_BIAS_B: bool = false;
override WORKGROUPS_X: u32 = 65535u;

// The kernel variant (engine/decode/variants.ts): WG threads, TPR of them per row. GPUs: 256 and 64 (coalesced
// loads, a shared-memory tree per row). CPU adapters (SwiftShader): 64 and 1, a thread per row and barriers only
// in the norm, because there every barrier of a 256-thread workgroup costs more than the arithmetic.
override WG: u32 = 256u;
override TPR: u32 = 64u;
override ROWS_PER_WG: u32 = WG / TPR;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> norm: array<f32>;
@group(0) @binding(2) var<storage, read> wA: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> wB: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> biasA: array<f32>;
@group(0) @binding(5) var<storage, read> biasB: array<f32>;
@group(0) @binding(6) var<storage, read_write> outA: array<f32>;
@group(0) @binding(7) var<storage, read_write> outB: array<f32>;

var<workgroup> partA: array<f32, WG>;
var<workgroup> partB: array<f32, WG>;

struct RowSlot {
  row: u32,
  lane: u32,
  valid: bool,
}

fn rowSlot(wid: vec3<u32>, lid: u32) -> RowSlot {
  let row = (wid.x + wid.y * WORKGROUPS_X) * ROWS_PER_WG + lid / TPR;
  return RowSlot(row, lid % TPR, row < OUT);
}

// The words of row `row` are [first, last): word w holds input elements 4w - row*IN + (0..3).
fn firstWord(row: u32) -> u32 {
  return (row * IN) / 4u;
}

fn lastWord(row: u32) -> u32 {
  return (row * IN + IN + 3u) / 4u;
}

// Element offset of word w's lane 0 within its row (negative for a row's first word when the row starts mid-word).
fn wordOffset(w: u32, row: u32) -> i32 {
  return i32(4u * w) - i32(row * IN);
}

// 1 / rms(x) for the whole workgroup. Call in uniform control flow; uses partA.
fn rmsScale(lid: u32) -> f32 {
  var s = 0.0;
  for (var i = lid; i < IN; i += WG) {
    s += x[i] * x[i];
  }
  partA[lid] = s;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      partA[lid] += partA[lid + stride];
    }
    workgroupBarrier();
  }
  let scale = 1.0 / sqrt(partA[0] / f32(IN) + EPS);
  workgroupBarrier();
  return scale;
}

// Normalized input element at offset o of the row, 0 outside [0, IN).
fn normedAt(o: i32, scale: f32) -> f32 {
  if (o < 0 || o >= i32(IN)) {
    return 0.0;
  }
  let i = u32(o);
  return norm[i] * (x[i] * scale);
}

fn plainAt(o: i32) -> f32 {
  if (o < 0 || o >= i32(IN)) {
    return 0.0;
  }
  return x[u32(o)];
}

fn normedWord(o: i32, scale: f32) -> vec4<f32> {
  return vec4<f32>(normedAt(o, scale), normedAt(o + 1, scale), normedAt(o + 2, scale), normedAt(o + 3, scale));
}

// Sums partA (and partB) over each row's TPR lanes; lane 0 of a row then holds the row's dot product.
fn reduceRows(lid: u32, lane: u32, both: bool) {
  workgroupBarrier();
  for (var stride = TPR / 2u; stride > 0u; stride >>= 1u) {
    if (lane < stride) {
      partA[lid] += partA[lid + stride];
      if (both) {
        partB[lid] += partB[lid + stride];
      }
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn normed(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let scale = rmsScale(lid);
  let slot = rowSlot(wid, lid);
  var acc = 0.0;
  if (slot.valid) {
    for (var w = firstWord(slot.row) + slot.lane; w < lastWord(slot.row); w += TPR) {
      acc += dot(wA[w], normedWord(wordOffset(w, slot.row), scale));
    }
  }
  partA[lid] = acc;
  reduceRows(lid, slot.lane, false);
  if (slot.valid && slot.lane == 0u) {
    var y = partA[lid];
    if (HAS_BIAS_A) {
      y += biasA[slot.row];
    }
    outA[slot.row] = y;
  }
}

@compute @workgroup_size(WG)
fn normedPair(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let scale = rmsScale(lid);
  let slot = rowSlot(wid, lid);
  var a = 0.0;
  var b = 0.0;
  if (slot.valid) {
    for (var w = firstWord(slot.row) + slot.lane; w < lastWord(slot.row); w += TPR) {
      let xn = normedWord(wordOffset(w, slot.row), scale);
      a += dot(wA[w], xn);
      b += dot(wB[w], xn);
    }
  }
  partA[lid] = a;
  partB[lid] = b;
  reduceRows(lid, slot.lane, true);
  if (slot.valid && slot.lane == 0u) {
    var ya = partA[lid];
    var yb = partB[lid];
    if (HAS_BIAS_A) {
      ya += biasA[slot.row];
    }
    if (HAS_BIAS_B) {
      yb += biasB[slot.row];
    }
    outA[slot.row] = ya;
    outB[slot.row] = yb;
  }
}

@compute @workgroup_size(WG)
fn normedGated(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let scale = rmsScale(lid);
  let slot = rowSlot(wid, lid);
  var a = 0.0;
  var b = 0.0;
  if (slot.valid) {
    for (var w = firstWord(slot.row) + slot.lane; w < lastWord(slot.row); w += TPR) {
      let xn = normedWord(wordOffset(w, slot.row), scale);
      a += dot(wA[w], xn);
      b += dot(wB[w], xn);
    }
  }
  partA[lid] = a;
  partB[lid] = b;
  reduceRows(lid, slot.lane, true);
  if (slot.valid && slot.lane == 0u) {
    var gate = partA[lid];
    var up = partB[lid];
    if (HAS_BIAS_A) {
      gate += biasA[slot.row];
    }
    if (HAS_BIAS_B) {
      up += biasB[slot.row];
    }
    outA[slot.row] = gate / (1.0 + exp(-gate)) * up;
  }
}

@compute @workgroup_size(WG)
fn residual(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let slot = rowSlot(wid, lid);
  var acc = 0.0;
  if (slot.valid) {
    for (var w = firstWord(slot.row) + slot.lane; w < lastWord(slot.row); w += TPR) {
      let o = wordOffset(w, slot.row);
      acc += dot(wA[w], vec4<f32>(plainAt(o), plainAt(o + 1), plainAt(o + 2), plainAt(o + 3)));
    }
  }
  partA[lid] = acc;
  reduceRows(lid, slot.lane, false);
  if (slot.valid && slot.lane == 0u) {
    var y = partA[lid];
    if (HAS_BIAS_A) {
      y += biasA[slot.row];
    }
    outA[slot.row] += y;
  }
}
