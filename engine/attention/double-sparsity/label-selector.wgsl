// The label cache and partial-score estimator of Double Sparsity (and of FASA, whose labels are its dominant RoPE
// pairs): writeLabels copies R chosen channels of each appended key (rotated, as cached) into a compact per-token
// cache beside the pages; scoreTokens scores every older slot of a KV head with the step's rotated query on those
// channels, max over the group's query heads, for the top-k kernel that follows.
//
// Binding layout
//   @group(0) per layer:
//     0 params      storage read        Params + RoPE rows (cos [D/2], sin [D/2]) of the step's last position
//     1 pages       storage read        the layer's KV arena: [page][K|V][PAGE][D] in the KV dtype (engine/wgsl kv-read)
//     2 blockTables storage read        [seq][MAX_PAGES][NUM_LAYERS][NUM_KV_HEADS] u32 arena page ids
//     3 channels    storage read        [NUM_LAYERS][NUM_KV_HEADS][R] u32 key channels the labels keep
//     4 labels      storage read_write  the arena's labels: [arena page][PAGE][R] f32
//     5 scores      storage read_write  [NUM_KV_HEADS][STRIDE] f32 partial scores of this layer and step, by slot
//   @group(1) the step's query: 0 q storage read [NUM_HEADS * D] f32, not rotated
// Dispatch: writeLabels (ceil(NUM_KV_HEADS * R / 64), min(n, 65535)); scoreTokens (ceil(candidates / 64), NUM_KV_HEADS);
// a decode step that labels only its own token: labelsAndScores (scoreGroups + ceil(R / 64), NUM_KV_HEADS) instead of
// both (with the top-k kernel after it, 2 dispatches per selecting layer).

override D: u32;
override R: u32;
override NUM_HEADS: u32;
override NUM_KV_HEADS: u32;
override NUM_LAYERS: u32;
override PAGE: u32;
override MAX_PAGES: u32;
override STRIDE: u32;
override INTERLEAVED: bool;
override SCALE: f32;
// The group's rotated query channels: (NUM_HEADS / NUM_KV_HEADS) * R.
override QR: u32;

struct Params {
  seq: u32,
  layer: u32,
  // Slots first .. first + n - 1 get labels (this step's tokens, or more when the policy started mid-sequence).
  first: u32,
  n: u32,
  // Older slots scored this step (the newest slot is the step's own token, always read).
  candidates: u32,
  // Workgroups of labelsAndScores that score (ceil(candidates / 64), at least 1); the rest write the newest label.
  scoreGroups: u32,
  pad1: u32,
  pad2: u32,
  rope: array<f32>,
}

@group(0) @binding(0) var<storage, read> params: Params;
@group(0) @binding(1) var<storage, read> pages: array<KvWord>;
@group(0) @binding(2) var<storage, read> blockTables: array<u32>;
@group(0) @binding(3) var<storage, read> channels: array<u32>;
@group(0) @binding(4) var<storage, read_write> labels: array<f32>;
@group(0) @binding(5) var<storage, read_write> scores: array<f32>;
@group(1) @binding(0) var<storage, read> q: array<f32>;

var<workgroup> rotatedQuery: array<f32, QR>;

// K reads of the cache's dtype. The metadata (bounds, labels) stays f32: it holds key values, which an f16 page
// gives exactly in f32, and it is a fraction of the pages (Quest 2D per page, labels R per token).
//#include kv-read

fn pageId(page: u32, g: u32) -> u32 {
  return blockTables[((params.seq * MAX_PAGES + page) * NUM_LAYERS + params.layer) * NUM_KV_HEADS + g];
}

// Label channel i of slot s of KV head g.
fn writeLabel(g: u32, i: u32, s: u32) {
  let c = channels[(params.layer * NUM_KV_HEADS + g) * R + i];
  let id = pageId(s / PAGE, g);
  let o = s % PAGE;
  labels[(id * PAGE + o) * R + i] = kvLoad(id * 2u * PAGE * D + o * D + c);
}

@compute @workgroup_size(64)
fn writeLabels(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let g = gid.x / R;
  let i = gid.x % R;
  if (g >= NUM_KV_HEADS) {
    return;
  }
  for (var t = gid.y; t < params.n; t += groups.y) {
    writeLabel(g, i, params.first + t);
  }
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

@compute @workgroup_size(64)
fn scoreTokens(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  scoreSlots(lid, wid);
}

// A decode step's scores and its own token's label in one dispatch: the newest slot (params.first) is never a
// candidate, so the two jobs touch different labels. wid.x < scoreGroups: scoring (uniform per workgroup, so the
// barrier inside is in uniform control flow); the rest: label channels (wid.x - scoreGroups) * 64 + lid of head wid.y.
@compute @workgroup_size(64)
fn labelsAndScores(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  if (wid.x < params.scoreGroups) {
    scoreSlots(lid, wid);
    return;
  }
  let i = (wid.x - params.scoreGroups) * 64u + lid;
  if (i < R) {
    writeLabel(wid.y, i, params.first);
  }
}

fn scoreSlots(lid: u32, wid: vec3<u32>) {
  let g = wid.y;
  let group = NUM_HEADS / NUM_KV_HEADS;
  // The group's rotated query on the label channels, once per workgroup.
  for (var e = lid; e < group * R; e += 64u) {
    rotatedQuery[e] = rotatedQueryChannel(g * group + e / R, channels[(params.layer * NUM_KV_HEADS + g) * R + e % R]);
  }
  workgroupBarrier();
  let s = wid.x * 64u + lid;
  if (s >= params.candidates) {
    return;
  }
  let id = pageId(s / PAGE, g);
  let base = (id * PAGE + s % PAGE) * R;
  var best = -3.4e38;
  for (var j = 0u; j < group; j++) {
    var sum = 0.0;
    for (var i = 0u; i < R; i++) {
      sum += rotatedQuery[j * R + i] * labels[base + i];
    }
    best = max(best, sum);
  }
  scores[g * STRIDE + s] = SCALE * best;
}
