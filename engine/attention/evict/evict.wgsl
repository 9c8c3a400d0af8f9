// Eviction on the paged KV cache, decided on the GPU (no readback): the running scores of the evicting policies
// (accumulate) and the eviction itself (evict), which keeps the `sinks` oldest positions, the `recent` newest and the
// `top` best-scored others, and frees the rest by moving the head's last slot into each evicted slot.
//
// Why move-the-last: slot order never matters to attention (true positions travel with the keys for RoPE and the
// causal test), so evicting one slot costs one slot's copy (K, V, position, score), never a compaction of the head;
// a decode step evicts one token per (layer, KV head). The kept slots end up in [0, kept), so the CPU frees the tail
// pages after the step (cache.truncate) without reading anything back.
//
// Binding layout (per layer; the policy's buffers at 6-8):
//   0 pages       storage read_write  the layer's arena: [page][K|V][PAGE][D] in the KV dtype (engine/wgsl kv-write) (evict only)
//   1 positions   storage read_write  [page][PAGE] u32 true positions
//   2 blockTables storage read        [seq][MAX_PAGES][NUM_LAYERS][NUM_KV_HEADS] u32
//   3 counts      storage read_write  [seq][NUM_LAYERS][NUM_KV_HEADS] u32 (read only by accumulate)
//   4 params      uniform             Params: the step and the keep rule
//   5 layer       uniform             the layer index
//   6 scores      storage read_write  [NUM_LAYERS][NUM_KV_HEADS][STRIDE] f32 running scores by slot
//   7 stats       storage read        [NUM_KV_HEADS][STRIDE] f32 this layer's statistics (accumulate only)
//   8 forgetting  storage read        [NUM_LAYERS] f32 per-layer forgetting factor a (1 for H2O) (accumulate only)
//   9 undoLog     storage read_write  [UNDO_STEPS][NUM_LAYERS][NUM_KV_HEADS][LOG_STRIDE] f32: per decode step (ring
//                                     slot params.ring), what undo needs: [0] victim slot (as an f32 number, exact
//                                     below 2^24; -1: none), [1] its true position (likewise), [4, 4 + D) its K,
//                                     [4 + D, 4 + 2D) its V, then the scores of the slots held before the step
//  10 undoParams  uniform             UndoParams (undo only)
// Dispatch: accumulate (ceil(count / 64), NUM_KV_HEADS) after a layer's statistics; evict (NUM_KV_HEADS) per layer
// after the step's last layer; undo (NUM_KV_HEADS) per layer, one submit per dropped step, the newest first.
//
// Undo (decode steps encoded ahead past a stop, then dropped): a decode step changes a head by appending its token
// at slot `held`, adding to the scores of the slots before it, and (when over the budget) moving the last slot
// over one victim. Logging the victim and the old scores lets undo put the head back exactly: the victim's K, V and
// position go back into its slot, the scores of the slots held before go back, and the count (the CPU's truncate)
// drops the step's own token.

override D: u32;
override NUM_KV_HEADS: u32;
override NUM_LAYERS: u32;
override PAGE: u32;
override MAX_PAGES: u32;
override STRIDE: u32;
override LOG_STRIDE: u32;

const WG: u32 = 64u;
const NONE: u32 = 0xffffffffu;

struct Params {
  seq: u32,
  // Tokens of this step: the slots [count - n, count) are new (their score starts from 0).
  n: u32,
  // True position of the step's last token: the recent window is (newest - recent, newest].
  newest: u32,
  sinks: u32,
  top: u32,
  recent: u32,
  // The undo log's slot for this step, and whether to log (1: a decode step, whose undo may be asked for).
  ring: u32,
  log: u32,
}

struct UndoParams {
  seq: u32,
  ring: u32,
  // Slots the head held before the step being undone.
  held: u32,
  // 1: restore the scores too (the scored policies; StreamingLLM keeps none).
  scored: u32,
}

struct LayerParams {
  index: u32,
  pad0: u32,
  pad1: u32,
  pad2: u32,
}

@group(0) @binding(0) var<storage, read_write> pages: array<KvWord>;
@group(0) @binding(1) var<storage, read_write> positions: array<u32>;
@group(0) @binding(2) var<storage, read> blockTables: array<u32>;
@group(0) @binding(3) var<storage, read_write> counts: array<u32>;
@group(0) @binding(4) var<uniform> params: Params;
@group(0) @binding(5) var<uniform> layer: LayerParams;
@group(0) @binding(6) var<storage, read_write> scores: array<f32>;
@group(0) @binding(7) var<storage, read> stats: array<f32>;
@group(0) @binding(8) var<storage, read> forgetting: array<f32>;
@group(0) @binding(9) var<storage, read_write> undoLog: array<f32>;
@group(0) @binding(10) var<uniform> undoParams: UndoParams;

var<workgroup> bestScore: array<f32, WG>;
var<workgroup> bestPosition: array<u32, WG>;
var<workgroup> bestSlot: array<u32, WG>;
var<workgroup> headCount: u32;


// K/V moves in the cache's dtype; the undo log keeps values as f32 (exact for f16 pages).
//#include kv-write

fn countIndex(g: u32) -> u32 {
  return (params.seq * NUM_LAYERS + layer.index) * NUM_KV_HEADS + g;
}

fn pageOf(g: u32, slot: u32) -> u32 {
  return blockTables[((params.seq * MAX_PAGES + slot / PAGE) * NUM_LAYERS + layer.index) * NUM_KV_HEADS + g];
}

fn scoreIndex(g: u32, slot: u32) -> u32 {
  return (layer.index * NUM_KV_HEADS + g) * STRIDE + slot;
}

fn logBase(ring: u32, g: u32) -> u32 {
  return ((ring * NUM_LAYERS + layer.index) * NUM_KV_HEADS + g) * LOG_STRIDE;
}

// score = a^n * score + this step's (row-weighted) probability mass; a new slot starts from 0.
@compute @workgroup_size(64)
fn accumulate(@builtin(global_invocation_id) gid: vec3<u32>) {
  let g = gid.y;
  let slot = gid.x;
  let count = counts[countIndex(g)];
  if (slot >= count) {
    return;
  }
  let i = scoreIndex(g, slot);
  var old = 0.0;
  if (slot + params.n < count) {
    let before = scores[i];
    if (params.log != 0u) {
      undoLog[logBase(params.ring, g) + 4u + 2u * D + slot] = before;
    }
    old = before * pow(forgetting[layer.index], f32(params.n));
  }
  scores[i] = old + stats[g * STRIDE + slot];
}

/** True when (score, position) is a better victim than the best so far: lower score; on a tie the newer token. */
fn worse(score: f32, position: u32, than: f32, thanPosition: u32, thanSlot: u32) -> bool {
  if (thanSlot == NONE) {
    return true;
  }
  return score < than || (score == than && position > thanPosition);
}

@compute @workgroup_size(64)
fn evict(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x;
  if (lid == 0u) {
    headCount = counts[countIndex(g)];
  }
  let count = workgroupUniformLoad(&headCount);
  let keep = params.sinks + params.top + params.recent;
  let logged = params.log != 0u;
  if (logged && lid == 0u) {
    undoLog[logBase(params.ring, g)] = -1.0;
  }
  if (count <= keep) {
    return;
  }
  for (var held = count; held > keep; held--) {
    // Each thread's best victim among its slots; protected: the sinks and the recent window, by true position.
    var score = 0.0;
    var position = 0u;
    var slot = NONE;
    for (var s = lid; s < held; s += WG) {
      let page = pageOf(g, s);
      let p = positions[page * PAGE + s % PAGE];
      if (p < params.sinks || p + params.recent > params.newest) {
        continue;
      }
      let sc = scores[scoreIndex(g, s)];
      if (worse(sc, p, score, position, slot)) {
        score = sc;
        position = p;
        slot = s;
      }
    }
    bestScore[lid] = score;
    bestPosition[lid] = position;
    bestSlot[lid] = slot;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
      if (lid < stride) {
        let o = lid + stride;
        if (bestSlot[o] != NONE && worse(bestScore[o], bestPosition[o], bestScore[lid], bestPosition[lid], bestSlot[lid])) {
          bestScore[lid] = bestScore[o];
          bestPosition[lid] = bestPosition[o];
          bestSlot[lid] = bestSlot[o];
        }
      }
      workgroupBarrier();
    }
    let victim = bestSlot[0];
    let last = held - 1u;
    if (victim != NONE && victim != last) {
      let srcPage = pageOf(g, last);
      let dstPage = pageOf(g, victim);
      let srcBase = srcPage * 2u * PAGE * D + (last % PAGE) * D;
      let dstBase = dstPage * 2u * PAGE * D + (victim % PAGE) * D;
      // A decode step evicts one slot: log what is overwritten (each thread reads its channels before it writes them;
      // thread 0 logs the position before it moves the last slot's).
      if (logged) {
        let base = logBase(params.ring, g);
        for (var i = lid; i < D / 2u; i += WG) {
          let e = 2u * i;
          let k = kvLoad2(dstBase + e);
          let v = kvLoad2(dstBase + PAGE * D + e);
          undoLog[base + 4u + e] = k.x;
          undoLog[base + 5u + e] = k.y;
          undoLog[base + 4u + D + e] = v.x;
          undoLog[base + 5u + D + e] = v.y;
        }
        if (lid == 0u) {
          undoLog[base] = f32(victim);
          undoLog[base + 1u] = f32(positions[dstPage * PAGE + victim % PAGE]);
        }
      }
      // Pairs of dims: a word of a packed f16 page (its values round-trip exactly through f32).
      for (var i = lid; i < D / 2u; i += WG) {
        let e = 2u * i;
        kvStore2(dstBase + e, kvLoad2(srcBase + e));
        kvStore2(dstBase + PAGE * D + e, kvLoad2(srcBase + PAGE * D + e));
      }
      if (lid == 0u) {
        positions[dstPage * PAGE + victim % PAGE] = positions[srcPage * PAGE + last % PAGE];
        scores[scoreIndex(g, victim)] = scores[scoreIndex(g, last)];
      }
    }
    // The next round reads the moved slot: make this round's storage writes visible to the whole workgroup.
    storageBarrier();
    workgroupBarrier();
  }
  if (lid == 0u) {
    counts[countIndex(g)] = keep;
  }
}

// Puts one head back as it was before the logged step undoParams.ring (see the header); the CPU then truncates the
// count to undoParams.held.
@compute @workgroup_size(64)
fn undo(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x;
  let base = logBase(undoParams.ring, g);
  let logged = undoLog[base];
  let victim = u32(max(logged, 0.0));
  let held = undoParams.held;
  if (logged >= 0.0 && victim < held) {
    let page = blockTables[((undoParams.seq * MAX_PAGES + victim / PAGE) * NUM_LAYERS + layer.index) * NUM_KV_HEADS + g];
    let at = page * 2u * PAGE * D + (victim % PAGE) * D;
    for (var i = lid; i < D / 2u; i += WG) {
      let e = 2u * i;
      kvStore2(at + e, vec2<f32>(undoLog[base + 4u + e], undoLog[base + 5u + e]));
      kvStore2(at + PAGE * D + e, vec2<f32>(undoLog[base + 4u + D + e], undoLog[base + 5u + D + e]));
    }
    if (lid == 0u) {
      positions[page * PAGE + victim % PAGE] = u32(undoLog[base + 1u]);
    }
  }
  if (undoParams.scored != 0u) {
    for (var s = lid; s < held; s += WG) {
      scores[scoreIndex(g, s)] = undoLog[base + 4u + 2u * D + s];
    }
  }
}
