// Append: rotates this step's keys (RoPE) and writes K, V and true positions into the layer's KV pages;
// commit: advances the per-(layer, KV head) cached-token counts once the layer's attention has run.
//
// Binding layout
//   @group(0) static per layer (built once by PagedAttention):
//     0 step        storage read        Step: seq slot, start position, n tokens, cos [n][D/2], sin [n][D/2]
//     1 layer       uniform             LayerParams: the layer index
//     2 pages       storage read_write  the layer's arena: [page][K|V][PAGE][D] in the KV dtype (engine/wgsl kv-write)
//     3 positions   storage read_write  [page][PAGE] u32 true positions
//     4 blockTables storage read        [seq][MAX_PAGES][NUM_LAYERS][NUM_KV_HEADS] u32 arena page ids
//     5 counts      storage read_write  [seq][NUM_LAYERS][NUM_KV_HEADS] u32 cached slots
//   @group(1) the segment's outputs (append only):
//     0 k           storage read        [n][NUM_KV_HEADS * D] f32, not rotated
//     1 v           storage read        [n][NUM_KV_HEADS * D] f32
// Dispatch: append (ceil(NUM_KV_HEADS * D/2 / 64), n), a thread per pair of adjacent dims (2i, 2i+1) of K and of V:
// the unit a packed f16 page stores in one word, so no two threads write the same word; commit (1). Commit is a separate dispatch because every
// append thread reads the count it would change.

override D: u32;
override NUM_KV_HEADS: u32;
override NUM_LAYERS: u32;
override PAGE: u32;
override MAX_PAGES: u32;
override INTERLEAVED: bool;

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
@group(0) @binding(2) var<storage, read_write> pages: array<KvWord>;
@group(0) @binding(3) var<storage, read_write> positions: array<u32>;
@group(0) @binding(4) var<storage, read> blockTables: array<u32>;
@group(0) @binding(5) var<storage, read_write> counts: array<u32>;
@group(1) @binding(0) var<storage, read> k: array<f32>;
@group(1) @binding(1) var<storage, read> v: array<f32>;

fn countIndex(g: u32) -> u32 {
  return (step.seq * NUM_LAYERS + layer.index) * NUM_KV_HEADS + g;
}

// RoPE by element (rotate-half or interleaved pairs), and the KV dtype's page stores.
//#include rope
//#include kv-write

// Element e of head g's key of token t, rotated by its angle.
fn rotatedKey(src: u32, t: u32, e: u32) -> f32 {
  let half = D / 2u;
  let f = ropeFrequency(e);
  let c = step.rope[t * half + f];
  let s = step.rope[step.n * half + t * half + f];
  return k[src + e] * c + ropeSign(e) * k[src + ropePartner(e)] * s;
}

@compute @workgroup_size(64)
fn append(@builtin(global_invocation_id) gid: vec3<u32>) {
  let half = D / 2u;
  let g = gid.x / half;
  let i = gid.x % half;
  let t = gid.y;
  if (g >= NUM_KV_HEADS || t >= step.n) {
    return;
  }
  let slot = counts[countIndex(g)] + t;
  let page = blockTables[((step.seq * MAX_PAGES + slot / PAGE) * NUM_LAYERS + layer.index) * NUM_KV_HEADS + g];
  let inPage = slot % PAGE;
  let kBase = page * 2u * PAGE * D + inPage * D;
  let vBase = kBase + PAGE * D;
  let src = t * NUM_KV_HEADS * D + g * D;
  let e = 2u * i;
  kvStore2(kBase + e, vec2<f32>(rotatedKey(src, t, e), rotatedKey(src, t, e + 1u)));
  kvStore2(vBase + e, vec2<f32>(v[src + e], v[src + e + 1u]));
  if (i == 0u) {
    positions[page * PAGE + inPage] = step.start + t;
  }
}

@compute @workgroup_size(64)
fn commit(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x < NUM_KV_HEADS) {
    counts[countIndex(gid.x)] += step.n;
  }
}
