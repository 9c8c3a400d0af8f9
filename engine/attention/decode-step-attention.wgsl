// Dense decode attention of one layer as the decoder's single-pass step runs it (engine/decode): from the fused
// q/k/v projection's raw output to the attention output, in 1 dispatch at short context (attend) or 2 (appendSplit,
// reduceCommit): qwen3's per-head q/k RMSNorm, RoPE, the K/V append (and true position), split attention over the
// paged cache, the merge, and the cached-token count commit, all inside the kernels so the step needs no pass break.
// Policies keep append.wgsl + decode(-list)-attention.wgsl (their hooks run between passes); query staging, the
// split and the merge are shared with them (engine/wgsl: decode-query, decode-chunk, split-reduce).
//
// Binding layout
//   @group(0) static per layer (built once by PagedAttention):
//     0 step        uniform             DecodeStep: seq slot, start position, n = 1, cos [D/2] then sin [D/2]
//     1 layer       uniform             LayerParams: the layer index
//     2 pages       storage read_write  the layer's arena: [page][K|V][PAGE][D] in the KV dtype (engine/wgsl kv-write)
//     3 positions   storage read_write  [page][PAGE] u32 true positions
//     4 blockTables storage read        [seq][MAX_PAGES][NUM_LAYERS][NUM_KV_HEADS] u32 arena page ids
//     5 counts      storage read_write  [seq][NUM_LAYERS][NUM_KV_HEADS] u32 slots cached before this token
//     6 partials    storage read_write  split-reduce partials
//   @group(1) the decoder's buffers:
//     0 qkv         storage read        q [NUM_HEADS * D] at 0, k at K_OFFSET, v at V_OFFSET: f32, not rotated
//     1 out         storage read_write  [NUM_HEADS * D] f32
//     2 qkNorm      storage read        [q_norm D; k_norm D] f32 (QK_NORM; else a placeholder)
// Dispatch: attend (1, NUM_KV_HEADS): one workgroup per KV head walks every chunk as one split and commits;
// appendSplit (ceil(chunks / chunksPerSplit), NUM_KV_HEADS), each split a run of chunks, then reduceCommit (NUM_KV_HEADS). The new slot is appended by the workgroup
// whose chunk holds it, before it reads the chunk (storageBarrier): no other workgroup reads that slot. The count is
// committed by the one workgroup per KV head that reads it last.

override D: u32;
override NUM_HEADS: u32;
override NUM_KV_HEADS: u32;
override NUM_LAYERS: u32;
override PAGE: u32;
override MAX_PAGES: u32;
override MAX_SPLITS: u32;
override INTERLEAVED: bool;
override SCALE: f32;
override Q_FLOATS: u32;
override SCORE_FLOATS: u32;
override K_OFFSET: u32;
override V_OFFSET: u32;
override QK_NORM: bool = false;
override EPS: f32 = 1e-6;

// Threads per workgroup: the decode-chunk variant's (decodeWorkgroupSize in constants.ts).
override WG: u32;
const CHUNK: u32 = 64u;
const NEG_BIG: f32 = -1.0e30;
// MAX_HEAD_DIM / 4 (engine/attention/constants.ts): the RoPE row as vec4s.
const ROPE_VEC4S: u32 = 64u;

struct DecodeStep {
  seq: u32,
  start: u32,
  n: u32,
  pad: u32,
  rope: array<vec4<f32>, ROPE_VEC4S>,
}

struct LayerParams {
  index: u32,
  pad0: u32,
  pad1: u32,
  pad2: u32,
}

@group(0) @binding(0) var<uniform> step: DecodeStep;
@group(0) @binding(1) var<uniform> layer: LayerParams;
@group(0) @binding(2) var<storage, read_write> pages: array<KvWord>;
@group(0) @binding(3) var<storage, read_write> positions: array<u32>;
@group(0) @binding(4) var<storage, read> blockTables: array<u32>;
@group(0) @binding(5) var<storage, read_write> counts: array<u32>;
@group(0) @binding(6) var<storage, read_write> partials: array<f32>;
@group(1) @binding(0) var<storage, read> qkv: array<f32>;
@group(1) @binding(1) var<storage, read_write> out: array<f32>;
@group(1) @binding(2) var<storage, read> qkNorm: array<f32>;

var<workgroup> qs: array<f32, Q_FLOATS>;
var<workgroup> slotBase: array<u32, CHUNK>;
// 1 / rms of each query head of the group and (at MAX_GROUP) of the key head (QK_NORM).
var<workgroup> headScale: array<f32, MAX_GROUP + 1u>;
var<workgroup> slotsShared: u32;

fn ropeAt(i: u32) -> f32 {
  return step.rope[i / 4u][i % 4u];
}

fn ropeCos(i: u32) -> f32 {
  return ropeAt(i);
}

fn ropeSin(i: u32) -> f32 {
  return ropeAt(D / 2u + i);
}

fn queryAt(h: u32, i: u32) -> f32 {
  let x = qkv[h * D + i];
  if (QK_NORM) {
    return qkNorm[i] * (x * headScale[h % (NUM_HEADS / NUM_KV_HEADS)]);
  }
  return x;
}

fn keyAt(g: u32, i: u32) -> f32 {
  let x = qkv[K_OFFSET + g * D + i];
  if (QK_NORM) {
    return qkNorm[D + i] * (x * headScale[MAX_GROUP]);
  }
  return x;
}

fn slotSkipped(j: u32) -> bool {
  return false;
}

//#include decode-query
//#include decode-chunk
//#include kv-write

fn countIndex(g: u32) -> u32 {
  return (step.seq * NUM_LAYERS + layer.index) * NUM_KV_HEADS + g;
}

// Slots of KV head g with this token: read once, as a workgroup-uniform value (counts is read_write, so a plain
// load would not be uniform, and the chunk loops hold barriers). Call in uniform control flow.
fn totalSlots(g: u32, lid: u32) -> u32 {
  if (lid == 0u) {
    slotsShared = counts[countIndex(g)] + 1u;
  }
  return workgroupUniformLoad(&slotsShared);
}

fn slotOffset(g: u32, slot: u32) -> u32 {
  let page = blockTables[((step.seq * MAX_PAGES + slot / PAGE) * NUM_LAYERS + layer.index) * NUM_KV_HEADS + g];
  return page * 2u * PAGE * D + (slot % PAGE) * D;
}

// Qwen3's 1 / rms per query head of group g and of its key head (as transformers' Qwen3RMSNorm over head_dim).
// Call in uniform control flow.
fn headScales(g: u32, lid: u32) {
  if (!QK_NORM) {
    return;
  }
  let group = NUM_HEADS / NUM_KV_HEADS;
  if (lid < group || lid == MAX_GROUP) {
    var base = K_OFFSET + g * D;
    if (lid < group) {
      base = (g * group + lid) * D;
    }
    var s = 0.0;
    for (var i = 0u; i < D; i++) {
      s += qkv[base + i] * qkv[base + i];
    }
    headScale[lid] = 1.0 / sqrt(s / f32(D) + EPS);
  }
  workgroupBarrier();
}

// Element e of KV head g's key (q/k-normed), rotated by its angle.
fn rotatedKey(g: u32, e: u32) -> f32 {
  let f = ropeFrequency(e);
  return keyAt(g, e) * ropeCos(f) + ropeSign(e) * keyAt(g, ropePartner(e)) * ropeSin(f);
}

// Writes this token's rotated key, its value and its true position into slot `slot` of KV head g.
fn appendNewKey(g: u32, slot: u32, lid: u32) {
  let kBase = slotOffset(g, slot);
  let vBase = kBase + PAGE * D;
  // A pair of adjacent dims per thread: one word of a packed f16 page (append.wgsl's rule).
  for (var i = lid; i < D / 2u; i += WG) {
    let e = 2u * i;
    kvStore2(kBase + e, vec2<f32>(rotatedKey(g, e), rotatedKey(g, e + 1u)));
    kvStore2(vBase + e, vec2<f32>(qkv[V_OFFSET + g * D + e], qkv[V_OFFSET + g * D + e + 1u]));
  }
  if (lid == 0u) {
    let page = (kBase / D) / (2u * PAGE);
    positions[page * PAGE + slot % PAGE] = step.start;
  }
}

// Chunks [firstChunk, endChunk) of KV head g's `total` slots into the workgroup's split (beginSplit before). Uniform
// control flow.
fn attendChunks(g: u32, firstChunk: u32, endChunk: u32, total: u32, lid: u32) {
  for (var c = firstChunk; c < endChunk; c++) {
    let first = c * CHUNK;
    let valid = min(total - first, CHUNK);
    if (lid < valid) {
      slotBase[lid] = slotOffset(g, first + lid);
    }
    workgroupBarrier();
    attendChunk(valid, lid);
  }
}

@compute @workgroup_size(WG)
fn attend(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = wid.y;
  let total = totalSlots(g, lid);
  headScales(g, lid);
  appendNewKey(g, total - 1u, lid);
  stageQuery(g, lid);
  beginSplit(lid);
  storageBarrier();
  workgroupBarrier();
  // One split over every chunk: normalized straight into out, no merge.
  attendChunks(g, 0u, (total + CHUNK - 1u) / CHUNK, total, lid);
  endSplitToOut(g, lid);
  if (lid == 0u) {
    counts[countIndex(g)] = total;
  }
}

// Split s of KV head g: chunks [s * cps, (s + 1) * cps) (cps = chunksPerSplit(total)); the split holding the new slot
// appends it first.
@compute @workgroup_size(WG)
fn appendSplit(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let s = wid.x;
  let g = wid.y;
  let total = totalSlots(g, lid);
  let cps = chunksPerSplit(total);
  headScales(g, lid);
  if (s == ((total - 1u) / CHUNK) / cps) {
    appendNewKey(g, total - 1u, lid);
  }
  stageQuery(g, lid);
  beginSplit(lid);
  storageBarrier();
  workgroupBarrier();
  attendChunks(g, s * cps, min(s * cps + cps, (total + CHUNK - 1u) / CHUNK), total, lid);
  endSplit(g, s, lid);
}

@compute @workgroup_size(WG)
fn reduceCommit(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x;
  let total = totalSlots(g, lid);
  let group = NUM_HEADS / NUM_KV_HEADS;
  let chunks = (total + CHUNK - 1u) / CHUNK;
  let cps = chunksPerSplit(total);
  for (var hh = 0u; hh < group; hh++) {
    mergeSplits(g * group + hh, (chunks + cps - 1u) / cps, lid);
  }
  workgroupBarrier();
  if (lid == 0u) {
    counts[countIndex(g)] = total;
  }
}
