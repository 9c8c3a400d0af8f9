// Per-row top-k over f32 scores, ties to the lower index, chosen indices written in ascending order: one workgroup
// per row finds the k-th largest score by a bitwise search over order-preserving keys, then places the rows'
// chosen indices with prefix sums over contiguous per-thread chunks. Used by TidalDecode and Recycled Attention.
//
// Binding layout
//   0 params     uniform             Params
//   1 scores     storage read        [rows][stride] f32 (from `offset`)
//   2 out        storage read_write  [rows][outStride] u32 chosen indices, ascending
//   3 outLengths storage read_write  [rows] u32 min(k, n)
// Dispatch: (rows).

const WG: u32 = 256u;

struct Params {
  stride: u32,
  offset: u32,
  // Candidates 0 .. n-1 of every row, and how many to choose.
  n: u32,
  k: u32,
  outStride: u32,
  pad0: u32,
  pad1: u32,
  pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> scores: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
@group(0) @binding(3) var<storage, read_write> outLengths: array<u32>;

var<workgroup> total: atomic<u32>;
var<workgroup> prefix: array<u32, WG>;
var<workgroup> shared_key: u32;

// Larger float, larger key (negative floats reversed).
fn keyOf(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  return select(b | 0x80000000u, ~b, (b >> 31u) == 1u);
}

fn scoreKey(row: u32, i: u32) -> u32 {
  return keyOf(scores[params.offset + row * params.stride + i]);
}

// Exclusive prefix sum of one value per thread, in `prefix`; returns this thread's offset and leaves the total in
// prefix[WG - 1] + the last value (callers keep their own value).
fn exclusiveScan(lid: u32, value: u32) -> u32 {
  prefix[lid] = value;
  workgroupBarrier();
  if (lid == 0u) {
    var run = 0u;
    for (var t = 0u; t < WG; t++) {
      let v = prefix[t];
      prefix[t] = run;
      run += v;
    }
  }
  workgroupBarrier();
  let mine = prefix[lid];
  workgroupBarrier();
  return mine;
}

@compute @workgroup_size(256)
fn topK(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x;
  let n = params.n;
  let k = min(params.k, n);
  if (k == 0u) {
    if (lid == 0u) {
      outLengths[row] = 0u;
    }
    return;
  }
  let chunk = (n + WG - 1u) / WG;
  let begin = min(lid * chunk, n);
  let end = min(begin + chunk, n);
  // The k-th largest key: the largest t with count(key >= t) >= k, built from the top bit down.
  var threshold = 0u;
  if (k < n) {
    for (var bit = 31i; bit >= 0i; bit--) {
      let candidate = threshold | (1u << u32(bit));
      if (lid == 0u) {
        atomicStore(&total, 0u);
      }
      workgroupBarrier();
      var count = 0u;
      for (var i = begin; i < end; i++) {
        count += select(0u, 1u, scoreKey(row, i) >= candidate);
      }
      atomicAdd(&total, count);
      workgroupBarrier();
      if (lid == 0u) {
        shared_key = select(threshold, candidate, atomicLoad(&total) >= k);
      }
      workgroupBarrier();
      threshold = shared_key;
      workgroupBarrier();
    }
  }
  // Above the threshold: all chosen. Equal to it: the lowest indices, as many as k leaves.
  var above = 0u;
  var equal = 0u;
  for (var i = begin; i < end; i++) {
    let key = scoreKey(row, i);
    above += select(0u, 1u, key > threshold);
    equal += select(0u, 1u, key == threshold);
  }
  if (lid == 0u) {
    atomicStore(&total, 0u);
  }
  workgroupBarrier();
  atomicAdd(&total, above);
  workgroupBarrier();
  let aboveAll = atomicLoad(&total);
  let equalBefore = exclusiveScan(lid, equal);
  let equalTaken = select(k - aboveAll, n, k >= n); // k == n: threshold 0 takes every key
  var chosen = 0u;
  var seen = equalBefore;
  for (var i = begin; i < end; i++) {
    let key = scoreKey(row, i);
    if (key > threshold) {
      chosen++;
    } else if (key == threshold) {
      chosen += select(0u, 1u, seen < equalTaken);
      seen++;
    }
  }
  var at = exclusiveScan(lid, chosen);
  seen = equalBefore;
  for (var i = begin; i < end; i++) {
    let key = scoreKey(row, i);
    var take = key > threshold;
    if (key == threshold) {
      take = seen < equalTaken;
      seen++;
    }
    if (take) {
      out[row * params.outStride + at] = i;
      at++;
    }
  }
  if (lid == 0u) {
    outLengths[row] = k;
  }
}
