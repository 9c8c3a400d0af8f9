// WGSL library (//#include decode-chunk, the CPU adapters' variant: decodeLibrary(dtype, 'serial')): one split of
// decode attention, a run of chunks of CHUNK cache slots (one slot per thread of WG = CHUNK) against the staged
// queries of a GQA group, merged online (running max, sum and weighted values in workgroup memory) and left as
// split-reduce partials, or normalized straight into `out` when one split is all. decode-chunk-lanes.wgsl is the GPUs'
// variant with the same functions; this one keeps a CPU adapter's workgroups small and their barriers few (SwiftShader
// ran a dense decode step 2.6-4x slower with the lanes variant's 256 threads: engine/attention/constants.ts).
// Needs from the including kernel: overrides D, NUM_HEADS, NUM_KV_HEADS, MAX_SPLITS, PAGE, Q_FLOATS (group * D),
// SCORE_FLOATS (group * CHUNK), WG (= CHUNK); consts CHUNK, NEG_BIG; `pages` (the layer's arena [page][K|V][PAGE][D]
// of KvWord, read through kv-read); workgroup arrays qs [group * D], slotBase [CHUNK] (each slot's K offset in
// `pages`, set before each chunk); `fn slotSkipped(j: u32) -> bool` (a slot of the chunk that counts with
// probability 0).
//#include split-reduce
//#include staged-dot

// Splits per KV head that a dense step keeps at most (chunksPerSplit); the host sets it for decode-step-attention.
override TARGET_SPLITS: u32 = 256u;

// Per (head, slot) of the chunk: logits, then exp(logit - chunk max); the chunk max per head.
var<workgroup> probs: array<f32, SCORE_FLOATS>;
var<workgroup> chunkMax: array<f32, WG>;
// The split so far, per head of the group: sum of exp(logit - splitMax) * v, splitMax, and the sum of the exps.
var<workgroup> splitAcc: array<f32, Q_FLOATS>;
var<workgroup> splitMax: array<f32, WG>;
var<workgroup> splitSum: array<f32, WG>;
// exp(old max - new max) of the chunk being merged, per head.
var<workgroup> splitScale: array<f32, WG>;

// Starts a split with no slots. Call in uniform control flow; attendChunk's first barrier orders it.
fn beginSplit(lid: u32) {
  let group = NUM_HEADS / NUM_KV_HEADS;
  for (var idx = lid; idx < group * D; idx += WG) {
    splitAcc[idx] = 0.0;
  }
  if (lid < group) {
    splitMax[lid] = NEG_BIG;
    splitSum[lid] = 0.0;
  }
}

// Merges the chunk's first `valid` slots (slotBase set, a barrier after) into the split. Uniform control flow; ends
// with a barrier, so the caller may set the next chunk's slotBase at once.
fn attendChunk(valid: u32, lid: u32) {
  let group = NUM_HEADS / NUM_KV_HEADS;
  // One slot per thread: its logit for every head of the group.
  if (lid < valid) {
    let base = slotBase[lid];
    for (var hh = 0u; hh < group; hh++) {
      probs[hh * CHUNK + lid] = select(stagedDot(hh, base), NEG_BIG, slotSkipped(lid));
    }
  }
  workgroupBarrier();

  if (lid < group) {
    var mx = splitMax[lid];
    for (var j = 0u; j < valid; j++) {
      mx = max(mx, probs[lid * CHUNK + j]);
    }
    splitScale[lid] = exp(splitMax[lid] - mx);
    splitMax[lid] = mx;
    chunkMax[lid] = mx;
  }
  workgroupBarrier();

  for (var idx = lid; idx < group * CHUNK; idx += WG) {
    if (idx % CHUNK < valid) {
      probs[idx] = select(exp(probs[idx] - chunkMax[idx / CHUNK]), 0.0, slotSkipped(idx % CHUNK));
    }
  }
  workgroupBarrier();

  // Probability-weighted values; thread (head, dim) reads V coalesced across dims.
  for (var idx = lid; idx < group * D; idx += WG) {
    let hh = idx / D;
    let i = idx % D;
    var a = splitAcc[idx] * splitScale[hh];
    for (var j = 0u; j < valid; j++) {
      a += probs[hh * CHUNK + j] * kvLoad(slotBase[j] + PAGE * D + i);
    }
    splitAcc[idx] = a;
  }
  if (lid < group) {
    var sum = splitSum[lid] * splitScale[lid];
    for (var j = 0u; j < valid; j++) {
      sum += probs[lid * CHUNK + j];
    }
    splitSum[lid] = sum;
  }
  workgroupBarrier();
}

// The split as partials s of KV head g's query heads (after its last attendChunk).
fn endSplit(g: u32, s: u32, lid: u32) {
  let group = NUM_HEADS / NUM_KV_HEADS;
  for (var idx = lid; idx < group * D; idx += WG) {
    partials[accIndex(g * group + idx / D, s) + idx % D] = splitAcc[idx];
  }
  if (lid < group) {
    let ml = mlIndex(g * group + lid, s);
    partials[ml] = splitMax[lid];
    partials[ml + 1u] = splitSum[lid];
  }
}

// The split normalized into `out` for KV head g's query heads, when it covered every slot (no merge needed).
fn endSplitToOut(g: u32, lid: u32) {
  let group = NUM_HEADS / NUM_KV_HEADS;
  for (var idx = lid; idx < group * D; idx += WG) {
    out[(g * group) * D + idx] = splitAcc[idx] / splitSum[idx / D];
  }
}

// Chunks per split of a dense step over `total` slots: one, until the chunks pass TARGET_SPLITS, then as many as
// keep the splits at most TARGET_SPLITS (the merge walks every split). The host computes the same for the grid.
fn chunksPerSplit(total: u32) -> u32 {
  let chunks = (total + CHUNK - 1u) / CHUNK;
  return max(1u, (chunks + TARGET_SPLITS - 1u) / TARGET_SPLITS);
}
