// Quest on the GPU: bounds keeps every touched page's per-channel key min/max (after the step's append); score
// bounds q.k per page for the step's rotated query (max over the KV group); select lists the top pages per KV head.
//
// Binding layout
//   @group(0) per layer:
//     0 params      storage read        Params + RoPE rows (cos [D/2], sin [D/2]) of this step's position
//     1 pages       storage read        the layer's KV arena: [page][K|V][PAGE][D] in the KV dtype (engine/wgsl kv-read)
//     2 blockTables storage read        [seq][MAX_PAGES][NUM_LAYERS][NUM_KV_HEADS] u32 arena page ids
//     3 bounds      storage read_write  the arena's bounds: [arena page][min|max][D] f32
//     4 scores      storage read_write  [NUM_KV_HEADS][MAX_PAGES] f32 page bounds of this layer and step
//     5 indices     storage read_write  [NUM_KV_HEADS][MAX_LIST] u32 page numbers read (any order)
//     6 lengths     storage read_write  [NUM_KV_HEADS] u32 entries listed
//   @group(1) the step's query: 0 q storage read [NUM_HEADS * D] f32, not rotated
// Dispatch: prefill: keepBounds (ceil(NUM_KV_HEADS * D / 64), pages touched). Decode, 2 per layer: boundsAndScores
// (scoreGroups + ceil(D / 64), NUM_KV_HEADS), then selectPages (ceil(candidates / 64),
// NUM_KV_HEADS).

override D: u32;
override NUM_HEADS: u32;
override NUM_KV_HEADS: u32;
override NUM_LAYERS: u32;
override PAGE: u32;
override MAX_PAGES: u32;
override MAX_LIST: u32;
override INTERLEAVED: bool;

struct Params {
  seq: u32,
  layer: u32,
  // First slot this step appended, and how many.
  first: u32,
  n: u32,
  // Pages before the newest one (the candidates), and how many of them a step reads.
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
@group(0) @binding(5) var<storage, read_write> indices: array<u32>;
@group(0) @binding(6) var<storage, read_write> lengths: array<atomic<u32>>;
@group(1) @binding(0) var<storage, read> q: array<f32>;

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

// Channel c of query head h after RoPE at this step's position.
fn rotated(h: u32, c: u32) -> f32 {
  let half = D / 2u;
  var i: u32;
  var first: bool;
  var other: u32;
  if (INTERLEAVED) {
    i = c / 2u;
    first = c % 2u == 0u;
    other = select(c - 1u, c + 1u, first);
  } else {
    i = c % half;
    first = c < half;
    other = select(c - half, c + half, first);
  }
  let co = params.rope[i];
  let si = params.rope[half + i];
  let x = q[h * D + c];
  let y = q[h * D + other];
  if (first) {
    return x * co - y * si;
  }
  return x * co + y * si;
}

fn scorePage(p: u32, g: u32) {
  if (p >= params.candidates) {
    return;
  }
  let base = pageId(p, g) * 2u * D;
  let group = NUM_HEADS / NUM_KV_HEADS;
  var best = -3.4e38;
  for (var h = g * group; h < (g + 1u) * group; h++) {
    var sum = 0.0;
    for (var c = 0u; c < D; c++) {
      let qc = rotated(h, c);
      sum += max(qc * bounds[base + D + c], qc * bounds[base + c]);
    }
    best = max(best, sum);
  }
  scores[g * MAX_PAGES + p] = best;
}

// A decode step's first Quest dispatch, three jobs without hazards between them: workgroups [0, scoreGroups) score the
// candidate pages (x: page, y: KV head); the rest keep the bounds of the newest page, which holds the step's token and
// is never a candidate (x - scoreGroups: a block of 64 channels, y: KV head); the first clears the list lengths,
// which the previous layer's attention (an earlier dispatch) has read and selectPages (the next one) fills.
@compute @workgroup_size(64)
fn boundsAndScores(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = wid.y;
  if (wid.x < params.scoreGroups) {
    scorePage(wid.x * 64u + lid, g);
    if (wid.x == 0u && g == 0u && lid < NUM_KV_HEADS) {
      atomicStore(&lengths[lid], 0u);
    }
    return;
  }
  let c = (wid.x - params.scoreGroups) * 64u + lid;
  if (c < D) {
    keepBoundsAt(g, c, params.first / PAGE);
  }
}

// Page p is read when fewer than k candidates beat it (higher score, or equal and lower page: the older wins).
// The list's order does not matter to the attention kernel, so a counter places the chosen pages.
@compute @workgroup_size(64)
fn selectPages(@builtin(global_invocation_id) gid: vec3<u32>) {
  let p = gid.x;
  let g = gid.y;
  if (p >= params.candidates) {
    return;
  }
  let mine = scores[g * MAX_PAGES + p];
  var beaten = 0u;
  for (var j = 0u; j < params.candidates && beaten < params.k; j++) {
    let other = scores[g * MAX_PAGES + j];
    if (other > mine || (other == mine && j < p)) {
      beaten++;
    }
  }
  if (beaten < params.k) {
    let at = atomicAdd(&lengths[g], 1u);
    indices[g * MAX_LIST + at] = p;
  }
}
