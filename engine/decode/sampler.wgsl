// The sampler on the GPU: one decode step's logits -> the next id, written where the next step's embedding reads
// it, so the host encodes step t+1 before step t's id is known and reads back only ids. The same rule as the CPU
// TokenSampler (engine/generation: processors.ts, sampler.ts, random.ts), in the same f32 arithmetic:
//   x = logit + bias; seen (prompt or output): x * (x > 0 ? 1/rep : rep); generated c times: x - presence, x - freq*c;
//   temperature 0: the argmax of x (ties to the lower id). Else x * (1/T), then keep x >= each threshold:
//   top-k: the k-th largest x (found by bisection on the order-preserving u32 key of f32: exact);
//   top-p: the largest x whose kept mass sum(exp(x' - max), x' >= x) reaches p of the kept total;
//   min-p: max + ln(minP) (the host passes ln(minP) rounded to f32);
//   then the Gumbel-max draw: the kept id with the largest x + g, g = -ln(-ln(u)), u the counter-based uniform of
//   (seed, step, id) (random.ts's pcgHash lines, repeated here).
// Every logit's raw value is checked first: a NaN or infinity sets choice[1] (the host raises NonFiniteLogitsError).
// Afterwards the chosen id's generated count goes up by one and the step counter choice[2] too, so the next step's
// penalties and noise follow without a host write.
//
// Binding layout (@group(0)):
//   0 logits   storage read_write  [VOCAB] f32: the step's logits; left holding the processed x
//   1 params   uniform             Params (below), written once per request
//   2 history  storage read_write  [VOCAB] u32: bit 31 = the id is in the prompt, bits 0-30 = times generated
//   3 bias     storage read        [VOCAB] f32 logit bias (zeros where none)
//   4 choice   storage read_write  [4] u32: [0] the chosen id (the decoder's id buffer), [1] 1 when a logit was not
//                                  finite, [2] the generation step of the next choice (the noise counter)
// Dispatch: 1 workgroup of WG threads. Thread t owns ids t, t + WG, ...: the passes below never read another
// thread's ids, so they need no storage barrier; reductions go through workgroup memory.

override VOCAB: u32;
override WG: u32 = 256u;

const SEEN: u32 = 0x80000000u;
const NONE: u32 = 0xffffffffu;
const FLAG_SAMPLE: u32 = 1u;
const FLAG_PENALTIES: u32 = 2u;
const FLAG_BIAS: u32 = 4u;
const FLAG_MIN_P: u32 = 8u;

struct Params {
  flags: u32,
  // 0 = off.
  topK: u32,
  // The request's seed key (random.ts seedKey).
  key: u32,
  pad0: u32,
  invTemperature: f32,
  // 1 = off.
  topP: f32,
  logMinP: f32,
  repetition: f32,
  invRepetition: f32,
  presence: f32,
  frequency: f32,
  pad1: f32,
}

@group(0) @binding(0) var<storage, read_write> logits: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read_write> history: array<u32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> choice: array<u32>;

var<workgroup> sumF: array<f32, WG>;
var<workgroup> sumU: array<u32, WG>;
var<workgroup> bestIndex: array<u32, WG>;

fn isNonFinite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u;
}

// The order-preserving u32 key of an f32 (larger float, larger key).
fn keyOf(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn pcgHash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

fn gumbel(stepKey: u32, i: u32) -> f32 {
  let h = pcgHash(pcgHash(i ^ params.key) ^ stepKey);
  // Times 2^-24: exact, as the CPU's division by 2^24.
  let u = (f32(h >> 8u) + 0.5) * 5.9604644775390625e-8;
  return -log(-log(u));
}

fn reduceSum(lid: u32, v: f32) -> f32 {
  sumF[lid] = v;
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    workgroupBarrier();
    if (lid < stride) {
      sumF[lid] = sumF[lid] + sumF[lid + stride];
    }
  }
  return workgroupUniformLoad(&sumF[0]);
}

fn reduceCount(lid: u32, v: u32) -> u32 {
  sumU[lid] = v;
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    workgroupBarrier();
    if (lid < stride) {
      sumU[lid] = sumU[lid] + sumU[lid + stride];
    }
  }
  return workgroupUniformLoad(&sumU[0]);
}

// The largest (value, ties to the lower index) over the workgroup; index NONE = no candidate.
fn reduceBest(lid: u32, value: f32, index: u32) -> u32 {
  sumF[lid] = value;
  bestIndex[lid] = index;
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    workgroupBarrier();
    if (lid < stride) {
      let v = sumF[lid + stride];
      let j = bestIndex[lid + stride];
      if (j != NONE && (bestIndex[lid] == NONE || v > sumF[lid] || (v == sumF[lid] && j < bestIndex[lid]))) {
        sumF[lid] = v;
        bestIndex[lid] = j;
      }
    }
  }
  return workgroupUniformLoad(&bestIndex[0]);
}

// How many x have key >= t.
fn countAtLeast(lid: u32, t: u32) -> u32 {
  var n = 0u;
  for (var i = lid; i < VOCAB; i += WG) {
    n += select(0u, 1u, keyOf(logits[i]) >= t);
  }
  return reduceCount(lid, n);
}

// Mass sum(exp(x - top)) of the x with key >= t.
fn massAtLeast(lid: u32, t: u32, top: f32) -> f32 {
  var m = 0.0;
  for (var i = lid; i < VOCAB; i += WG) {
    let x = logits[i];
    if (keyOf(x) >= t) {
      m += exp(x - top);
    }
  }
  return reduceSum(lid, m);
}

@compute @workgroup_size(WG)
fn sample(@builtin(local_invocation_index) lid: u32) {
  let flags = params.flags;
  let sampling = (flags & FLAG_SAMPLE) != 0u;
  // Pass 1: raw check, bias, penalties, temperature; the processed x stays in `logits`.
  var bad = 0u;
  var top = -3.4028234e38;
  var topIndex = NONE;
  for (var i = lid; i < VOCAB; i += WG) {
    var x = logits[i];
    if (isNonFinite(x)) {
      bad = 1u;
    }
    if ((flags & FLAG_BIAS) != 0u) {
      x = x + bias[i];
    }
    if ((flags & FLAG_PENALTIES) != 0u) {
      let h = history[i];
      let c = h & ~SEEN;
      if (h != 0u) {
        x = x * select(params.repetition, params.invRepetition, x > 0.0);
      }
      if (c != 0u) {
        x = x - params.presence;
        x = x - params.frequency * f32(c);
      }
    }
    if (sampling) {
      x = x * params.invTemperature;
    }
    logits[i] = x;
    if (topIndex == NONE || x > top) {
      top = x;
      topIndex = i;
    }
  }
  let anyBad = reduceCount(lid, bad);
  var chosen = reduceBest(lid, top, topIndex);
  // The best value, read as uniform (the bisections below branch on it).
  let maxX = workgroupUniformLoad(&sumF[0]);
  if (sampling) {
    var keep = 0u;
    // top-k: the largest key t with at least k keys >= t is the k-th largest value's.
    if (params.topK > 0u && params.topK < VOCAB) {
      var lo = 0u;
      var hi = keyOf(maxX);
      for (var it = 0u; it < 33u; it++) {
        if (lo >= hi) {
          break;
        }
        let mid = hi - ((hi - lo) >> 1u);
        if (countAtLeast(lid, mid) >= params.topK) {
          lo = mid;
        } else {
          hi = mid - 1u;
        }
      }
      keep = lo;
    }
    // top-p over what top-k kept: the largest key t whose mass reaches p of the kept total.
    if (params.topP < 1.0) {
      let goal = params.topP * massAtLeast(lid, keep, maxX);
      var lo = keep;
      var hi = keyOf(maxX);
      for (var it = 0u; it < 33u; it++) {
        if (lo >= hi) {
          break;
        }
        let mid = hi - ((hi - lo) >> 1u);
        if (massAtLeast(lid, mid, maxX) >= goal) {
          lo = mid;
        } else {
          hi = mid - 1u;
        }
      }
      keep = lo;
    }
    if ((flags & FLAG_MIN_P) != 0u) {
      keep = max(keep, keyOf(maxX + params.logMinP));
    }
    // Gumbel-max over the kept ids.
    let stepKey = pcgHash(choice[2] ^ pcgHash(params.key));
    var best = -3.4028234e38;
    var bestId = NONE;
    for (var i = lid; i < VOCAB; i += WG) {
      let x = logits[i];
      if (keyOf(x) >= keep) {
        let s = x + gumbel(stepKey, i);
        if (bestId == NONE || s > best) {
          best = s;
          bestId = i;
        }
      }
    }
    chosen = reduceBest(lid, best, bestId);
  }
  if (lid == 0u) {
    let id = select(chosen, 0u, chosen == NONE);
    choice[0] = id;
    choice[1] = select(0u, 1u, anyBad != 0u);
    choice[2] = choice[2] + 1u;
    if ((flags & FLAG_PENALTIES) != 0u) {
      history[id] = history[id] + 1u;
    }
  }
}
