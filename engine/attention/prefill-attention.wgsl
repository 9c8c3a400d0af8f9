// Prefill attention as tiled flash attention: causal softmax attention of n new queries over every cached slot of
// the sequence (earlier turns plus this chunk, already appended), GQA and RoPE on q on the fly, online softmax.
// Also writes each query row's softmax max and sum (the statistics kernels' column sums divide by them).
//
// Binding layout
//   @group(0) static per layer:
//     0 step        storage read        Step: seq slot, start position, n tokens, cos [n][D/2], sin [n][D/2]
//     1 layer       uniform             LayerParams: the layer index
//     2 pages       storage read        the layer's arena: [page][K|V][PAGE][D] in the KV dtype (engine/wgsl kv-read; K after RoPE;
//                                       f16 pages are packed u32 pairs, unpacked by core WGSL: no shader-f16 needed)
//     3 positions   storage read        [page][PAGE] u32 true positions (the causal mask)
//     4 blockTables storage read        [seq][MAX_PAGES][NUM_LAYERS][NUM_KV_HEADS] u32
//     5 counts      storage read        [seq][NUM_LAYERS][NUM_KV_HEADS] u32 slots cached BEFORE this chunk
//     7 rows        storage read_write  (max, sum) per (query head, row): [NUM_HEADS][MAX_ROWS][2] f32
//     8 splitPartials storage read_write  split-K partials: [n][NUM_HEADS][S][D + 2] f32 (acc, max, sum), S > 1 only
//   @group(1):
//     0 q           storage read        [n][NUM_HEADS * D] f32, not rotated
//     1 out         storage read_write  [n][NUM_HEADS * D] f32
// Dispatch: prefill (ceil(n * GROUP / BR), NUM_KV_HEADS, S). A workgroup takes BR query rows (row = token * GROUP +
// query head of the group: the rows of a block of tokens of ONE KV head, all its query heads) and walks the key
// tiles its rows can see, BC slots at a time. With S = 1 it writes out and rows; with S > 1 (too few workgroups to
// fill the device) workgroup z walks the z-th of S equal runs of key tiles and writes its unnormalized partial, and
// merge (ceil(n * NUM_HEADS * D / 64)) combines the S partials of every row as the decode kernel's reduce does.
//
// Register tiles: the WG = RT x CT threads form RT row groups of 4 rows and CT key groups; thread (rt, ct) holds
// the scores of its 4 rows x 4 keys of the tile (S = Q K^T, 16 in registers) and the output of its 4 rows over
// dims ct*4 .. +4 of every DC-wide chunk of the head dim (O += P V). Per tile:
//   1. K, DC dims at a time, staged transposed in workgroup memory (kv[dim][key]); the rotated, scaled queries were
//      staged once, transposed (qs[dim][row]), so each step of the dot product reads one vec4 of 4 rows (the same
//      for the row group's CT threads: a broadcast) and one vec4 of 4 keys and does 16 FMAs;
//   2. the causal mask (true positions), each thread's row maxima over its 4 keys through workgroup memory, the
//      rows' new running max m (the same in every thread of a row group), p = exp(s - m), the rescale of O and of the
//      thread's share of the row sums l (summed over the row group once, at the end);
//   3. P transposed into workgroup memory (ps[key][row]) and V, DC dims at a time (kv[key][dim]): per key one vec4
//      of 4 rows' p and one vec4 of 4 dims of V, 16 FMAs.
// DC = 4 * CT, BR = 4 * RT, BC = 4 * CT; the host picks (CT, RT) to fit the device's workgroup memory
// (prefillTiling in paged-attention.ts) and the head dim is padded with zeros to whole chunks (at most 4).
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
// Key groups (4, 8 or 16) and row groups of a workgroup; WG = RT * CT threads.
override CT: u32;
override RT: u32;
override WG: u32;
// Workgroup array sizes in vec4s, set by the host: BR * NCH * DC / 4, BC * DC / 4, BR * BC / 4, CT * RT.
override Q_VEC4S: u32;
override KV_VEC4S: u32;
override P_VEC4S: u32;
override M_VEC4S: u32;

// Most key groups: the positions tile holds 4 * MAX_CT slots; the output registers hold MAX_CHUNKS chunks of 4 rows.
const MAX_CT: u32 = 16u;
const MAX_CHUNKS: u32 = 4u;
// A finite "minus infinity" keeps exp(m_old - m_new) free of inf - inf.
const NEG_BIG: f32 = -1.0e30;
// The position of a slot past the tile's keys: in every row's future.
const NO_KEY: u32 = 0xffffffffu;

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

// qs[dim][row], kv[dim][key] (K) or kv[key][dim] (V), ps[key][row], rowMax[ct][rt]: vec4s over rows, keys or dims.
var<workgroup> qs: array<vec4<f32>, Q_VEC4S>;
var<workgroup> kv: array<vec4<f32>, KV_VEC4S>;
var<workgroup> ps: array<vec4<f32>, P_VEC4S>;
var<workgroup> rowMax: array<vec4<f32>, M_VEC4S>;
var<workgroup> posTile: array<u32, 4u * MAX_CT>;

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

/** Element base of slot `slot`'s key row in the arena (its value row is PAGE * D further). */
fn slotBase(g: u32, slot: u32) -> u32 {
  return pageOf(g, slot) * 2u * PAGE * D + (slot % PAGE) * D;
}

fn max4(v: vec4<f32>) -> f32 {
  return max(max(v.x, v.y), max(v.z, v.w));
}

fn sum4(v: vec4<f32>) -> f32 {
  return dot(v, vec4<f32>(1.0));
}

@compute @workgroup_size(WG)
fn prefill(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = NUM_HEADS / NUM_KV_HEADS;
  let BR = 4u * RT;
  let BC = 4u * CT;
  let DC = 4u * CT;
  let chunks = (D + DC - 1u) / DC;
  let g = wid.y;
  let n = step.n;
  let total = n * group;
  let rt = lid / CT;
  let ct = lid % CT;
  let row0 = wid.x * BR;
  let cached = counts[(step.seq * NUM_LAYERS + layer.index) * NUM_KV_HEADS + g];
  // Chunk token t sits in slot cached + t, so slots past this workgroup's last token are in every row's future.
  let lastRow = min(row0 + BR, total) - 1u;
  let bound = cached + lastRow / group + 1u;
  // Split z of S takes an equal run of the key tiles below the bound (possibly none).
  let numSplits = grid.z;
  let tiles = (bound + BC - 1u) / BC;
  let perSplit = (tiles + numSplits - 1u) / numSplits;
  let first = min(wid.z * perSplit, tiles) * BC;
  let end = min(min(wid.z * perSplit + perSplit, tiles) * BC, bound);

  // The workgroup's queries, rotated and scaled, transposed: qs[dim * BR / 4 + row / 4][row % 4].
  for (var idx = lid; idx < BR * chunks * DC; idx += WG) {
    let r = idx % BR;
    let c = idx / BR;
    let row = row0 + r;
    var v = 0.0;
    if (row < total) {
      v = rotatedQuery(row / group, g * group + row % group, c);
    }
    qs[(c * BR + r) / 4u][r % 4u] = v;
  }
  // The true positions of the thread's 4 rows (a row past the chunk takes the last token's: computed, never written).
  var qPos: vec4<u32>;
  for (var r = 0u; r < 4u; r++) {
    qPos[r] = step.start + min((row0 + rt * 4u + r) / group, n - 1u);
  }

  var m = vec4<f32>(NEG_BIG);
  var l = vec4<f32>(0.0);
  // acc[ch * 4 + r]: row r's output over dims ch * DC + ct * 4 .. + 4.
  var acc: array<vec4<f32>, 4u * MAX_CHUNKS>;

  for (var start = first; start < end; start += BC) {
    let keys = min(BC, end - start);
    // s_r: row r's scores over the thread's 4 keys.
    var s0 = vec4<f32>(0.0);
    var s1 = vec4<f32>(0.0);
    var s2 = vec4<f32>(0.0);
    var s3 = vec4<f32>(0.0);
    for (var ch = 0u; ch < chunks; ch++) {
      workgroupBarrier();
      // K's dims ch * DC .. + DC, transposed: kv[dim * BC / 4 + key / 4][key % 4]; consecutive threads take
      // consecutive keys, so the transposed stores hit consecutive words.
      for (var idx = lid; idx < BC * DC / 4u; idx += WG) {
        let j = idx % BC;
        let quad = idx / BC;
        var v = vec4<f32>(0.0);
        if (j < keys) {
          v = arenaVec4(slotBase(g, start + j), ch * DC + quad * 4u);
        }
        let at = (quad * 4u * BC + j) / 4u;
        let lane = j % 4u;
        kv[at][lane] = v.x;
        kv[at + BC / 4u][lane] = v.y;
        kv[at + BC / 2u][lane] = v.z;
        kv[at + 3u * BC / 4u][lane] = v.w;
      }
      if (ch == 0u && lid < BC) {
        var p = NO_KEY;
        if (lid < keys) {
          let slot = start + lid;
          p = positions[pageOf(g, slot) * PAGE + slot % PAGE];
        }
        posTile[lid] = p;
      }
      workgroupBarrier();
      let qBase = ch * DC * BR / 4u + rt;
      for (var dd = 0u; dd < DC; dd++) {
        let qv = qs[qBase + dd * BR / 4u];
        let kk = kv[dd * BC / 4u + ct];
        s0 += qv.x * kk;
        s1 += qv.y * kk;
        s2 += qv.z * kk;
        s3 += qv.w * kk;
      }
    }
    let kPos = vec4<u32>(posTile[ct * 4u], posTile[ct * 4u + 1u], posTile[ct * 4u + 2u], posTile[ct * 4u + 3u]);
    let see0 = kPos <= vec4<u32>(qPos.x);
    let see1 = kPos <= vec4<u32>(qPos.y);
    let see2 = kPos <= vec4<u32>(qPos.z);
    let see3 = kPos <= vec4<u32>(qPos.w);
    let neg = vec4<f32>(NEG_BIG);
    s0 = select(neg, s0, see0);
    s1 = select(neg, s1, see1);
    s2 = select(neg, s2, see2);
    s3 = select(neg, s3, see3);
    rowMax[ct * RT + rt] = vec4<f32>(max4(s0), max4(s1), max4(s2), max4(s3));
    workgroupBarrier();
    var mNew = m;
    for (var c = 0u; c < CT; c++) {
      mNew = max(mNew, rowMax[c * RT + rt]);
    }
    let corr = exp(m - mNew);
    m = mNew;
    // A masked key adds nothing (a row whose tile is all future keeps p = 0, not exp(NEG_BIG - NEG_BIG)).
    let zero = vec4<f32>(0.0);
    let p0 = select(zero, exp(s0 - vec4<f32>(mNew.x)), see0);
    let p1 = select(zero, exp(s1 - vec4<f32>(mNew.y)), see1);
    let p2 = select(zero, exp(s2 - vec4<f32>(mNew.z)), see2);
    let p3 = select(zero, exp(s3 - vec4<f32>(mNew.w)), see3);
    l = l * corr + vec4<f32>(sum4(p0), sum4(p1), sum4(p2), sum4(p3));
    let pAt = ct * 4u * BR / 4u + rt;
    ps[pAt] = vec4<f32>(p0.x, p1.x, p2.x, p3.x);
    ps[pAt + BR / 4u] = vec4<f32>(p0.y, p1.y, p2.y, p3.y);
    ps[pAt + BR / 2u] = vec4<f32>(p0.z, p1.z, p2.z, p3.z);
    ps[pAt + 3u * BR / 4u] = vec4<f32>(p0.w, p1.w, p2.w, p3.w);
    for (var ch = 0u; ch < chunks; ch++) {
      workgroupBarrier();
      // V's dims ch * DC .. + DC: kv[key * DC / 4 + dim / 4].
      for (var idx = lid; idx < BC * DC / 4u; idx += WG) {
        let j = idx / (DC / 4u);
        let quad = idx % (DC / 4u);
        var v = vec4<f32>(0.0);
        if (j < keys) {
          v = arenaVec4(slotBase(g, start + j) + PAGE * D, ch * DC + quad * 4u);
        }
        kv[idx] = v;
      }
      workgroupBarrier();
      var a0 = acc[ch * 4u] * corr.x;
      var a1 = acc[ch * 4u + 1u] * corr.y;
      var a2 = acc[ch * 4u + 2u] * corr.z;
      var a3 = acc[ch * 4u + 3u] * corr.w;
      for (var j = 0u; j < keys; j++) {
        let pv = ps[j * BR / 4u + rt];
        let vv = kv[j * DC / 4u + ct];
        a0 += pv.x * vv;
        a1 += pv.y * vv;
        a2 += pv.z * vv;
        a3 += pv.w * vv;
      }
      acc[ch * 4u] = a0;
      acc[ch * 4u + 1u] = a1;
      acc[ch * 4u + 2u] = a2;
      acc[ch * 4u + 3u] = a3;
    }
  }

  // The rows' sums: each thread summed its own keys; the row group's CT shares meet in workgroup memory.
  workgroupBarrier();
  rowMax[ct * RT + rt] = l;
  workgroupBarrier();
  var lSum = vec4<f32>(0.0);
  for (var c = 0u; c < CT; c++) {
    lSum += rowMax[c * RT + rt];
  }

  for (var r = 0u; r < 4u; r++) {
    let row = row0 + rt * 4u + r;
    if (row >= total) {
      continue;
    }
    let t = row / group;
    let h = g * group + row % group;
    if (numSplits > 1u) {
      // Unnormalized: merge rescales by the row's global max. A split that saw no slot leaves m = NEG_BIG, l = 0.
      let dst = ((t * NUM_HEADS + h) * numSplits + wid.z) * (D + 2u);
      for (var ch = 0u; ch < chunks; ch++) {
        let a = acc[ch * 4u + r];
        for (var i = 0u; i < 4u; i++) {
          let c = ch * DC + ct * 4u + i;
          if (c < D) {
            splitPartials[dst + c] = a[i];
          }
        }
      }
      if (ct == 0u) {
        splitPartials[dst + D] = m[r];
        splitPartials[dst + D + 1u] = lSum[r];
      }
    } else {
      // Every row sees at least its own token, so its sum is > 0.
      let dst = t * NUM_HEADS * D + h * D;
      for (var ch = 0u; ch < chunks; ch++) {
        let a = acc[ch * 4u + r] / lSum[r];
        for (var i = 0u; i < 4u; i++) {
          let c = ch * DC + ct * 4u + i;
          if (c < D) {
            out[dst + c] = a[i];
          }
        }
      }
      if (ct == 0u) {
        let at = (h * MAX_ROWS + t) * 2u;
        rows[at] = m[r];
        rows[at + 1u] = lSum[r];
      }
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
