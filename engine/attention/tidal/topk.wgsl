// Per-row top-k over f32 scores, ties to the lower index, chosen indices written in ascending order: one workgroup
// per row finds the k-th largest score by a radix search over order-preserving keys, 4 bits a pass (8 passes over the
// row, each thread counting its strided, coalesced share for all 15 digit thresholds at once in registers), then
// places the row's chosen indices with prefix sums over contiguous per-thread chunks, reading 4 keys per iteration.
// The H200 run of 2026-12-04 spent about 3.5 ms per selecting layer at 130K candidates in this kernel's former
// 32 one-bit passes (Double Sparsity selects at 14 layers: 57 ms a step). Used by TidalDecode, Double Sparsity, FASA
// and Recycled Attention.
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

// Per digit j of the pass: keys whose bits above the digit match the prefix and whose digit is at least j.
var<workgroup> atLeast: array<atomic<u32>, 16>;
var<workgroup> prefix: array<u32, WG>;
var<workgroup> shared_key: u32;
var<workgroup> shared_above: u32;

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
  // The k-th largest key: the largest t with count(key >= t) >= k, built from the top digit down. `above` counts
  // the keys whose bits above the current digit exceed the threshold's (all >= any candidate of this digit).
  var threshold = 0u;
  if (lid == 0u) {
    shared_above = 0u;
  }
  if (k < n) {
    var aboveKeys = 0u;
    for (var shift = 28u; ; shift -= 4u) {
      if (lid < 16u) {
        atomicStore(&atLeast[lid], 0u);
      }
      workgroupBarrier();
      // Bits above the digit: none on the first pass (a u32 shift by 32 is not defined in WGSL).
      let highMask = select(~((16u << shift) - 1u), 0u, shift == 28u);
      var counts: array<u32, 16>;
      for (var j = 0u; j < 16u; j++) {
        counts[j] = 0u;
      }
      // Four keys in flight per iteration (indices past the row clamped, then skipped).
      for (var i = lid; i < n; i += 4u * WG) {
        let keys = vec4<u32>(scoreKey(row, i), scoreKey(row, min(i + WG, n - 1u)), scoreKey(row, min(i + 2u * WG, n - 1u)), scoreKey(row, min(i + 3u * WG, n - 1u)));
        for (var u = 0u; u < 4u; u++) {
          let key = keys[u];
          if (i + u * WG < n && (key & highMask) == (threshold & highMask)) {
            let digit = (key >> shift) & 15u;
            for (var j = 1u; j < 16u; j++) {
              counts[j] += select(0u, 1u, digit >= j);
            }
          }
        }
      }
      for (var j = 1u; j < 16u; j++) {
        if (counts[j] != 0u) {
          atomicAdd(&atLeast[j], counts[j]);
        }
      }
      workgroupBarrier();
      if (lid == 0u) {
        // The largest digit whose candidate still has k keys at or above it (digit 0 always has: the invariant).
        var digit = 0u;
        for (var j = 15u; j >= 1u; j--) {
          if (aboveKeys + atomicLoad(&atLeast[j]) >= k) {
            digit = j;
            break;
          }
        }
        shared_key = threshold | (digit << shift);
        // Keys of this prefix with a larger digit join those above the new prefix.
        if (digit < 15u) {
          shared_above = aboveKeys + atomicLoad(&atLeast[digit + 1u]);
        } else {
          shared_above = aboveKeys;
        }
      }
      workgroupBarrier();
      threshold = shared_key;
      aboveKeys = shared_above;
      workgroupBarrier();
      if (shift == 0u) {
        break;
      }
    }
  }
  // Above the threshold: all chosen (aboveKeys of them). Equal to it: the lowest indices, as many as k leaves.
  var equal = 0u;
  for (var i = begin; i < end; i += 4u) {
    let keys = chunkKeys(row, i, end);
    for (var u = 0u; u < 4u && i + u < end; u++) {
      equal += select(0u, 1u, keys[u] == threshold);
    }
  }
  let equalBefore = exclusiveScan(lid, equal);
  let equalTaken = select(k - aboveKeysShared(), n, k >= n); // k == n: threshold 0 takes every key
  var chosen = 0u;
  var seen = equalBefore;
  for (var i = begin; i < end; i += 4u) {
    let keys = chunkKeys(row, i, end);
    for (var u = 0u; u < 4u && i + u < end; u++) {
      let key = keys[u];
      if (key > threshold) {
        chosen++;
      } else if (key == threshold) {
        chosen += select(0u, 1u, seen < equalTaken);
        seen++;
      }
    }
  }
  var at = exclusiveScan(lid, chosen);
  seen = equalBefore;
  for (var i = begin; i < end; i += 4u) {
    let keys = chunkKeys(row, i, end);
    for (var u = 0u; u < 4u && i + u < end; u++) {
      let key = keys[u];
      var take = key > threshold;
      if (key == threshold) {
        take = seen < equalTaken;
        seen++;
      }
      if (take) {
        out[row * params.outStride + at] = i + u;
        at++;
      }
    }
  }
  if (lid == 0u) {
    outLengths[row] = k;
  }
}

// Keys i .. i + 3 of a thread's chunk (those at or past `end` repeat end - 1; callers skip them): four loads in flight.
fn chunkKeys(row: u32, i: u32, end: u32) -> vec4<u32> {
  return vec4<u32>(scoreKey(row, i), scoreKey(row, min(i + 1u, end - 1u)), scoreKey(row, min(i + 2u, end - 1u)), scoreKey(row, min(i + 3u, end - 1u)));
}

// Keys above the threshold, as the search left them (read after its last barrier; 0 when k >= n: no search ran).
fn aboveKeysShared() -> u32 {
  return shared_above;
}
