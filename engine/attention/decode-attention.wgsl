// Decode attention (flash-decoding): one new query per head over all of a sequence's cached slots, split into
// chunks of CHUNK slots so long contexts spread over many workgroups (split), then merged per head (reduce).
//
// Binding layout
//   @group(0) static per layer:
//     0 step        storage read        Step: seq slot, start position, n = 1, cos [1][D/2], sin [1][D/2]
//     1 layer       uniform             LayerParams: the layer index
//     2 pages       storage read        the layer's arena: [page][K|V][PAGE][D] in the KV dtype (engine/wgsl kv-read) (split only)
//     4 blockTables storage read        [seq][MAX_PAGES][NUM_LAYERS][NUM_KV_HEADS] u32 (split only)
//     5 counts      storage read        [seq][NUM_LAYERS][NUM_KV_HEADS] u32 slots cached before this token
//     6 partials    storage read_write  acc [NUM_HEADS][MAX_SPLITS][D] f32, then (max, sum) [NUM_HEADS][MAX_SPLITS][2]
//   @group(1):
//     0 q           storage read        [1][NUM_HEADS * D] f32, not rotated (split only)
//     1 out         storage read_write  [1][NUM_HEADS * D] f32 (reduce only)
// Dispatch: split (number of chunks, NUM_KV_HEADS), a workgroup serving the GROUP query heads of one KV head so
// each key and value is read once for the whole group; reduce (NUM_HEADS).
// Query staging, the split and the merge are engine/wgsl's decode-query, decode-chunk and split-reduce.

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

// Threads per workgroup: the decode-chunk variant's (decodeWorkgroupSize in constants.ts).
override WG: u32;
// Slots per chunk (DECODE_CHUNK).
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
@group(0) @binding(2) var<storage, read> pages: array<KvWord>;
@group(0) @binding(4) var<storage, read> blockTables: array<u32>;
@group(0) @binding(5) var<storage, read> counts: array<u32>;
@group(0) @binding(6) var<storage, read_write> partials: array<f32>;
@group(1) @binding(0) var<storage, read> q: array<f32>;
@group(1) @binding(1) var<storage, read_write> out: array<f32>;

var<workgroup> qs: array<f32, Q_FLOATS>;
var<workgroup> slotBase: array<u32, CHUNK>;

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
  return false;
}

//#include decode-query
//#include decode-chunk

fn totalSlots(g: u32) -> u32 {
  return counts[(step.seq * NUM_LAYERS + layer.index) * NUM_KV_HEADS + g] + step.n;
}

@compute @workgroup_size(WG)
fn split(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let s = wid.x;
  let g = wid.y;
  let total = totalSlots(g);
  let first = s * CHUNK;
  let valid = min(total - min(first, total), CHUNK);
  stageQuery(g, lid);
  beginSplit(lid);
  if (lid < valid) {
    let slot = first + lid;
    let page = blockTables[((step.seq * MAX_PAGES + slot / PAGE) * NUM_LAYERS + layer.index) * NUM_KV_HEADS + g];
    slotBase[lid] = page * 2u * PAGE * D + (slot % PAGE) * D;
  }
  workgroupBarrier();
  attendChunk(valid, lid);
  endSplit(g, s, lid);
}

@compute @workgroup_size(WG)
fn reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = NUM_HEADS / NUM_KV_HEADS;
  let h = wid.x;
  mergeSplits(h, (totalSlots(h / group) + CHUNK - 1u) / CHUNK, lid);
}
