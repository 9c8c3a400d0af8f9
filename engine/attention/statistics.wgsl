// Attention statistics for the policies that ask for them (H2O, A2SF, Recycled Attention): per (KV head, cached
// slot) the probability mass the step's queries gave the slot, summed over the query heads of the KV group.
// Runs after the layer's attention and commit (counts include this step's tokens), recomputing q.k rather than
// storing every logit during attention: the attention kernels stay as fast as before when no policy asks.
//
//   decode:  stats[g][s] = sum_{h in g} exp(l_hs - M_h) / L_h, with M_h, L_h merged from the decode partials
//   prefill: stats[g][s] = sum_i w_i sum_{h in g} P_h[i][s], causal, w_i = a^(n-1-i) (a = 1: plain column sums)
//   logits (decode): stats[g][s] = max_{h in g} scale * q_h . k_s (TidalDecode's selection score)
//
// Binding layout
//   @group(0) static per layer:
//     0 step        storage read        Step: seq slot, start position, n, cos [n][D/2], sin [n][D/2]
//     1 layer       uniform             LayerParams: the layer index
//     2 pages       storage read        the layer's arena: [page][K|V][PAGE][D] in the KV dtype (engine/wgsl kv-read)
//     3 positions   storage read        [page][PAGE] u32 true positions (prefill only)
//     4 blockTables storage read        [seq][MAX_PAGES][NUM_LAYERS][NUM_KV_HEADS] u32
//     5 counts      storage read        [seq][NUM_LAYERS][NUM_KV_HEADS] u32 slots cached, this step's included
//     6 partials    storage read        the decode kernel's (max, sum) per (head, split) (decodeRows only)
//     7 stats       storage read_write  [NUM_KV_HEADS][STRIDE] f32, written for slots < count
//     8 rows        storage read_write  (max, sum) per query row: [NUM_HEADS][MAX_ROWS][2] f32 (decodeRows writes
//                                       row 0; prefill attention writes a chunk's rows)
//     9 decay       storage read        [NUM_LAYERS] f32: the prefill row weight base a per layer
//   @group(1):
//     0 q           storage read        [n][NUM_HEADS * D] f32, not rotated
// Dispatch: decodeRows (NUM_HEADS); decodeColumns and decodeLogits (ceil(count / 64), NUM_KV_HEADS);
//           prefillColumns (ceil(count / 64), NUM_KV_HEADS), after prefill attention wrote the rows' max and sum.

override D: u32;
override NUM_HEADS: u32;
override NUM_KV_HEADS: u32;
override NUM_LAYERS: u32;
override PAGE: u32;
override MAX_PAGES: u32;
override MAX_SPLITS: u32;
override MAX_ROWS: u32;
override STRIDE: u32;
override INTERLEAVED: bool;
override SCALE: f32;
// GROUP * D, set by the host (workgroup arrays are sized by a single override).
override Q_FLOATS: u32;

const WG: u32 = 64u;
// The decode kernel's slots per split (CHUNK in decode-attention.wgsl): how its partials are laid out.
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
@group(0) @binding(3) var<storage, read> positions: array<u32>;
@group(0) @binding(4) var<storage, read> blockTables: array<u32>;
@group(0) @binding(5) var<storage, read> counts: array<u32>;
@group(0) @binding(6) var<storage, read> partials: array<f32>;
@group(0) @binding(7) var<storage, read_write> stats: array<f32>;
@group(0) @binding(8) var<storage, read_write> rows: array<f32>;
@group(0) @binding(9) var<storage, read> decay: array<f32>;
@group(1) @binding(0) var<storage, read> q: array<f32>;

var<workgroup> qs: array<f32, Q_FLOATS>;

//#include rope
//#include decode-query
//#include staged-dot

fn slotCount(g: u32) -> u32 {
  return counts[(step.seq * NUM_LAYERS + layer.index) * NUM_KV_HEADS + g];
}

/** Offset of slot `slot`'s key in the arena; its value follows PAGE * D floats later. */
fn keyBase(g: u32, slot: u32) -> u32 {
  let page = blockTables[((step.seq * MAX_PAGES + slot / PAGE) * NUM_LAYERS + layer.index) * NUM_KV_HEADS + g];
  return page * 2u * PAGE * D + (slot % PAGE) * D;
}

fn positionOf(g: u32, slot: u32) -> u32 {
  let page = blockTables[((step.seq * MAX_PAGES + slot / PAGE) * NUM_LAYERS + layer.index) * NUM_KV_HEADS + g];
  return positions[page * PAGE + slot % PAGE];
}

fn rowIndex(h: u32, i: u32) -> u32 {
  return (h * MAX_ROWS + i) * 2u;
}

/** scale * (rotated q of row t, head h) . key at `base`, with the same operations as the attention kernels. */
fn logit(t: u32, h: u32, base: u32) -> f32 {
  let half = D / 2u;
  var dot = 0.0;
  for (var i = 0u; i < half; i++) {
    let p = ropePair(i);
    let c = step.rope[t * half + i];
    let sn = step.rope[step.n * half + t * half + i];
    let src = t * NUM_HEADS * D + h * D;
    let x0 = q[src + p.x];
    let x1 = q[src + p.y];
    dot += (x0 * c - x1 * sn) * SCALE * kvLoad(base + p.x) + (x1 * c + x0 * sn) * SCALE * kvLoad(base + p.y);
  }
  return dot;
}

// decode-query's inputs at decode (n = 1): row 0 of q and the step's one RoPE row.
fn queryAt(h: u32, i: u32) -> f32 {
  return q[h * D + i];
}

fn ropeCos(i: u32) -> f32 {
  return step.rope[i];
}

fn ropeSin(i: u32) -> f32 {
  return step.rope[D / 2u + i];
}

// Decode: the global max and sum of head h, merged from the split partials as the reduce pass merges them.
@compute @workgroup_size(64)
fn decodeRows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = NUM_HEADS / NUM_KV_HEADS;
  let h = wid.x;
  if (lid != 0u) {
    return;
  }
  let numSplits = (slotCount(h / group) + CHUNK - 1u) / CHUNK;
  let ml = NUM_HEADS * MAX_SPLITS * D + h * MAX_SPLITS * 2u;
  var m = NEG_BIG;
  for (var s = 0u; s < numSplits; s++) {
    m = max(m, partials[ml + s * 2u]);
  }
  var l = 0.0;
  for (var s = 0u; s < numSplits; s++) {
    l += partials[ml + s * 2u + 1u] * exp(partials[ml + s * 2u] - m);
  }
  rows[rowIndex(h, 0u)] = m;
  rows[rowIndex(h, 0u) + 1u] = l;
}

// Decode: one slot per thread, the group's rotated queries in workgroup memory.
@compute @workgroup_size(64)
fn decodeColumns(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = NUM_HEADS / NUM_KV_HEADS;
  let g = wid.y;
  stageQuery(g, lid);
  workgroupBarrier();
  let slot = wid.x * WG + lid;
  if (slot >= slotCount(g)) {
    return;
  }
  let base = keyBase(g, slot);
  var mass = 0.0;
  for (var hh = 0u; hh < group; hh++) {
    let dot = stagedDot(hh, base);
    let r = rowIndex(g * group + hh, 0u);
    mass += exp(dot - rows[r]) / rows[r + 1u];
  }
  stats[g * STRIDE + slot] = mass;
}

// Decode logits: one slot per thread, the max over the group's heads of its scaled logit.
@compute @workgroup_size(64)
fn decodeLogits(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = NUM_HEADS / NUM_KV_HEADS;
  let g = wid.y;
  stageQuery(g, lid);
  workgroupBarrier();
  let slot = wid.x * WG + lid;
  if (slot >= slotCount(g)) {
    return;
  }
  let base = keyBase(g, slot);
  var best = NEG_BIG;
  for (var hh = 0u; hh < group; hh++) {
    let dot = stagedDot(hh, base);
    best = max(best, dot);
  }
  stats[g * STRIDE + slot] = best;
}

// Prefill: one slot per thread; its column of every head's probability matrix, rows weighted a^(n-1-i).
@compute @workgroup_size(64)
fn prefillColumns(@builtin(global_invocation_id) gid: vec3<u32>) {
  let group = NUM_HEADS / NUM_KV_HEADS;
  let g = gid.y;
  let slot = gid.x;
  if (slot >= slotCount(g)) {
    return;
  }
  let base = keyBase(g, slot);
  let position = positionOf(g, slot);
  let a = decay[layer.index];
  var mass = 0.0;
  for (var t = 0u; t < step.n; t++) {
    if (position > step.start + t) {
      continue;
    }
    var row = 0.0;
    for (var hh = 0u; hh < group; hh++) {
      let h = g * group + hh;
      let r = rowIndex(h, t);
      row += exp(logit(t, h, base) - rows[r]) / rows[r + 1u];
    }
    mass += pow(a, f32(step.n - 1u - t)) * row;
  }
  stats[g * STRIDE + slot] = mass;
}
