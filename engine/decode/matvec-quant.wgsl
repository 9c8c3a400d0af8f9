// Matrix-vector products of one decode token over a block-quantized weight W [OUT][IN] in ONNX Runtime's
// MatMulNBits layout (engine/quant): codes dequantized in registers, w = (code - zero_point) * scale.
//
// Binding layout (@group(0); every mode binds all 8, unused ones get a 16-byte placeholder):
//   0 x       storage read        [IN] f32   input (normed: the residual stream, RMSNorm'd on the fly; gated: gate)
//   1 norm    storage read        [IN] f32   RMSNorm weight (MODE normed)
//   2 codes   storage read        [OUT][BLOCKS][BLOCK * BITS / 8] bytes as vec4<u32>: element j of a block is
//                                 bits [BITS*(j % (32/BITS)), +BITS) of u32 word j / (32/BITS) (low bits first)
//   3 scales  storage read        [OUT * BLOCKS] f32
//   4 zeros   storage read        packed zero points, [OUT][ceil(BLOCKS * BITS / 8)] bytes as u32 (HAS_ZP only)
//   5 bias    storage read        [OUT] f32 (HAS_BIAS only)
//   6 out     storage read_write  [OUT] f32  (residual, gated: the residual stream, added to in place)
//   7 x2      storage read        [IN] f32   up projection (MODE gated)
//
// MODE (xn = rmsnorm(x) = norm * (x / sqrt(mean(x^2) + EPS)), as transformers' LlamaRMSNorm):
//   0 normed    out = W xn + bias                          q, k, v, gate, up; lm_head after the final norm
//   1 residual  out += W x + bias                          o_proj (residual add fused)
//   2 gated     out += W (silu(x) * x2) + bias             down_proj over the SwiGLU of gate (x) and up (x2)
// Fewer fusions than matvec.wgsl's pair entries: two quantized matrices would need 12 storage bindings (codes,
// scales, zero points each), beyond WebGPU's default 8 per stage; the SwiGLU moves into down_proj's input instead.
//
// Dispatch: ceil(OUT / ROWS) workgroups, folded into (WORKGROUPS_X, y) past the 65535-per-dimension limit. TPR
// threads serve a row, each whole blocks (16 or 32 contiguous bytes), so a row's lanes read its blocks in order.

override IN: u32;
override OUT: u32;
override BLOCKS: u32;
override BLOCK: u32 = 32u;
override BITS: u32 = 4u;
override MODE: u32 = 0u;
override EPS: f32 = 1e-6;
override HAS_ZP: bool = false;
override HAS_BIAS: bool = false;
override WORKGROUPS_X: u32 = 65535u;

const WG: u32 = 256u;
const ROWS: u32 = 8u;
const TPR: u32 = WG / ROWS;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> norm: array<f32>;
@group(0) @binding(2) var<storage, read> codes: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> scales: array<f32>;
@group(0) @binding(4) var<storage, read> zeros: array<u32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
@group(0) @binding(7) var<storage, read> x2: array<f32>;

var<workgroup> part: array<f32, WG>;

// 1 / rms(x) for the whole workgroup. Call in uniform control flow.
fn rmsScale(lid: u32) -> f32 {
  var s = 0.0;
  for (var i = lid; i < IN; i += WG) {
    s += x[i] * x[i];
  }
  part[lid] = s;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      part[lid] += part[lid + stride];
    }
    workgroupBarrier();
  }
  let scale = 1.0 / sqrt(part[0] / f32(IN) + EPS);
  workgroupBarrier();
  return scale;
}

// The product's input element i (0 past IN: the padding of a short last block).
fn inputAt(i: u32, rs: f32) -> f32 {
  if (i >= IN) {
    return 0.0;
  }
  if (MODE == 0u) {
    return norm[i] * (x[i] * rs);
  }
  if (MODE == 2u) {
    let g = x[i];
    return g / (1.0 + exp(-g)) * x2[i];
  }
  return x[i];
}

fn input4(i: u32, rs: f32) -> vec4<f32> {
  return vec4<f32>(inputAt(i, rs), inputAt(i + 1u, rs), inputAt(i + 2u, rs), inputAt(i + 3u, rs));
}

fn zeroPoint(row: u32, b: u32) -> f32 {
  if (!HAS_ZP) {
    return f32(1u << (BITS - 1u));
  }
  let rowBytes = (BLOCKS * BITS + 7u) / 8u;
  let byteIndex = row * rowBytes + (b * BITS) / 8u;
  let byte = (zeros[byteIndex / 4u] >> (8u * (byteIndex % 4u))) & 0xffu;
  if (BITS == 4u) {
    return f32((byte >> (4u * (b % 2u))) & 0xfu);
  }
  return f32(byte);
}

// scale_b * sum_j (code_j - zp_b) * input_j over block b of `row`.
fn blockDot(row: u32, b: u32, rs: f32) -> f32 {
  let vecsPerBlock = BLOCK * BITS / 128u;
  let perWord = 32u / BITS;
  let zp = vec4<f32>(zeroPoint(row, b));
  let first = (row * BLOCKS + b) * vecsPerBlock;
  var e = b * BLOCK;
  var s = 0.0;
  for (var v = 0u; v < vecsPerBlock; v++) {
    let words = codes[first + v];
    for (var c = 0u; c < 4u; c++) {
      let w = words[c];
      if (BITS == 4u) {
        let lo = vec4<f32>((vec4<u32>(w, w >> 4u, w >> 8u, w >> 12u)) & vec4<u32>(0xfu));
        let hi = vec4<f32>((vec4<u32>(w >> 16u, w >> 20u, w >> 24u, w >> 28u)) & vec4<u32>(0xfu));
        s += dot(lo - zp, input4(e, rs)) + dot(hi - zp, input4(e + 4u, rs));
      } else {
        let q = vec4<f32>((vec4<u32>(w, w >> 8u, w >> 16u, w >> 24u)) & vec4<u32>(0xffu));
        s += dot(q - zp, input4(e, rs));
      }
      e += perWord;
    }
  }
  return s * scales[row * BLOCKS + b];
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  var rs = 1.0;
  if (MODE == 0u) {
    rs = rmsScale(lid);
  }
  let row = (wid.x + wid.y * WORKGROUPS_X) * ROWS + lid / TPR;
  let lane = lid % TPR;
  var acc = 0.0;
  if (row < OUT) {
    for (var b = lane; b < BLOCKS; b += TPR) {
      acc += blockDot(row, b, rs);
    }
  }
  part[lid] = acc;
  workgroupBarrier();
  for (var stride = TPR / 2u; stride > 0u; stride >>= 1u) {
    if (lane < stride) {
      part[lid] += part[lid + stride];
    }
    workgroupBarrier();
  }
  if (row < OUT && lane == 0u) {
    var y = part[lid];
    if (HAS_BIAS) {
      y += bias[row];
    }
    if (MODE == 0u) {
      out[row] = y;
    } else {
      out[row] += y;
    }
  }
}
