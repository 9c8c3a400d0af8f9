// Quest on the GPU: bounds keeps every touched page's per-channel key min/max (after the step's append); score
// bounds q.k per page for the step's rotated query (max over the KV group); the shared top-k kernel (TokenTopK) then
// lists the top pages per KV head (it replaced a per-page walk over every candidate: O(pages^2), most of Quest's
// 1.4 ms per selecting layer at 130K on the H200 run of 2026-12-04).
//
// Binding layout
//   @group(0) per layer:
//     0 params      storage read        Params + RoPE rows (cos [D/2], sin [D/2]) of this step's position
//     1 pages       storage read        the layer's KV arena: [page][K|V][PAGE][D] in the KV dtype (engine/wgsl kv-read)
//     2 blockTables storage read        [seq][MAX_PAGES][NUM_LAYERS][NUM_KV_HEADS] u32 arena page ids
//     3 bounds      storage read_write  the arena's bounds: [arena page][min|max][D] f32
//     4 scores      storage read_write  [NUM_KV_HEADS][MAX_PAGES] f32 page bounds of this layer and step
//   @group(1) the step's query: 0 q storage read [NUM_HEADS * D] f32, not rotated
// Dispatch: prefill: keepBounds (ceil(NUM_KV_HEADS * D / 64), pages touched). Decode, 2 per layer: boundsAndScores
// (scoreGroups + ceil(D / 64), NUM_KV_HEADS), then TokenTopK over the scores.

override D: u32;
override NUM_HEADS: u32;
override NUM_KV_HEADS: u32;
override NUM_LAYERS: u32;
override PAGE: u32;
override MAX_PAGES: u32;
override INTERLEAVED: bool;
// GROUP * D (workgroup arrays are sized by a single override).
override QD: u32;

struct Params {
  seq: u32,
  layer: u32,
  // First slot this step appended, and how many.
  first: u32,
  n: u32,
  // Pages before the newest one (the candidates); k: unused here (the top-k kernel's own params say how many).
  candidates: u32,
  k: u32,
  // Workgroups of boundsAndScores that score pages (ceil(candidates / 64), at least 1); the rest keep bounds.
  scoreGroups: u32,
  pad1: u32,
  rope: array<f32>,
}

@group(0) @binding(0) var<storage, read> params: Params;
@group(0) @binding(1) var<storage, read> pages: array<KvWord>;
@group(0) @binding(2) var<storage, read> blockTables: array<u32>;
@group(0) @binding(3) var<storage, read_write> bounds: array<f32>;
@group(0) @binding(4) var<storage, read_write> scores: array<f32>;
@group(1) @binding(0) var<storage, read> q: array<f32>;

var<workgroup> rotatedQuery: array<f32, QD>;

// K reads of the cache's dtype. The metadata (bounds, labels) stays f32: it holds key values, which an f16 page
// gives exactly in f32, and it is a fraction of the pages (Quest 2D per page, labels R per token).
//#include kv-read

fn pageId(page: u32, g: u32) -> u32 {
  return blockTables[((params.seq * MAX_PAGES + page) * NUM_LAYERS + params.layer) * NUM_KV_HEADS + g];
}

// Channel c of KV head g of `page`'s key bounds. Recomputed from the page's keys rather than widened: a page copied on
// write or reused starts right, and a decode step dropped after it ran (encoded past a stop, then truncated) leaves
// nothing behind once the page's next token is appended.
fn keepBoundsAt(g: u32, c: u32, page: u32) {
  let end = params.first + params.n;
  if (g >= NUM_KV_HEADS || page * PAGE >= end) {
    return;
  }
  let id = pageId(page, g);
  let last = min(page * PAGE + PAGE, end) - page * PAGE;
  var lo = 3.4e38;
  var hi = -3.4e38;
  for (var s = 0u; s < last; s++) {
    let x = kvLoad(id * 2u * PAGE * D + s * D + c);
    lo = min(lo, x);
    hi = max(hi, x);
  }
  bounds[id * 2u * D + c] = lo;
  bounds[id * 2u * D + D + c] = hi;
}

@compute @workgroup_size(64)
fn keepBounds(@builtin(global_invocation_id) gid: vec3<u32>) {
  keepBoundsAt(gid.x / D, gid.x % D, params.first / PAGE + gid.y);
}

// query-channel's inputs: the step's query and RoPE row.
fn queryAt(h: u32, i: u32) -> f32 {
  return q[h * D + i];
}

fn ropeCos(i: u32) -> f32 {
  return params.rope[i];
}

fn ropeSin(i: u32) -> f32 {
  return params.rope[D / 2u + i];
}

//#include query-channel

// The group's rotated query, once per scoring workgroup (group * D).
fn stageRotatedQuery(g: u32, lid: u32) {
  let group = NUM_HEADS / NUM_KV_HEADS;
  for (var e = lid; e < group * D; e += 64u) {
    rotatedQuery[e] = rotatedQueryChannel(g * group + e / D, e % D);
  }
}

fn scorePage(p: u32, g: u32) {
  if (p >= params.candidates) {
    return;
  }
  let base = pageId(p, g) * 2u * D;
  let group = NUM_HEADS / NUM_KV_HEADS;
  var best = -3.4e38;
  for (var hh = 0u; hh < group; hh++) {
    var sum = 0.0;
    for (var c = 0u; c < D; c++) {
      let qc = rotatedQuery[hh * D + c];
      sum += max(qc * bounds[base + D + c], qc * bounds[base + c]);
    }
    best = max(best, sum);
  }
  scores[g * MAX_PAGES + p] = best;
}

// A decode step's first Quest dispatch, two jobs without hazards between them: workgroups [0, scoreGroups) score the
// candidate pages (x: page, y: KV head); the rest keep the bounds of the newest page, which holds the step's token and
// is never a candidate (x - scoreGroups: a block of 64 channels, y: KV head). The top pages are the shared top-k
// kernel's (engine/attention/tidal topk.wgsl), the second dispatch.
@compute @workgroup_size(64)
fn boundsAndScores(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = wid.y;
  if (wid.x < params.scoreGroups) {
    stageRotatedQuery(g, lid);
    workgroupBarrier();
    scorePage(wid.x * 64u + lid, g);
    return;
  }
  let c = (wid.x - params.scoreGroups) * 64u + lid;
  if (c < D) {
    keepBoundsAt(g, c, params.first / PAGE);
  }
}
