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

// Threads per workgroup: the decode-chunk variant's (decodeWorkgroupSize in constants.ts).
override WG: u32;
// Slots per chunk (DECODE_CHUNK).
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
@group(0) @binding(2) var<storage, read> pages: array<KvWord>;
@group(0) @binding(4) var<storage, read> blockTables: array<u32>;
@group(0) @binding(5) var<storage, read> counts: array<u32>;
@group(0) @binding(6) var<storage, read_write> partials: array<f32>;
@group(1) @binding(0) var<storage, read> q: array<f32>;
@group(1) @binding(1) var<storage, read_write> out: array<f32>;
@group(1) @binding(2) var<storage, read> indices: array<u32>;
@group(1) @binding(3) var<storage, read> lengths: array<u32>;

var<workgroup> qs: array<f32, Q_FLOATS>;
var<workgroup> slotBase: array<u32, CHUNK>;
var<workgroup> skipped: array<u32, CHUNK>;

fn queryAt(h: u32, i: u32) -> f32 {
  return q[h * D + i];
}

fn ropeCos(i: u32) -> f32 {
  return step.rope[i];
}

fn ropeSin(i: u32) -> f32 {
  return step.rope[D / 2u + i];
}

fn slotSkipped(j: u32) -> bool {
  return skipped[j] == 1u;
}

//#include decode-query
//#include decode-chunk

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

@compute @workgroup_size(WG)
fn splitList(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let s = wid.x;
  let g = wid.y;
  let total = virtualSlots(g);
  let first = s * CHUNK;
  let valid = min(total - min(first, total), CHUNK);

  stageQuery(g, lid);
  beginSplit(lid);
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

  attendChunk(valid, lid);
  endSplit(g, s, lid);
}

@compute @workgroup_size(WG)
fn reduceList(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = NUM_HEADS / NUM_KV_HEADS;
  let h = wid.x;
  mergeSplits(h, (virtualSlots(h / group) + CHUNK - 1u) / CHUNK, lid);
}
