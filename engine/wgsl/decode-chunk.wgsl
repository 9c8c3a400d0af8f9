// WGSL library (//#include decode-chunk): one split of decode attention, CHUNK cache slots (one per thread) against
// the staged queries of a GQA group, left as split-reduce partials. Shared by dense decode and decode over a list.
// Needs from the including kernel: overrides D, NUM_HEADS, NUM_KV_HEADS, MAX_SPLITS, PAGE; consts WG, CHUNK,
// NEG_BIG; `pages` (the layer's arena [page][K|V][PAGE][D] of KvWord, read through kv-read); workgroup arrays qs [group * D], probs
// [group * CHUNK], slotBase [CHUNK] (each slot's K offset in `pages`, set before the call), chunkMax [WG];
// `fn slotSkipped(j: u32) -> bool` (a slot of the chunk that counts with probability 0).
//#include split-reduce
//#include staged-dot

// Split s of KV head g over its first `valid` slots. Call in uniform control flow after slotBase and qs are staged
// and a barrier; leaves partials for the group's heads.
fn attendChunk(g: u32, s: u32, valid: u32, lid: u32) {
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
    var mx = NEG_BIG;
    for (var j = 0u; j < valid; j++) {
      mx = max(mx, probs[lid * CHUNK + j]);
    }
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
    var a = 0.0;
    for (var j = 0u; j < valid; j++) {
      a += probs[hh * CHUNK + j] * kvLoad(slotBase[j] + PAGE * D + i);
    }
    partials[accIndex(g * group + hh, s) + i] = a;
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
