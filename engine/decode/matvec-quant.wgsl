// Matrix-vector products of one decode token over a block-quantized weight W [OUT][IN] in ONNX Runtime's
// MatMulNBits layout (engine/quant): codes dequantized in registers, w = (code - zero_point) * scale.
//
// Binding layout (@group(0); every mode binds all 8, unused ones get a 16-byte placeholder):
//   0 x       storage read        [IN] f32   input (normed: the residual stream, RMSNorm'd on the fly; gated: gate)
//   1 norm    storage read        [IN] f32   RMSNorm weight (MODE normed)
//   2 codes   storage read        [OUT][BLOCKS][BLOCK * BITS / 8] bytes as u32: element j of a block is
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
// threads serve a row, lane l taking the row's u32 code words l, l + TPR, ... (8 int4 or 4 int8 weights each), so
// the lanes' code loads are contiguous. The input (normalized, or the SwiGLU) is staged in workgroup memory TILE
// values at a time, computed once for the workgroup's ROWS rows instead of once per row: int4 reads 0.5 byte of
// code per weight, so per-row input reads (8 bytes per weight when normed) were the bottleneck. Measured on an
// H200 (4096x4096 int4): whole blocks per lane 154 us (input reads strided 128 bytes across lanes), words per lane
// 50 us, staged input: see docs/quantization.md; f32's matvec.wgsl takes 40 us.

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

// The kernel variant (engine/decode/variants.ts): WG threads, TPR of them per row (GPUs: 256 and 32; CPU adapters:
// 64 and 1, whose barriers cost more than their arithmetic).
override WG: u32 = 256u;
override TPR: u32 = 32u;
override ROWS: u32 = WG / TPR;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> norm: array<f32>;
@group(0) @binding(2) var<storage, read> codes: array<u32>;
@group(0) @binding(3) var<storage, read> scales: array<f32>;
@group(0) @binding(4) var<storage, read> zeros: array<u32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
@group(0) @binding(7) var<storage, read> x2: array<f32>;

/** Input values staged per pass (8 KiB; with `part`, 9 KiB of the 16 KiB WebGPU guarantees). */
const TILE: u32 = 2048u;

var<workgroup> part: array<f32, WG>;
var<workgroup> staged: array<f32, TILE>;

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

//#include block-quant

fn stagedInput4(i: u32) -> vec4<f32> {
  return vec4<f32>(staged[i], staged[i + 1u], staged[i + 2u], staged[i + 3u]);
}

// scale * sum_j (code_j - zp) * input_j over the weights of code word w of `row` (its block's scale and zero
// point); the input comes from `staged`, which holds the row elements from `tileStart` on.
fn wordDot(row: u32, w: u32, tileStart: u32) -> f32 {
  let wordsPerBlock = BLOCK * BITS / 32u;
  let b = w / wordsPerBlock;
  let e = w * (32u / BITS) - tileStart;
  let word = codes[row * BLOCKS * wordsPerBlock + w];
  let zp = vec4<f32>(zeroPoint(row, b));
  var s: f32;
  if (BITS == 4u) {
    let lo = vec4<f32>((vec4<u32>(word, word >> 4u, word >> 8u, word >> 12u)) & vec4<u32>(0xfu));
    let hi = vec4<f32>((vec4<u32>(word >> 16u, word >> 20u, word >> 24u, word >> 28u)) & vec4<u32>(0xfu));
    s = dot(lo - zp, stagedInput4(e)) + dot(hi - zp, stagedInput4(e + 4u));
  } else {
    let q = vec4<f32>((vec4<u32>(word, word >> 8u, word >> 16u, word >> 24u)) & vec4<u32>(0xffu));
    s = dot(q - zp, stagedInput4(e));
  }
  return s * scales[row * BLOCKS + b];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  var rs = 1.0;
  if (MODE == 0u) {
    rs = rmsScale(lid);
  }
  let row = (wid.x + wid.y * WORKGROUPS_X) * ROWS + lid / TPR;
  let lane = lid % TPR;
  var acc = 0.0;
  let perWord = 32u / BITS;
  let words = BLOCKS * BLOCK * BITS / 32u;
  // Uniform loop (the barriers): every thread stages, then the rows' lanes take the tile's code words.
  for (var tileStart = 0u; tileStart < BLOCKS * BLOCK; tileStart += TILE) {
    let count = min(TILE, BLOCKS * BLOCK - tileStart);
    for (var i = lid; i < count; i += WG) {
      staged[i] = inputAt(tileStart + i, rs);
    }
    workgroupBarrier();
    if (row < OUT) {
      let end = min((tileStart + TILE) / perWord, words);
      for (var w = tileStart / perWord + lane; w < end; w += TPR) {
        acc += wordDot(row, w, tileStart);
      }
    }
    workgroupBarrier();
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
