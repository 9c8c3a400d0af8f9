// Recycled Attention on the GPU, deciding its schedule without a readback: decide sets the layer's full-step flag
// (forced by the CPU's fixed schedule, or by the query's cosine with the last full step's query on check steps);
// compose writes the step's token list (every older slot on a full step; else the recorded slots plus the slots
// appended since the full step); commit, after a full step's attention and top-k, keeps its list, size and query.
//
// Binding layout
//   @group(0) per layer:
//     0 params     uniform             Params of this layer and step
//     1 recorded   storage read_write  [NUM_LAYERS][NUM_KV_HEADS][K] u32 slots recorded at the last full step
//     2 info       storage read_write  [NUM_LAYERS][NUM_KV_HEADS] recorded lengths, then [NUM_LAYERS] tokens held at
//                                      the last full step, then [NUM_LAYERS] this step's full flag (u32)
//     3 fullQuery  storage read_write  [NUM_LAYERS][Q] f32 the last full step's query
//     4 scratch    storage read        [NUM_KV_HEADS][K] u32 this step's top-k (written by the top-k kernel)
//     5 scratchLen storage read        [NUM_KV_HEADS] u32
//     6 indices    storage read_write  [NUM_KV_HEADS][MAX_LIST] u32 the plan's slots
//     7 lengths    storage read_write  [NUM_KV_HEADS] u32
//   @group(1) 0 query storage read [Q] f32, the step's query (all heads, not rotated)
// Dispatch: decide (1); compose (ceil(MAX_LIST / 64), NUM_KV_HEADS) with MAX_LIST bounded by the tokens held;
// commit (ceil(max(K, Q) / 64), NUM_KV_HEADS).

override NUM_LAYERS: u32;
override NUM_KV_HEADS: u32;
override K: u32;
override Q: u32;
override MAX_LIST: u32;

const WG: u32 = 64u;
const MODE_RECYCLE: u32 = 0u;
const MODE_FULL: u32 = 1u;

struct Params {
  layer: u32,
  // Slots each head holds after this step's append (the step's own token is the last).
  tokens: u32,
  // 0 recycle, 1 full (the CPU's schedule), 2 check (full when the cosine falls below threshold).
  mode: u32,
  pad: u32,
  threshold: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> recorded: array<u32>;
@group(0) @binding(2) var<storage, read_write> info: array<u32>;
@group(0) @binding(3) var<storage, read_write> fullQuery: array<f32>;
@group(0) @binding(4) var<storage, read> scratch: array<u32>;
@group(0) @binding(5) var<storage, read> scratchLen: array<u32>;
@group(0) @binding(6) var<storage, read_write> indices: array<u32>;
@group(0) @binding(7) var<storage, read_write> lengths: array<u32>;
@group(1) @binding(0) var<storage, read> query: array<f32>;

var<workgroup> partial: array<vec3<f32>, WG>;

fn fullTokensIndex() -> u32 {
  return NUM_LAYERS * NUM_KV_HEADS + params.layer;
}

fn flagIndex() -> u32 {
  return NUM_LAYERS * NUM_KV_HEADS + NUM_LAYERS + params.layer;
}

@compute @workgroup_size(64)
fn decide(@builtin(local_invocation_index) lid: u32) {
  var acc = vec3<f32>(0.0);
  for (var i = lid; i < Q; i += WG) {
    let a = query[i];
    let b = fullQuery[params.layer * Q + i];
    acc += vec3<f32>(a * b, a * a, b * b);
  }
  partial[lid] = acc;
  workgroupBarrier();
  if (lid == 0u) {
    var sum = vec3<f32>(0.0);
    for (var t = 0u; t < WG; t++) {
      sum += partial[t];
    }
    var full = params.mode == MODE_FULL;
    if (params.mode != MODE_RECYCLE && params.mode != MODE_FULL) {
      // A zero vector has cosine 0, as in the CPU reference.
      let norms = sqrt(sum.y * sum.z);
      let cosine = select(sum.x / norms, 0.0, norms == 0.0);
      full = cosine < params.threshold;
    }
    info[flagIndex()] = select(0u, 1u, full);
  }
}

@compute @workgroup_size(64)
fn compose(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let g = gid.y;
  let older = params.tokens - 1u;
  let full = info[flagIndex()] == 1u;
  let kept = info[params.layer * NUM_KV_HEADS + g];
  let since = info[fullTokensIndex()];
  // The newest slot (this step's token) is read by the attention kernel itself.
  let count = select(kept + older - since, older, full);
  if (i == 0u) {
    lengths[g] = count;
  }
  if (i >= count) {
    return;
  }
  var slot: u32;
  if (full) {
    slot = i;
  } else if (i < kept) {
    slot = recorded[(params.layer * NUM_KV_HEADS + g) * K + i];
  } else {
    slot = since + (i - kept);
  }
  indices[g * MAX_LIST + i] = slot;
}

@compute @workgroup_size(64)
fn commit(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let g = gid.y;
  if (info[flagIndex()] != 1u) {
    return;
  }
  if (i < K) {
    recorded[(params.layer * NUM_KV_HEADS + g) * K + i] = scratch[g * K + i];
  }
  if (i == 0u) {
    info[params.layer * NUM_KV_HEADS + g] = scratchLen[g];
  }
  if (g == 0u) {
    if (i < Q) {
      fullQuery[params.layer * Q + i] = query[i];
    }
    if (i == 0u) {
      info[fullTokensIndex()] = params.tokens;
    }
  }
}
