// WGSL library (//#include decode-chunk, the GPUs' variant: decodeLibrary(dtype, 'lanes')): one split of decode attention, a run of chunks of CHUNK cache slots against
// the staged queries of a GQA group, merged online (running max per head) and left as split-reduce partials, or
// normalized straight into `out` when one split is all. Shared by dense decode, decode over a list and the decoder's
// fused step.
// Why this shape (the H200 run of 2026-12-04 read KV at 2-5% of bandwidth, f16 no faster than f32: latency-bound):
// every phase runs on all WG threads with few dependent loads each. Logits: DOT_LANES adjacent threads per slot
// (staged-dot's lanes), so a warp reads 8 whole keys coalesced. Values: thread (pair p, lane sl) reads one word (two
// dims) of every SL-th slot's value once and accumulates it for all the group's heads in registers (vAcc) across the
// split's chunks, so each value word is loaded once per split for the whole group; the SL lanes meet once, at the
// split's end. The chunk max is a tree, not a serial walk. decode-chunk-serial.wgsl has the same functions for CPU
// adapters.
// Needs from the including kernel: overrides D, NUM_HEADS, NUM_KV_HEADS, MAX_SPLITS, PAGE, Q_FLOATS (group * D),
// SCORE_FLOATS (group * CHUNK), WG (= CHUNK * DOT_LANES); consts CHUNK (a power of two), NEG_BIG; `pages` (the
// layer's arena [page][K|V][PAGE][D] of KvWord, read through kv-read); workgroup arrays qs [group * D], slotBase
// [CHUNK] (each slot's K offset in `pages`, set before each chunk); `fn slotSkipped(j: u32) -> bool` (a slot of the
// chunk that counts with probability 0).
//#include split-reduce
//#include staged-dot

// Splits per KV head that a dense step keeps at most (chunksPerSplit); the host sets it for decode-step-attention.
override TARGET_SPLITS: u32 = 256u;

// Per (head, slot) of the chunk: the DOT_LANES parts of its logit; then (x) the max tree's scratch; at a split's end,
// read as f32s (scratchAt), the lanes' merged accumulators.
var<workgroup> dotParts: array<vec4<f32>, SCORE_FLOATS>;
// Per (head, slot): the chunk's logits, then exp(logit - running max); at a split's end, the sums per head.
var<workgroup> probs: array<f32, SCORE_FLOATS>;
var<workgroup> splitMax: array<f32, MAX_GROUP>;
// exp(old max - new max) of the chunk being merged, per head.
var<workgroup> splitScale: array<f32, MAX_GROUP>;

// This thread's share of the split's values and probability sums, per head of the group (value pair vPair() of
// every vLanes()-th slot from vLane()).
var<private> vAcc: array<vec2<f32>, MAX_GROUP>;
var<private> vSum: array<f32, MAX_GROUP>;

// Value dim pairs, one per thread of a lane; lanes of slots; the lane and pair of thread lid.
fn vLanes() -> u32 {
  return WG / (D / 2u);
}

fn vActive(lid: u32) -> bool {
  return lid < vLanes() * (D / 2u);
}

fn vPair(lid: u32) -> u32 {
  return lid % (D / 2u);
}

fn vLane(lid: u32) -> u32 {
  return lid / (D / 2u);
}

// Element idx of dotParts read as a flat f32 array (group * CHUNK * 4 of them, at least group * D: D <= 4 * CHUNK).
fn scratchSet(idx: u32, x: f32) {
  dotParts[idx / 4u][idx % 4u] = x;
}

fn scratchAdd(idx: u32, x: f32) {
  dotParts[idx / 4u][idx % 4u] += x;
}

fn scratchAt(idx: u32) -> f32 {
  return dotParts[idx / 4u][idx % 4u];
}

// Starts a split with no slots. Call in uniform control flow; attendChunk's first barrier orders it.
fn beginSplit(lid: u32) {
  let group = NUM_HEADS / NUM_KV_HEADS;
  for (var hh = 0u; hh < group; hh++) {
    vAcc[hh] = vec2<f32>(0.0);
    vSum[hh] = 0.0;
  }
  if (lid < group) {
    splitMax[lid] = NEG_BIG;
  }
}

// Merges the chunk's first `valid` slots (slotBase set, a barrier after) into the split. Uniform control flow; ends
// with a barrier, so the caller may set the next chunk's slotBase at once.
fn attendChunk(valid: u32, lid: u32) {
  let group = NUM_HEADS / NUM_KV_HEADS;
  // Logit parts: DOT_LANES adjacent threads per slot.
  let j = lid / DOT_LANES;
  let lane = lid % DOT_LANES;
  if (j < valid) {
    let base = slotBase[j];
    for (var hh = 0u; hh < group; hh++) {
      dotParts[hh * CHUNK + j][lane] = stagedDotLane(hh, base, lane);
    }
  }
  workgroupBarrier();

  // Logits (NEG_BIG where a slot is past the chunk or skipped), and the max tree's leaves.
  for (var idx = lid; idx < group * CHUNK; idx += WG) {
    let jj = idx % CHUNK;
    var l = NEG_BIG;
    if (jj < valid && !slotSkipped(jj)) {
      l = combineDotLanes(dotParts[idx]);
    }
    probs[idx] = l;
    dotParts[idx].x = l;
  }
  workgroupBarrier();
  for (var stride = CHUNK / 2u; stride > 0u; stride /= 2u) {
    for (var idx = lid; idx < group * stride; idx += WG) {
      let a = (idx / stride) * CHUNK + idx % stride;
      dotParts[a].x = max(dotParts[a].x, dotParts[a + stride].x);
    }
    workgroupBarrier();
  }
  if (lid < group) {
    let mx = max(splitMax[lid], dotParts[lid * CHUNK].x);
    splitScale[lid] = exp(splitMax[lid] - mx);
    splitMax[lid] = mx;
  }
  workgroupBarrier();

  for (var idx = lid; idx < group * CHUNK; idx += WG) {
    let jj = idx % CHUNK;
    probs[idx] = select(exp(probs[idx] - splitMax[idx / CHUNK]), 0.0, jj >= valid || slotSkipped(jj));
  }
  workgroupBarrier();

  // Probability-weighted values: one word of a value per thread, for every head of the group.
  if (vActive(lid)) {
    let lanes = vLanes();
    let e = PAGE * D + 2u * vPair(lid);
    for (var hh = 0u; hh < group; hh++) {
      vAcc[hh] *= splitScale[hh];
      vSum[hh] *= splitScale[hh];
    }
    for (var jj = vLane(lid); jj < valid; jj += lanes) {
      let v = kvLoad2(slotBase[jj] + e);
      for (var hh = 0u; hh < group; hh++) {
        let pr = probs[hh * CHUNK + jj];
        vAcc[hh] += pr * v;
        vSum[hh] += pr;
      }
    }
  }
  workgroupBarrier();
}

// The lanes' accumulators merged, in lane order: the split's sum of exp(logit - max) * v of head hh, dim i at
// scratchAt(hh * D + i), its sum of exps at probs[hh]. Uniform control flow; ends with a barrier.
fn mergeLanes(lid: u32) {
  let group = NUM_HEADS / NUM_KV_HEADS;
  let p = vPair(lid);
  for (var l = 0u; l < vLanes(); l++) {
    if (vActive(lid) && vLane(lid) == l) {
      for (var hh = 0u; hh < group; hh++) {
        let at = hh * D + 2u * p;
        if (l == 0u) {
          scratchSet(at, vAcc[hh].x);
          scratchSet(at + 1u, vAcc[hh].y);
          if (p == 0u) {
            probs[hh] = vSum[hh];
          }
        } else {
          scratchAdd(at, vAcc[hh].x);
          scratchAdd(at + 1u, vAcc[hh].y);
          if (p == 0u) {
            probs[hh] += vSum[hh];
          }
        }
      }
    }
    workgroupBarrier();
  }
}

// The split as partials s of KV head g's query heads (after its last attendChunk). Uniform control flow.
fn endSplit(g: u32, s: u32, lid: u32) {
  let group = NUM_HEADS / NUM_KV_HEADS;
  mergeLanes(lid);
  for (var idx = lid; idx < group * D; idx += WG) {
    partials[accIndex(g * group + idx / D, s) + idx % D] = scratchAt(idx);
  }
  if (lid < group) {
    let ml = mlIndex(g * group + lid, s);
    partials[ml] = splitMax[lid];
    partials[ml + 1u] = probs[lid];
  }
}

// The split normalized into `out` for KV head g's query heads, when it covered every slot (no merge needed).
// Uniform control flow.
fn endSplitToOut(g: u32, lid: u32) {
  let group = NUM_HEADS / NUM_KV_HEADS;
  mergeLanes(lid);
  for (var idx = lid; idx < group * D; idx += WG) {
    out[(g * group) * D + idx] = scratchAt(idx) / probs[idx / D];
  }
}

// Chunks per split of a dense step over `total` slots: one, until the chunks pass TARGET_SPLITS, then as many as
// keep the splits at most TARGET_SPLITS (the merge walks every split). The host computes the same for the grid.
fn chunksPerSplit(total: u32) -> u32 {
  let chunks = (total + CHUNK - 1u) / CHUNK;
  return max(1u, (chunks + TARGET_SPLITS - 1u) / TARGET_SPLITS);
}
