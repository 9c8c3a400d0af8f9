// Prefill attention as tiled flash attention: causal softmax attention of n new queries over every cached slot of
// the sequence (earlier turns plus this chunk, already appended), GQA and RoPE on q on the fly, online softmax.
// Also writes each query row's softmax max and sum (the statistics kernels' column sums divide by them).
//
// Binding layout
//   @group(0) static per layer:
//     0 step        storage read        Step: seq slot, start position, n tokens, cos [n][D/2], sin [n][D/2]
//     1 layer       uniform             LayerParams: the layer index
//     2 pages       storage read        the layer's arena: [page][K|V][PAGE][D] in the KV dtype (engine/wgsl kv-read; K after RoPE)
//     3 positions   storage read        [page][PAGE] u32 true positions (the causal mask)
//     4 blockTables storage read        [seq][MAX_PAGES][NUM_LAYERS][NUM_KV_HEADS] u32
//     5 counts      storage read        [seq][NUM_LAYERS][NUM_KV_HEADS] u32 slots cached BEFORE this chunk
//     7 rows        storage read_write  (max, sum) per (query head, row): [NUM_HEADS][MAX_ROWS][2] f32
//     8 splitPartials storage read_write  split-K partials: [n][NUM_HEADS][S][D + 2] f32 (acc, max, sum), S > 1 only
//   @group(1):
//     0 q           storage read        [n][NUM_HEADS * D] f32, not rotated
//     1 out         storage read_write  [n][NUM_HEADS * D] f32
// Dispatch: prefill (ceil(n * GROUP / ROWS), NUM_KV_HEADS, S). With S = 1 a workgroup reads every slot its rows see
// and writes out and rows; with S > 1 (a long context and too few workgroups to fill the device) workgroup z reads
// the z-th of S equal runs of key tiles and writes its unnormalized partial, and merge (ceil(n * NUM_HEADS * D / 64))
// combines the S partials of every row as the decode kernel's reduce does. A workgroup serves ROWS query rows (token, query head of the
// group) of one KV head; TPR threads share a row, each holding CHANNELS of its rotated query and of its output
// accumulator in registers. Per tile of TILE_KEYS slots: the workgroup stages K, V and positions in workgroup memory;
// each thread forms the partial dot products of its channels with every key of the tile; the row's threads sum the
// partials (through workgroup memory, portable to every adapter), rescale their accumulators by the new running max
// and add the tile's p * V. A row's threads keep identical m and l, so no further exchange is needed.

override D: u32;
override NUM_HEADS: u32;
override NUM_KV_HEADS: u32;
override NUM_LAYERS: u32;
override PAGE: u32;
override MAX_PAGES: u32;
override INTERLEAVED: bool;
override SCALE: f32;
// Rows of the statistics rows buffer per head (the largest chunk).
override MAX_ROWS: u32;
// Threads per query row: ceil(D / CHANNELS). Rows per workgroup: WG / TPR.
override TPR: u32;
override ROWS: u32;
// Slots per key tile (at most MAX_TILE_KEYS), set by the host to fit the device's workgroup memory.
override TILE_KEYS: u32;
// vec4s per staged key or value: TPR * CHANNELS / 4 (the head dim padded with zeros to whole threads).
override KEY_VEC4S: u32;
// Workgroup array sizes, set by the host: TILE_KEYS * KEY_VEC4S and ROWS * TILE_KEYS * TPR.
override TILE_VEC4S: u32;
override PARTIAL_FLOATS: u32;

const WG: u32 = 64u;
// Head-dim channels per thread, as vec4s (CHANNELS = 16).
const VECS: u32 = 4u;
const MAX_TILE_KEYS: u32 = 32u;
// A finite "minus infinity" keeps exp(m_old - m_new) free of inf - inf.
const NEG_BIG: f32 = -1.0e30;

struct Step {
  seq: u32,
  start: u32,
  n: u32,
  // Split-K runs of this step (1: none); the prefill dispatch's z size.
  splits: u32,
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
@group(0) @binding(2) var<storage, read> pages: array<KvWord>;
@group(0) @binding(3) var<storage, read> positions: array<u32>;
@group(0) @binding(4) var<storage, read> blockTables: array<u32>;
@group(0) @binding(5) var<storage, read> counts: array<u32>;
@group(0) @binding(7) var<storage, read_write> rows: array<f32>;
@group(0) @binding(8) var<storage, read_write> splitPartials: array<f32>;
@group(1) @binding(0) var<storage, read> q: array<f32>;
@group(1) @binding(1) var<storage, read_write> out: array<f32>;

var<workgroup> kTile: array<vec4<f32>, TILE_VEC4S>;
var<workgroup> vTile: array<vec4<f32>, TILE_VEC4S>;
var<workgroup> posTile: array<u32, MAX_TILE_KEYS>;
var<workgroup> partials: array<f32, PARTIAL_FLOATS>;

//#include rope
//#include kv-read

fn pageOf(g: u32, slot: u32) -> u32 {
  return blockTables[((step.seq * MAX_PAGES + slot / PAGE) * NUM_LAYERS + layer.index) * NUM_KV_HEADS + g];
}

/** Channel c of row t, head h's query, rotated and scaled; 0 past the head dim (the padding). */
fn rotatedQuery(t: u32, h: u32, c: u32) -> f32 {
  if (c >= D) {
    return 0.0;
  }
  let half = D / 2u;
  let f = ropeFrequency(c);
  let src = t * NUM_HEADS * D + h * D;
  let cs = step.rope[t * half + f];
  let sn = step.rope[step.n * half + t * half + f];
  return (q[src + c] * cs + ropeSign(c) * q[src + ropePartner(c)] * sn) * SCALE;
}

/** Four channels from `base` (a key or value row of the arena), zero past the head dim. */
fn arenaVec4(base: u32, c: u32) -> vec4<f32> {
  if (c + 3u < D) {
    return kvLoad4(base + c);
  }
  var v = vec4<f32>(0.0);
  for (var k = 0u; k < 4u; k++) {
    if (c + k < D) {
      v[k] = kvLoad(base + c + k);
    }
  }
  return v;
}

@compute @workgroup_size(64)
fn prefill(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = NUM_HEADS / NUM_KV_HEADS;
  let g = wid.y;
  let n = step.n;
  let total = n * group;
  let rowLocal = lid / TPR;
  let part = lid % TPR;
  let row = wid.x * ROWS + rowLocal;
  let member = rowLocal < ROWS;
  let live = member && row < total;
  let t = min(row / group, n - 1u);
  let h = g * group + row % group;
  let qPos = step.start + t;
  let cached = counts[(step.seq * NUM_LAYERS + layer.index) * NUM_KV_HEADS + g];
  // Chunk token t sits in slot cached + t, so slots past this workgroup's last token are in every row's future.
  let lastRow = min(wid.x * ROWS + ROWS, total) - 1u;
  let bound = cached + lastRow / group + 1u;
  // Split z of S takes an equal run of the key tiles below the bound (possibly none).
  let numSplits = grid.z;
  let tiles = (bound + TILE_KEYS - 1u) / TILE_KEYS;
  let perSplit = (tiles + numSplits - 1u) / numSplits;
  let first = min(wid.z * perSplit, tiles) * TILE_KEYS;
  let end = min(min(wid.z * perSplit + perSplit, tiles) * TILE_KEYS, bound);

  var qr: array<vec4<f32>, VECS>;
  var acc: array<vec4<f32>, VECS>;
  for (var k = 0u; k < VECS; k++) {
    let c = (part * VECS + k) * 4u;
    qr[k] = vec4<f32>(rotatedQuery(t, h, c), rotatedQuery(t, h, c + 1u), rotatedQuery(t, h, c + 2u), rotatedQuery(t, h, c + 3u));
    acc[k] = vec4<f32>(0.0);
  }
  var m = NEG_BIG;
  var l = 0.0;

  for (var start = first; start < end; start += TILE_KEYS) {
    let keys = min(TILE_KEYS, end - start);
    for (var idx = lid; idx < keys * KEY_VEC4S; idx += WG) {
      let slot = start + idx / KEY_VEC4S;
      let base = pageOf(g, slot) * 2u * PAGE * D + (slot % PAGE) * D;
      let c = (idx % KEY_VEC4S) * 4u;
      kTile[idx] = arenaVec4(base, c);
      vTile[idx] = arenaVec4(base + PAGE * D, c);
    }
    if (lid < keys) {
      let slot = start + lid;
      posTile[lid] = positions[pageOf(g, slot) * PAGE + slot % PAGE];
    }
    workgroupBarrier();
    if (member) {
      for (var j = 0u; j < keys; j++) {
        let key = j * KEY_VEC4S + part * VECS;
        var sum = 0.0;
        for (var k = 0u; k < VECS; k++) {
          sum += dot(qr[k], kTile[key + k]);
        }
        partials[(rowLocal * TILE_KEYS + j) * TPR + part] = sum;
      }
    }
    workgroupBarrier();
    if (live) {
      var scores: array<f32, MAX_TILE_KEYS>;
      var tileMax = m;
      for (var j = 0u; j < keys; j++) {
        if (posTile[j] <= qPos) {
          var s = 0.0;
          let at = (rowLocal * TILE_KEYS + j) * TPR;
          for (var p = 0u; p < TPR; p++) {
            s += partials[at + p];
          }
          scores[j] = s;
          tileMax = max(tileMax, s);
        }
      }
      let corr = exp(m - tileMax);
      l *= corr;
      for (var k = 0u; k < VECS; k++) {
        acc[k] *= corr;
      }
      for (var j = 0u; j < keys; j++) {
        if (posTile[j] <= qPos) {
          let p = exp(scores[j] - tileMax);
          l += p;
          let value = j * KEY_VEC4S + part * VECS;
          for (var k = 0u; k < VECS; k++) {
            acc[k] += p * vTile[value + k];
          }
        }
      }
      m = tileMax;
    }
    workgroupBarrier();
  }

  if (live && numSplits > 1u) {
    // Unnormalized: merge rescales by the row's global max. A split that saw no slot leaves m = NEG_BIG, l = 0.
    let dst = ((t * NUM_HEADS + h) * numSplits + wid.z) * (D + 2u);
    for (var k = 0u; k < VECS; k++) {
      for (var i = 0u; i < 4u; i++) {
        let c = (part * VECS + k) * 4u + i;
        if (c < D) {
          splitPartials[dst + c] = acc[k][i];
        }
      }
    }
    if (part == 0u) {
      splitPartials[dst + D] = m;
      splitPartials[dst + D + 1u] = l;
    }
  } else if (live) {
    // Every row sees at least its own token, so l > 0.
    let dst = t * NUM_HEADS * D + h * D;
    for (var k = 0u; k < VECS; k++) {
      for (var i = 0u; i < 4u; i++) {
        let c = (part * VECS + k) * 4u + i;
        if (c < D) {
          out[dst + c] = acc[k][i] / l;
        }
      }
    }
    if (part == 0u) {
      let r = (h * MAX_ROWS + t) * 2u;
      rows[r] = m;
      rows[r + 1u] = l;
    }
  }
}

// Split-K merge: one thread per (row, head, channel) combines the S partials of its row; channel 0 writes the row's
// max and sum for the statistics kernels.
@compute @workgroup_size(64)
fn merge(@builtin(global_invocation_id) gid: vec3<u32>) {
  let numSplits = step.splits;
  let c = gid.x % D;
  let th = gid.x / D;
  if (th >= step.n * NUM_HEADS) {
    return;
  }
  let base = th * numSplits * (D + 2u);
  var m = NEG_BIG;
  for (var s = 0u; s < numSplits; s++) {
    m = max(m, splitPartials[base + s * (D + 2u) + D]);
  }
  var l = 0.0;
  var acc = 0.0;
  for (var s = 0u; s < numSplits; s++) {
    let at = base + s * (D + 2u);
    let w = exp(splitPartials[at + D] - m);
    l += splitPartials[at + D + 1u] * w;
    acc += splitPartials[at + c] * w;
  }
  out[th * D + c] = acc / l;
  if (c == 0u) {
    let t = th / NUM_HEADS;
    let h = th % NUM_HEADS;
    let r = (h * MAX_ROWS + t) * 2u;
    rows[r] = m;
    rows[r + 1u] = l;
  }
}
