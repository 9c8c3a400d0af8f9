// Decode attention (flash-decoding): one new query per head over all of a sequence's cached slots, split into
// chunks of CHUNK slots so long contexts spread over many workgroups (split), then merged per head (reduce).
//
// Binding layout
//   @group(0) static per layer:
//     0 step        storage read        Step: seq slot, start position, n = 1, cos [1][D/2], sin [1][D/2]
//     1 layer       uniform             LayerParams: the layer index
//     2 pages       storage read        the layer's arena: [page][K|V][PAGE][D] f32 (split only)
//     4 blockTables storage read        [seq][MAX_PAGES][NUM_LAYERS][NUM_KV_HEADS] u32 (split only)
//     5 counts      storage read        [seq][NUM_LAYERS][NUM_KV_HEADS] u32 slots cached before this token
//     6 partials    storage read_write  acc [NUM_HEADS][MAX_SPLITS][D] f32, then (max, sum) [NUM_HEADS][MAX_SPLITS][2]
//   @group(1):
//     0 q           storage read        [1][NUM_HEADS * D] f32, not rotated (split only)
//     1 out         storage read_write  [1][NUM_HEADS * D] f32 (reduce only)
// Dispatch: split (number of chunks, NUM_KV_HEADS), a workgroup serving the GROUP query heads of one KV head so
// each key and value is read once for the whole group; reduce (NUM_HEADS).
// Partials hold sum_j exp(s_j - m) v_j unnormalized with their chunk max m and sum l; reduce rescales them to the
// global max (the online-softmax merge), so the result does not depend on the chunking beyond rounding.

override D: u32;
override NUM_HEADS: u32;
override NUM_KV_HEADS: u32;
override NUM_LAYERS: u32;
override PAGE: u32;
override MAX_PAGES: u32;
override MAX_SPLITS: u32;
override INTERLEAVED: bool;
override SCALE: f32;
// GROUP * D and GROUP * CHUNK, set by the host (workgroup arrays are sized by a single override).
override Q_FLOATS: u32;
override SCORE_FLOATS: u32;

const WG: u32 = 64u;
// Slots per split: one per thread of the workgroup.
const CHUNK: u32 = 64u;
const NEG_BIG: f32 = -1.0e30;

struct Step {
  seq: u32,
  start: u32,
  n: u32,
  pad: u32,
  rope: array<f32>,
}

struct LayerParams {
  index: u32,
  pad0: u32,
  pad1: u32,
  pad2: u32,
}

@group(0) @binding(0) var<storage, read> step: Step;
@group(0) @binding(1) var<uniform> layer: LayerParams;
@group(0) @binding(2) var<storage, read> pages: array<f32>;
@group(0) @binding(4) var<storage, read> blockTables: array<u32>;
@group(0) @binding(5) var<storage, read> counts: array<u32>;
@group(0) @binding(6) var<storage, read_write> partials: array<f32>;
@group(1) @binding(0) var<storage, read> q: array<f32>;
@group(1) @binding(1) var<storage, read_write> out: array<f32>;

var<workgroup> qs: array<f32, Q_FLOATS>;
var<workgroup> probs: array<f32, SCORE_FLOATS>;
var<workgroup> slotBase: array<u32, CHUNK>;
var<workgroup> chunkMax: array<f32, WG>;

//#include rope

fn totalSlots(g: u32) -> u32 {
  return counts[(step.seq * NUM_LAYERS + layer.index) * NUM_KV_HEADS + g] + step.n;
}

fn mlIndex(h: u32, s: u32) -> u32 {
  return NUM_HEADS * MAX_SPLITS * D + (h * MAX_SPLITS + s) * 2u;
}

@compute @workgroup_size(64)
fn split(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = NUM_HEADS / NUM_KV_HEADS;
  let s = wid.x;
  let g = wid.y;
  let total = totalSlots(g);
  let first = s * CHUNK;
  let valid = min(total - min(first, total), CHUNK);

  // Rotate and scale the group's queries into workgroup memory.
  let half = D / 2u;
  for (var idx = lid; idx < group * half; idx += WG) {
    let hh = idx / half;
    let i = idx % half;
    let p = ropePair(i);
    let c = step.rope[i];
    let sn = step.rope[half + i];
    let src = (g * group + hh) * D;
    let x0 = q[src + p.x];
    let x1 = q[src + p.y];
    qs[hh * D + p.x] = (x0 * c - x1 * sn) * SCALE;
    qs[hh * D + p.y] = (x1 * c + x0 * sn) * SCALE;
  }
  if (lid < valid) {
    let slot = first + lid;
    let page = blockTables[((step.seq * MAX_PAGES + slot / PAGE) * NUM_LAYERS + layer.index) * NUM_KV_HEADS + g];
    slotBase[lid] = page * 2u * PAGE * D + (slot % PAGE) * D;
  }
  workgroupBarrier();

  // One slot per thread: its logit for every head of the group.
  if (lid < valid) {
    let base = slotBase[lid];
    for (var hh = 0u; hh < group; hh++) {
      var dot = 0.0;
      for (var i = 0u; i < D; i++) {
        dot += qs[hh * D + i] * pages[base + i];
      }
      probs[hh * CHUNK + lid] = dot;
    }
  }
  workgroupBarrier();

  if (lid < group) {
    var mx = NEG_BIG;
    for (var j = 0u; j < valid; j++) {
      mx = max(mx, probs[lid * CHUNK + j]);
    }
    chunkMax[lid] = mx;
  }
  workgroupBarrier();

  for (var idx = lid; idx < group * CHUNK; idx += WG) {
    if (idx % CHUNK < valid) {
      probs[idx] = exp(probs[idx] - chunkMax[idx / CHUNK]);
    }
  }
  workgroupBarrier();

  // Probability-weighted values; thread (head, dim) reads V coalesced across dims.
  for (var idx = lid; idx < group * D; idx += WG) {
    let hh = idx / D;
    let i = idx % D;
    var a = 0.0;
    for (var j = 0u; j < valid; j++) {
      a += probs[hh * CHUNK + j] * pages[slotBase[j] + PAGE * D + i];
    }
    partials[((g * group + hh) * MAX_SPLITS + s) * D + i] = a;
  }
  if (lid < group) {
    var sum = 0.0;
    for (var j = 0u; j < valid; j++) {
      sum += probs[lid * CHUNK + j];
    }
    let ml = mlIndex(g * group + lid, s);
    partials[ml] = chunkMax[lid];
    partials[ml + 1u] = sum;
  }
}

@compute @workgroup_size(64)
fn reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = NUM_HEADS / NUM_KV_HEADS;
  let h = wid.x;
  let numSplits = (totalSlots(h / group) + CHUNK - 1u) / CHUNK;
  var m = NEG_BIG;
  for (var s = 0u; s < numSplits; s++) {
    m = max(m, partials[mlIndex(h, s)]);
  }
  var l = 0.0;
  for (var s = 0u; s < numSplits; s++) {
    let ml = mlIndex(h, s);
    l += partials[ml + 1u] * exp(partials[ml] - m);
  }
  for (var i = lid; i < D; i += WG) {
    var o = 0.0;
    for (var s = 0u; s < numSplits; s++) {
      o += partials[(h * MAX_SPLITS + s) * D + i] * exp(partials[mlIndex(h, s)] - m);
    }
    out[h * D + i] = o / l;
  }
}
