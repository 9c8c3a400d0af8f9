// Logits processors: small, composable steps that reshape one row of logits in place before a token is picked.
// Removed tokens are set to -Infinity, so every later step (and the sampler) simply skips them.
// The arithmetic is f32's: each parameter is rounded to f32 (Math.fround) and each result stored in the f32 row, and
// divisions are products with an f32 reciprocal, so the GPU sampler kernel (engine/decode/sampler.wgsl), whose f32
// +, - and * are correctly rounded, computes the same values bit for bit.

/** What the processors may look at: the prompt and the tokens generated so far. */
export class TokenHistory {
  readonly generated: number[] = [];
  /** Occurrences of each id among the generated tokens (presence and frequency penalties, as OpenAI defines them). */
  readonly generatedCounts = new Map<number, number>();
  /** Every id seen in prompt or output (repetition penalty, as CTRL / transformers define it). */
  readonly seen: Set<number>;

  constructor(readonly prompt: readonly number[]) {
    this.seen = new Set(prompt);
  }

  push(id: number): void {
    this.generated.push(id);
    this.generatedCounts.set(id, (this.generatedCounts.get(id) ?? 0) + 1);
    this.seen.add(id);
  }
}

export interface LogitsProcessor {
  /** Changes `logits` (one row, [vocab]) in place. */
  apply(logits: Float32Array, history: TokenHistory): void;
}

/** OpenAI's logit_bias: adds a fixed bias per token id (-100 effectively bans, +100 effectively forces). */
export class LogitBiasProcessor implements LogitsProcessor {
  constructor(private readonly bias: ReadonlyMap<number, number>) {}
  apply(logits: Float32Array): void {
    for (const [id, b] of this.bias) if (id < logits.length) logits[id] += Math.fround(b);
  }
}

/**
 * CTRL's repetition penalty (Keskar et al. 2019, as in transformers): every token already in the prompt or the
 * output has its logit divided by `penalty` when positive (times its f32 reciprocal) and multiplied by it when negative.
 */
export class RepetitionPenaltyProcessor implements LogitsProcessor {
  private readonly penalty: number;
  private readonly inverse: number;
  constructor(penalty: number) {
    this.penalty = Math.fround(penalty);
    this.inverse = Math.fround(1 / penalty);
  }
  apply(logits: Float32Array, history: TokenHistory): void {
    for (const id of history.seen) {
      const x = logits[id];
      logits[id] = x > 0 ? x * this.inverse : x * this.penalty;
    }
  }
}

/** OpenAI's presence_penalty: subtracts `penalty` once from every token that appeared in the output so far. */
export class PresencePenaltyProcessor implements LogitsProcessor {
  private readonly penalty: number;
  constructor(penalty: number) {
    this.penalty = Math.fround(penalty);
  }
  apply(logits: Float32Array, history: TokenHistory): void {
    for (const id of history.generatedCounts.keys()) logits[id] -= this.penalty;
  }
}

/** OpenAI's frequency_penalty: subtracts `penalty` times the number of times a token appeared in the output. */
export class FrequencyPenaltyProcessor implements LogitsProcessor {
  private readonly penalty: number;
  constructor(penalty: number) {
    this.penalty = Math.fround(penalty);
  }
  apply(logits: Float32Array, history: TokenHistory): void {
    for (const [id, count] of history.generatedCounts) logits[id] -= Math.fround(this.penalty * count);
  }
}

/** Divides logits by the temperature (> 0; temperature 0 is greedy and never reaches a processor). */
export class TemperatureProcessor implements LogitsProcessor {
  constructor(private readonly temperature: number) {}
  apply(logits: Float32Array): void {
    const inv = Math.fround(1 / this.temperature);
    for (let i = 0; i < logits.length; i++) logits[i] *= inv;
  }
}

/** Logits >= `floor`, sorted from the largest down (a typed-array sort: native, no comparator calls). */
function sortedDescending(logits: Float32Array, floor = -Infinity): Float32Array {
  let n = 0;
  const values = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) if (logits[i] >= floor && logits[i] > -Infinity) values[n++] = logits[i];
  return values.subarray(0, n).sort().reverse();
}

function maskBelow(logits: Float32Array, threshold: number): void {
  for (let i = 0; i < logits.length; i++) if (logits[i] < threshold) logits[i] = -Infinity;
}

/** The k-th largest finite value (k >= 1), or -Infinity when there are fewer; a size-k min-heap, O(V log k). */
export function kthLargest(logits: Float32Array, k: number): number {
  const heap = new Float32Array(k);
  let size = 0;
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i];
    if (x === -Infinity) continue;
    if (size < k) {
      let at = size++; // sift up
      while (at > 0 && heap[(at - 1) >> 1] > x) { heap[at] = heap[(at - 1) >> 1]; at = (at - 1) >> 1; }
      heap[at] = x;
    } else if (x > heap[0]) {
      let at = 0; // replace the minimum, sift down
      for (;;) {
        const l = 2 * at + 1, r = l + 1;
        let c = l;
        if (l >= k) break;
        if (r < k && heap[r] < heap[l]) c = r;
        if (heap[c] >= x) break;
        heap[at] = heap[c];
        at = c;
      }
      heap[at] = x;
    }
  }
  return size < k ? -Infinity : heap[0];
}

/** Keeps the k largest logits. Ties with the k-th value are all kept (as transformers' TopKLogitsWarper does). */
export class TopKProcessor implements LogitsProcessor {
  constructor(private readonly k: number) {}
  apply(logits: Float32Array): void {
    const threshold = kthLargest(logits, this.k);
    if (threshold > -Infinity) maskBelow(logits, threshold);
  }
}

/**
 * Candidates for the nucleus are first looked for among logits within this distance of the maximum (probability
 * ratio e^-12, about 6e-6): when they already hold mass p, only they need sorting, which on a 150K vocabulary
 * turns a full sort per token into a small one. Otherwise every finite logit is sorted.
 */
const NUCLEUS_CANDIDATE_RANGE = 12;

/**
 * Nucleus sampling (Holtzman et al. 2019): keeps the smallest set of most likely tokens whose probability mass
 * reaches `p` (at least one token; ties with the last kept value are kept too).
 */
export class TopPProcessor implements LogitsProcessor {
  constructor(private readonly p: number) {}
  apply(logits: Float32Array): void {
    let max = -Infinity;
    for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
    if (max === -Infinity) return;
    let total = 0, near = 0;
    const floor = max - NUCLEUS_CANDIDATE_RANGE;
    for (let i = 0; i < logits.length; i++) {
      const x = logits[i];
      if (x === -Infinity) continue;
      const e = Math.exp(x - max);
      total += e;
      if (x >= floor) near += e;
    }
    const sorted = sortedDescending(logits, near / total >= this.p ? floor : -Infinity);
    let mass = 0;
    for (let i = 0; i < sorted.length; i++) {
      mass += Math.exp(sorted[i] - max) / total;
      if (mass >= this.p) { maskBelow(logits, sorted[i]); return; }
    }
  }
}

/**
 * min-p sampling (Nguyen et al. 2024): drops tokens whose probability is below `minP` times the most likely
 * token's probability; in logits that is x < max + ln(minP).
 */
export class MinPProcessor implements LogitsProcessor {
  constructor(private readonly minP: number) {}
  apply(logits: Float32Array): void {
    let max = -Infinity;
    for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
    if (max === -Infinity) return;
    maskBelow(logits, Math.fround(max + Math.fround(Math.log(this.minP))));
  }
}
