// Matrix-vector products of one decode token, y = W x, for every weight format: W [rows][IN] row-major as Hugging
// Face stores it, in the format that `//#include weight-format` joins in (matvec-dense.wgsl: f32 values;
// matvec-f16.wgsl: f16 values packed in pairs; matvec-int4.wgsl / matvec-int8.wgsl: engine/quant's blocks of codes
// with an f32 scale, and an f32 min, each). One source for all formats: the format file supplies the weight bindings
// and the dot product of one unit (a few consecutive weights of a row read as one 16-byte word); everything else is
// shared.
//
// Binding layout (@group(0); 'auto' layouts keep only what an entry point uses):
//   0 x      storage read        [IN] f32 as vec4s (normed: the residual stream, RMSNorm'd on the fly)
//   1 norm   storage read        [IN] f32 as vec4s, RMSNorm weight (normed, gated)
//   2 bias   storage read        f32 laid out as `out` (normed: bias of segment s's row r at OUT_AT_s + r; gated:
//                                [gate rows; up rows]); read when HAS_BIAS
//   3 out    storage read_write  normed, gated: written; residual: the residual stream, added to in place
//   4..9     the weight format's slots (f32, f16: 4 w0, 5 w1, 6 w2; int: 4 codes0, 5 scales0, 6 codes1, ...)
//
// Entry points (xn = rmsnorm(x) = norm * x / sqrt(mean(x^2) + EPS), as transformers' LlamaRMSNorm):
//   normed    out[OUT_AT_s + r] = W_s xn + bias    up to 3 matrices stacked along the output (segments: q, k, v in
//                                                  one dispatch; `//#include matvec-segments` says how many)
//   residual  out[r] += W_0 x + bias               o_proj, down_proj (residual add fused)
//   gated     out[r] = silu(W_0 xn + b) * (W_1 xn + b')   gate_proj and up_proj (SwiGLU), x read once
//
// Work split (why it reads at bandwidth): a workgroup serves ROWS_PER_WG rows of one segment: GROUPS groups of TPR
// lanes, each thread RPT rows. Lane l takes slices l, l + TPR, ... of its rows (a slice: LANE_WORDS of a unit's 4
// words; 4, the whole unit, unless the variant asks for less), so a group's loads of one row are contiguous; the
// slice's input is loaded (and normalized) once per thread for its RPT rows, so input reads cost 1/RPT of what one
// row per thread costs, and int codes are unpacked in registers with shifts. Narrower slices (LANE_WORDS 1 or 2)
// trade 16-byte weight loads for input loads that a warp takes from fewer cache lines: with whole int4 units, lane
// l's 8 input vec4s lie 128 bytes from lane l+1's, so each warp-wide input load touches 32 lines (the L1 serves
// one a cycle), which bound int4 near 0.2 of read bandwidth on the H200 (2026-12-04); one word a lane makes it 8. rmsnorm's 1/rms is a
// scalar, so it is applied after the dot product: sum(x^2) is summed by the same lanes in the same loop and reduced
// with the dot products (no separate pass over x, no barrier before the loop). The format may ask for the input
// scaled per position (unitInputScale(): the int formats' exponent unpacking leaves code j of a word at 16^j or
// 256^j times its value, and the input carries the inverse, once per thread for its RPT rows); sum_j x_j, the zero
// point's term, is taken before that scaling.
//
// Dispatch: sum over segments of ceil(rows_s / ROWS_PER_WG) workgroups, folded into (WORKGROUPS_X, y) past the
// 65535-per-dimension limit.
//
// Reduction (`//#include matvec-reduce`, with its `enable` line in `//#include matvec-reduce-enable`): lanes meet in
// a workgroup-shared tree (matvec-reduce-workgroup.wgsl, any adapter) or through subgroup shuffles
// (matvec-reduce-subgroup.wgsl, where the device has 'subgroups' and its smallest subgroup holds TPR lanes).
//#include matvec-reduce-enable
//#include weight-format
//#include matvec-segments
//#include matvec-reduce

override IN: u32;
// Units of UNIT weights per row (f32: IN / 4; f16: IN / 8; int4: 32 codes; int8: 16 codes).
override UNITS_PER_ROW: u32;
// u32 words of a unit a lane reads at once (4: the unit's one 16-byte load; f16: 2 or 4; f32: 4), SLICES of them a
// unit, each SLICE_VEC4S input vec4s.
override LANE_WORDS: u32 = 4u;
override SLICES: u32 = 4u / LANE_WORDS;
override SLICE_VEC4S: u32 = UNIT_VEC4S / SLICES;
override EPS: f32 = 1e-6;
override HAS_BIAS: bool = false;
override WORKGROUPS_X: u32 = 65535u;

// The kernel variant (engine/decode/variants.ts). GPUs: 256 threads, 32 lanes per row group, 4 rows per thread.
// CPU adapters (SwiftShader): 64 threads, 1 lane, 1 row: a thread per row and no barriers, because there each
// barrier of a workgroup costs more than the arithmetic.
override WG: u32 = 256u;
override TPR: u32 = 32u;
override RPT: u32 = 4u;
override GROUPS: u32 = WG / TPR;
override ROWS_PER_WG: u32 = GROUPS * RPT;

// Segments stacked along the output (normed): rows of matrix s, and where they start in `out`.
override ROWS0: u32 = 0u;
override OUT_AT0: u32 = 0u;
override ROWS1: u32 = 0u;
override ROWS2: u32 = 0u;
override OUT_AT1: u32 = 0u;
override OUT_AT2: u32 = 0u;

// Partial sums a thread keeps: up to MAX_RPT dot products (gated: 2 RPT), then sum(x^2) at MAX_RPT.
const MAX_RPT: u32 = 8u;

// The input staged in workgroup memory (stageInput), where the variant asks and it fits: STAGE_STRIDE vec4s a unit
// (UNIT_VEC4S, plus 1 when even), STAGED_VEC4S = UNITS_PER_ROW * STAGE_STRIDE (1 when not staged).
override STAGE_INPUT: bool = false;
override STAGE_STRIDE: u32 = 1u;
override STAGED_VEC4S: u32 = 1u;
var<workgroup> staged: array<vec4<f32>, STAGED_VEC4S>;
var<workgroup> stagedSq: array<f32, WG>;

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> norm: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

struct Segment {
  index: u32,
  firstRow: u32,
  rows: u32,
  outAt: u32,
}

fn workgroupsOf(rows: u32) -> u32 {
  return (rows + ROWS_PER_WG - 1u) / ROWS_PER_WG;
}

fn segmentOf(wid: vec3<u32>) -> Segment {
  let wg = wid.x + wid.y * WORKGROUPS_X;
  let w0 = workgroupsOf(ROWS0);
  let w1 = workgroupsOf(ROWS1);
  if (wg < w0) {
    return Segment(0u, wg * ROWS_PER_WG, ROWS0, OUT_AT0);
  }
  if (wg < w0 + w1) {
    return Segment(1u, (wg - w0) * ROWS_PER_WG, ROWS1, OUT_AT1);
  }
  return Segment(2u, (wg - w0 - w1) * ROWS_PER_WG, ROWS2, OUT_AT2);
}

// Input vec4 v, zero past IN (the padding of a short last unit).
fn inputAt(v: u32) -> vec4<f32> {
  let first = 4u * v;
  if (first + 4u <= IN) {
    return x[v];
  }
  if (first >= IN) {
    return vec4<f32>(0.0);
  }
  return select(vec4<f32>(0.0), x[v], first + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(IN));
}

fn normAt(v: u32) -> vec4<f32> {
  if (4u * v >= IN) {
    return vec4<f32>(0.0);
  }
  return norm[v];
}

fn threadRow(seg: Segment, lid: u32, k: u32) -> u32 {
  return seg.firstRow + k * GROUPS + lid / TPR;
}

// 1 / rms of the input from the row group's reduced sum of squares.
fn rmsScale(sumSq: f32) -> f32 {
  return 1.0 / sqrt(sumSq / f32(IN) + EPS);
}

// The input of slice p of unit u: its SLICE_VEC4S vec4s in xv[0 ..) (normed: times the norm weight; then times
// unitInputScale) and the sum of its values before that scale (the zero point's and the min's term). Staged: from
// workgroup memory.
struct UnitInput {
  xv: array<vec4<f32>, UNIT_VEC4S>,
  sx: f32,
  sumSq: f32,
}

fn unitInput(u: u32, p: u32, normed: bool) -> UnitInput {
  var r: UnitInput;
  var xs = vec4<f32>(0.0);
  if (STAGE_INPUT) {
    for (var i = 0u; i < SLICE_VEC4S; i++) {
      r.xv[i] = staged[u * STAGE_STRIDE + p * SLICE_VEC4S + i];
      xs += r.xv[i] / unitInputScale();
    }
    r.sx = dot(xs, vec4<f32>(1.0));
    return r;
  }
  for (var i = 0u; i < SLICE_VEC4S; i++) {
    let v = u * UNIT_VEC4S + p * SLICE_VEC4S + i;
    var xi = inputAt(v);
    r.sumSq += dot(xi, xi);
    if (normed) {
      xi *= normAt(v);
    }
    xs += xi;
    r.xv[i] = xi * unitInputScale();
  }
  r.sx = dot(xs, vec4<f32>(1.0));
  return r;
}

// Staging (STAGE_INPUT): the workgroup reads the input once, coalesced, normed and scaled, into `staged` with each
// unit's vec4s at a stride of STAGE_STRIDE (odd: a quarter-warp's 16-byte reads of 8 units hit 8 distinct bank
// quads). Why: read straight from global memory, lane l's unit u = l + TPR j makes the lanes' loads 16 * UNIT_VEC4S
// bytes apart, a cache line each (int4: 32 lines per warp load), and those loads, not the bytes, bound the int and
// f16 matvecs on the H200 (2026-12-04: 14336x4096 int4, int8, f16 all ~40-48 us). Each thread's sum of squares of
// what it staged goes to `stagedSq`; lane l of every row group sums entries l, l + TPR, ... so the group's lane
// reduction yields the whole input's. Returns this lane's share.
fn stageInput(lid: u32, normed: bool) -> f32 {
  var ss = 0.0;
  for (var v = lid; v < UNITS_PER_ROW * UNIT_VEC4S; v += WG) {
    var xi = inputAt(v);
    ss += dot(xi, xi);
    if (normed) {
      xi *= normAt(v);
    }
    staged[(v / UNIT_VEC4S) * STAGE_STRIDE + v % UNIT_VEC4S] = xi * unitInputScale();
  }
  stagedSq[lid] = ss;
  workgroupBarrier();
  var share = 0.0;
  for (var j = lid % TPR; j < WG; j += TPR) {
    share += stagedSq[j];
  }
  return share;
}

// This thread's partial sums over its slices: W_seg(row k) . input for its RPT rows, and sum(x^2) at MAX_RPT.
fn accumulate(seg: Segment, lid: u32, normed: bool) -> array<f32, 9> {
  var acc: array<f32, 9>;
  var sumSq = 0.0;
  if (STAGE_INPUT) {
    sumSq = stageInput(lid, normed);
  }
  for (var s = lid % TPR; s < UNITS_PER_ROW * SLICES; s += TPR) {
    let u = s / SLICES;
    let p = s % SLICES;
    let input = unitInput(u, p, normed);
    sumSq += input.sumSq;
    for (var k = 0u; k < RPT; k++) {
      let row = threadRow(seg, lid, k);
      if (row < seg.rows) {
        acc[k] += segmentDot(seg.index, row, u, p, input.xv, input.sx);
      }
    }
  }
  acc[MAX_RPT] = sumSq;
  return acc;
}

fn biasAt(i: u32) -> f32 {
  if (HAS_BIAS) {
    return bias[i];
  }
  return 0.0;
}

@compute @workgroup_size(WG)
fn normed(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let seg = segmentOf(wid);
  let r = reduced(lid, accumulate(seg, lid, true), RPT);
  if (lid % TPR != 0u) {
    return;
  }
  let rs = rmsScale(r[MAX_RPT]);
  for (var k = 0u; k < RPT; k++) {
    let row = threadRow(seg, lid, k);
    if (row < seg.rows) {
      out[seg.outAt + row] = r[k] * rs + biasAt(seg.outAt + row);
    }
  }
}

@compute @workgroup_size(WG)
fn residual(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let seg = segmentOf(wid);
  let r = reduced(lid, accumulate(seg, lid, false), RPT);
  if (lid % TPR != 0u) {
    return;
  }
  for (var k = 0u; k < RPT; k++) {
    let row = threadRow(seg, lid, k);
    if (row < seg.rows) {
      out[row] += r[k] + biasAt(row);
    }
  }
}

// gate (matrix 0) and up (matrix 1) of the same rows: 2 RPT dot products per thread, the input read once.
@compute @workgroup_size(WG)
fn gated(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let seg = Segment(0u, (wid.x + wid.y * WORKGROUPS_X) * ROWS_PER_WG, ROWS0, 0u);
  var acc: array<f32, 9>;
  var sumSq = 0.0;
  if (STAGE_INPUT) {
    sumSq = stageInput(lid, true);
  }
  for (var s = lid % TPR; s < UNITS_PER_ROW * SLICES; s += TPR) {
    let u = s / SLICES;
    let p = s % SLICES;
    let input = unitInput(u, p, true);
    sumSq += input.sumSq;
    for (var k = 0u; k < RPT; k++) {
      let row = threadRow(seg, lid, k);
      if (row < seg.rows) {
        acc[k] += dot0(row, u, p, input.xv, input.sx);
        acc[RPT + k] += dot1(row, u, p, input.xv, input.sx);
      }
    }
  }
  acc[MAX_RPT] = sumSq;
  let r = reduced(lid, acc, 2u * RPT);
  if (lid % TPR != 0u) {
    return;
  }
  let rs = rmsScale(r[MAX_RPT]);
  for (var k = 0u; k < RPT; k++) {
    let row = threadRow(seg, lid, k);
    if (row < seg.rows) {
      let g = r[k] * rs + biasAt(row);
      let up = r[RPT + k] * rs + biasAt(ROWS0 + row);
      out[row] = g / (1.0 + exp(-g)) * up;
    }
  }
}
