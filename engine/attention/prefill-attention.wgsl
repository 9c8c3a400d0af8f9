// Prefill attention: causal softmax attention of n new queries over every cached slot of the sequence
// (earlier turns plus this chunk, already appended), with GQA and RoPE applied to q on the fly.
//
// Binding layout
//   @group(0) static per layer:
//     0 step        storage read   Step: seq slot, start position, n tokens, cos [n][D/2], sin [n][D/2]
//     1 layer       uniform        LayerParams: the layer index
//     2 pages       storage read   the layer's arena: [page][K|V][PAGE][D] f32 (K after RoPE)
//     3 positions   storage read   [page][PAGE] u32 true positions (the causal mask)
//     4 blockTables storage read   [seq][MAX_PAGES][NUM_LAYERS][NUM_KV_HEADS] u32
//     5 counts      storage read   [seq][NUM_LAYERS][NUM_KV_HEADS] u32 slots cached BEFORE this chunk
//   @group(1):
//     0 q           storage read        [n][NUM_HEADS * D] f32, not rotated
//     1 out         storage read_write  [n][NUM_HEADS * D] f32
// Dispatch: (ceil(n * GROUP / 64), NUM_KV_HEADS). A workgroup serves 64 query rows (token, head of the group) of
// one KV head, so the rows share each key tile loaded into workgroup memory. Each thread keeps its query and its
// accumulator in registers and runs an online softmax (running max m, running sum l) tile by tile.

override D: u32;
override NUM_HEADS: u32;
override NUM_KV_HEADS: u32;
override NUM_LAYERS: u32;
override PAGE: u32;
override MAX_PAGES: u32;
override INTERLEAVED: bool;
override SCALE: f32;
// Keys per tile: TILE_FLOATS / D floats of K and as many of V fit in 8 KiB of workgroup memory.
override TILE_KEYS: u32;

const WG: u32 = 64u;
const MAX_D: u32 = 256u;
const TILE_FLOATS: u32 = 1024u;
const MAX_TILE_KEYS: u32 = 32u;
// A finite "minus infinity" keeps exp(m_old - m_new) free of inf - inf.
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
@group(0) @binding(2) var<storage, read> pages: array<f32>;
@group(0) @binding(3) var<storage, read> positions: array<u32>;
@group(0) @binding(4) var<storage, read> blockTables: array<u32>;
@group(0) @binding(5) var<storage, read> counts: array<u32>;
@group(1) @binding(0) var<storage, read> q: array<f32>;
@group(1) @binding(1) var<storage, read_write> out: array<f32>;

var<workgroup> kTile: array<f32, TILE_FLOATS>;
var<workgroup> vTile: array<f32, TILE_FLOATS>;
var<workgroup> posTile: array<u32, MAX_TILE_KEYS>;

//#include rope

fn pageOf(g: u32, slot: u32) -> u32 {
  return blockTables[((step.seq * MAX_PAGES + slot / PAGE) * NUM_LAYERS + layer.index) * NUM_KV_HEADS + g];
}

@compute @workgroup_size(64)
fn prefill(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = NUM_HEADS / NUM_KV_HEADS;
  let g = wid.y;
  let n = step.n;
  let rows = n * group;
  let row = wid.x * WG + lid;
  let live = row < rows;
  let t = min(row / group, n - 1u);
  let h = g * group + row % group;
  let qPos = step.start + t;
  let cached = counts[(step.seq * NUM_LAYERS + layer.index) * NUM_KV_HEADS + g];
  // Chunk token t sits in slot cached + t, so slots past this workgroup's last token are in every row's future.
  let lastRow = min(wid.x * WG + WG, rows) - 1u;
  let bound = cached + lastRow / group + 1u;

  let half = D / 2u;
  let src = t * NUM_HEADS * D + h * D;
  var qr: array<f32, MAX_D>;
  var acc: array<f32, MAX_D>;
  for (var i = 0u; i < half; i++) {
    let p = ropePair(i);
    let c = step.rope[t * half + i];
    let s = step.rope[n * half + t * half + i];
    let x0 = q[src + p.x];
    let x1 = q[src + p.y];
    qr[p.x] = (x0 * c - x1 * s) * SCALE;
    qr[p.y] = (x1 * c + x0 * s) * SCALE;
  }
  for (var i = 0u; i < D; i++) {
    acc[i] = 0.0;
  }
  var m = NEG_BIG;
  var l = 0.0;

  for (var start = 0u; start < bound; start += TILE_KEYS) {
    let keys = min(TILE_KEYS, bound - start);
    for (var idx = lid; idx < keys * D; idx += WG) {
      let slot = start + idx / D;
      let base = pageOf(g, slot) * 2u * PAGE * D + (slot % PAGE) * D + idx % D;
      kTile[idx] = pages[base];
      vTile[idx] = pages[base + PAGE * D];
    }
    if (lid < keys) {
      let slot = start + lid;
      posTile[lid] = positions[pageOf(g, slot) * PAGE + slot % PAGE];
    }
    workgroupBarrier();
    if (live) {
      var scores: array<f32, MAX_TILE_KEYS>;
      var tileMax = m;
      for (var j = 0u; j < keys; j++) {
        if (posTile[j] <= qPos) {
          var dot = 0.0;
          for (var i = 0u; i < D; i++) {
            dot += qr[i] * kTile[j * D + i];
          }
          scores[j] = dot;
          tileMax = max(tileMax, dot);
        }
      }
      let corr = exp(m - tileMax);
      l *= corr;
      for (var i = 0u; i < D; i++) {
        acc[i] *= corr;
      }
      for (var j = 0u; j < keys; j++) {
        if (posTile[j] <= qPos) {
          let p = exp(scores[j] - tileMax);
          l += p;
          for (var i = 0u; i < D; i++) {
            acc[i] += p * vTile[j * D + i];
          }
        }
      }
      m = tileMax;
    }
    workgroupBarrier();
  }

  if (live) {
    // Every row sees at least its own token, so l > 0.
    let dst = t * NUM_HEADS * D + h * D;
    for (var i = 0u; i < D; i++) {
      out[dst + i] = acc[i] / l;
    }
  }
}
