// Decode attention over a policy's list (selecting policies: Quest's pages, TidalDecode's, Double Sparsity's, FASA's
// and Recycled Attention's tokens): decode-attention.wgsl's split and reduce, reading the slots a list names instead
// of all of them. A list names older slots (LIST_KIND 1: cache slots; 2: logical pages, every filled slot of each);
// the step's own new token (its page, for page lists) is always attended besides, and a list entry equal to it is
// skipped, so policies need not add it. Entries must be distinct; order does not matter.
//
// Binding layout: as decode-attention.wgsl, plus
//   @group(1):
//     0 q           storage read        [1][NUM_HEADS * D] f32, not rotated (splitList only)
//     1 out         storage read_write  [1][NUM_HEADS * D] f32 (reduceList only)
//     2 indices     storage read        [NUM_KV_HEADS][MAX_PER_HEAD] u32 slots or pages (splitList only)
//     3 lengths     storage read        [NUM_KV_HEADS] u32 entries per KV head
// Dispatch: splitList (ceil(virtual slots / CHUNK), NUM_KV_HEADS), virtual slots = MAX_PER_HEAD + 1 (tokens) or
// (MAX_PER_HEAD + 1) * PAGE (pages); reduceList (NUM_HEADS).

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
// 1: the list names cache slots; 2: logical pages.
override LIST_KIND: u32;
override MAX_PER_HEAD: u32;

const WG: u32 = 64u;
// Slots per split: one per thread of the workgroup.
const CHUNK: u32 = 64u;
const NEG_BIG: f32 = -1.0e30;
const NONE: u32 = 0xffffffffu;

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
@group(1) @binding(2) var<storage, read> indices: array<u32>;
@group(1) @binding(3) var<storage, read> lengths: array<u32>;

var<workgroup> qs: array<f32, Q_FLOATS>;
var<workgroup> probs: array<f32, SCORE_FLOATS>;
var<workgroup> slotBase: array<u32, CHUNK>;
var<workgroup> chunkMax: array<f32, WG>;
var<workgroup> skipped: array<u32, CHUNK>;

//#include rope

fn totalSlots(g: u32) -> u32 {
  return counts[(step.seq * NUM_LAYERS + layer.index) * NUM_KV_HEADS + g] + step.n;
}

/** Entries of head g's virtual slot sequence: its list plus the new token, or its pages plus the newest page. */
fn virtualSlots(g: u32) -> u32 {
  if (LIST_KIND == 2u) {
    return (lengths[g] + 1u) * PAGE;
  }
  return lengths[g] + 1u;
}

/** The cache slot of virtual entry v of head g, or NONE when it is skipped (the new token listed, past the end). */
fn slotAt(g: u32, v: u32) -> u32 {
  let total = totalSlots(g);
  let newSlot = total - 1u;
  let length = lengths[g];
  if (LIST_KIND == 2u) {
    let i = v / PAGE;
    var page = newSlot / PAGE;
    if (i < length) {
      page = indices[g * MAX_PER_HEAD + i];
      if (page == newSlot / PAGE) {
        return NONE;
      }
    }
    let slot = page * PAGE + v % PAGE;
    if (slot >= total) {
      return NONE;
    }
    return slot;
  }
  if (v >= length) {
    return newSlot;
  }
  let slot = indices[g * MAX_PER_HEAD + v];
  if (slot >= newSlot) {
    return NONE;
  }
  return slot;
}

fn mlIndex(h: u32, s: u32) -> u32 {
  return NUM_HEADS * MAX_SPLITS * D + (h * MAX_SPLITS + s) * 2u;
}

@compute @workgroup_size(64)
fn splitList(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = NUM_HEADS / NUM_KV_HEADS;
  let s = wid.x;
  let g = wid.y;
  let total = virtualSlots(g);
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
    let slot = slotAt(g, first + lid);
    // A skipped entry reads slot 0 of page 0 (finite memory) with probability 0.
    skipped[lid] = select(0u, 1u, slot == NONE);
    slotBase[lid] = 0u;
    if (slot != NONE) {
      let page = blockTables[((step.seq * MAX_PAGES + slot / PAGE) * NUM_LAYERS + layer.index) * NUM_KV_HEADS + g];
      slotBase[lid] = page * 2u * PAGE * D + (slot % PAGE) * D;
    }
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
      probs[hh * CHUNK + lid] = select(dot, NEG_BIG, skipped[lid] == 1u);
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
      probs[idx] = select(exp(probs[idx] - chunkMax[idx / CHUNK]), 0.0, skipped[idx % CHUNK] == 1u);
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
fn reduceList(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = NUM_HEADS / NUM_KV_HEADS;
  let h = wid.x;
  let numSplits = (virtualSlots(h / group) + CHUNK - 1u) / CHUNK;
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
