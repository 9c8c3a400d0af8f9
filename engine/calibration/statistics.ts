// The two calibration statistics, accumulated from post-RoPE queries and keys one prefill window at a time:
// Double Sparsity's per-channel "qk" outliers and FASA's per-RoPE-pair top-K agreement with the whole head.
import { ropePair, type RopeLayout } from '../model/index.ts';

/** Shapes every statistic needs: heads, head dim and RoPE layout of the model. */
export interface HeadShape {
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  ropeLayout: RopeLayout;
}

/** Indices of `values` from the highest value down; equal values: lower index first (the house tie rule). */
export function rankDescending(values: ArrayLike<number>): number[] {
  return Array.from({ length: values.length }, (_, i) => i).sort((a, b) => values[b] - values[a] || a - b);
}

/**
 * Double Sparsity's "qk" statistic: per (layer, query head h, channel c), the mean over tokens t of
 * |q_t[h][c] * k_t[g(h)][c]|, the token's query with its own key (GQA: the KV head g(h) = h / (H / G) of its group).
 * Sums in f64.
 */
export class QkChannelStatistic {
  /** [numLayers][numHeads][headDim] sums. */
  readonly sums: Float64Array;
  /** Tokens added per layer. */
  readonly tokens: Float64Array;

  constructor(readonly shape: HeadShape) {
    this.sums = new Float64Array(shape.numLayers * shape.numHeads * shape.headDim);
    this.tokens = new Float64Array(shape.numLayers);
  }

  /** One layer's q [n][H*d] and k [n][G*d] (post-RoPE). */
  add(layer: number, q: Float32Array, k: Float32Array, n: number): void {
    const { numHeads: H, numKvHeads: G, headDim: d } = this.shape;
    const group = H / G;
    for (let t = 0; t < n; t++) {
      for (let h = 0; h < H; h++) {
        const qOff = (t * H + h) * d;
        const kOff = (t * G + Math.floor(h / group)) * d;
        const base = (layer * H + h) * d;
        for (let c = 0; c < d; c++) this.sums[base + c] += Math.abs(q[qOff + c] * k[kOff + c]);
      }
    }
    this.tokens[layer] += n;
  }

  /** Means [numLayers][numHeads][headDim]. */
  means(): number[][][] {
    const { numLayers: L, numHeads: H, headDim: d } = this.shape;
    return Array.from({ length: L }, (_, l) => Array.from({ length: H }, (_, h) =>
      Array.from({ length: d }, (_, c) => (this.tokens[l] > 0 ? this.sums[(l * H + h) * d + c] / this.tokens[l] : 0))));
  }
}

/**
 * FASA's chunk agreement: per (layer, query head, chunk j), over the evaluated query positions t of a window, the mean
 * of |top-K of the chunk's partial scores ∩ top-K of the full scores| / K, where the candidates are the window's keys
 * 0..t (causal), the full score q_t . k_p, and chunk j's partial score the same dot product over its RoPE pair only
 * (dims j and j + d/2 rotate-half, 2j and 2j+1 interleaved). Top-K ties go to the lower position. Only positions with
 * more than K candidates say anything (with fewer, every set is everything); `queriesPerWindow` of them are evaluated,
 * evenly spaced, ending at the window's last token (CPU time grows with H * d/2 selections per query).
 */
export class ChunkAgreement {
  /** [numLayers][numHeads][headDim / 2] sums of per-query agreement. */
  readonly sums: Float64Array;
  /** Queries evaluated per layer. */
  readonly queries: Float64Array;
  private readonly pairs: [number, number][];

  constructor(readonly shape: HeadShape, readonly topK: number, readonly queriesPerWindow: number) {
    const chunks = shape.headDim / 2;
    this.sums = new Float64Array(shape.numLayers * shape.numHeads * chunks);
    this.queries = new Float64Array(shape.numLayers);
    this.pairs = Array.from({ length: chunks }, (_, j) => ropePair(j, shape.headDim, shape.ropeLayout));
  }

  /** The query positions of an n-token window that are evaluated (more than K candidates, evenly spaced, last included). */
  queryPositions(n: number): number[] {
    const first = this.topK; // position t has t + 1 candidates
    if (n - 1 < first) return [];
    const span = n - first;
    const count = Math.min(span, this.queriesPerWindow);
    return Array.from({ length: count }, (_, i) => n - 1 - Math.floor((i * span) / count)).reverse();
  }

  /** One window's whole q [n][H*d] and k [n][G*d] of one layer (post-RoPE, positions 0..n-1 of a fresh sequence). */
  add(layer: number, q: Float32Array, k: Float32Array, n: number): void {
    const { numHeads: H, numKvHeads: G, headDim: d } = this.shape;
    const chunks = d / 2;
    const group = H / G;
    const K = this.topK;
    const partial = Array.from({ length: chunks }, () => new Float64Array(n));
    const full = new Float64Array(n);
    const inHead = new Uint8Array(n);
    const heap = new Int32Array(K);
    for (const t of this.queryPositions(n)) {
      const candidates = t + 1;
      for (let h = 0; h < H; h++) {
        const qOff = (t * H + h) * d;
        const g = Math.floor(h / group);
        for (let p = 0; p < candidates; p++) {
          const kOff = (p * G + g) * d;
          let sum = 0;
          for (let j = 0; j < chunks; j++) {
            const [a, b] = this.pairs[j];
            const s = q[qOff + a] * k[kOff + a] + q[qOff + b] * k[kOff + b];
            partial[j][p] = s;
            sum += s;
          }
          full[p] = sum;
        }
        inHead.fill(0, 0, candidates);
        const headTop = topKInto(full, candidates, K, heap);
        for (let i = 0; i < headTop; i++) inHead[heap[i]] = 1;
        const base = (layer * H + h) * chunks;
        for (let j = 0; j < chunks; j++) {
          const got = topKInto(partial[j], candidates, K, heap);
          let shared = 0;
          for (let i = 0; i < got; i++) shared += inHead[heap[i]];
          this.sums[base + j] += shared / K;
        }
      }
      this.queries[layer] += 1;
    }
  }

  /** Mean agreement [numLayers][numHeads][headDim / 2]. */
  means(): number[][][] {
    const { numLayers: L, numHeads: H, headDim: d } = this.shape;
    const chunks = d / 2;
    return Array.from({ length: L }, (_, l) => Array.from({ length: H }, (_, h) =>
      Array.from({ length: chunks }, (_, j) => (this.queries[l] > 0 ? this.sums[(l * H + h) * chunks + j] / this.queries[l] : 0))));
  }
}

/**
 * The top k of scores[0..n) into heap[0..min(k, n)) (any order): a min-heap on (score, then the HIGHER position
 * first), so among equal scores the lower position stays, as the tie rule says. Positions come in increasing order,
 * so a newcomer equal to the root never replaces it.
 */
export function topKInto(scores: Float64Array, n: number, k: number, heap: Int32Array): number {
  const size = Math.min(k, n);
  // "a below b": a leaves the heap before b.
  const below = (a: number, b: number) => scores[a] < scores[b] || (scores[a] === scores[b] && a > b);
  const siftDown = (start: number) => {
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < size && below(heap[l], heap[m])) m = l;
      if (r < size && below(heap[r], heap[m])) m = r;
      if (m === i) return;
      const tmp = heap[i];
      heap[i] = heap[m];
      heap[m] = tmp;
      i = m;
    }
  };
  for (let p = 0; p < size; p++) heap[p] = p;
  for (let i = (size >> 1) - 1; i >= 0; i--) siftDown(i);
  for (let p = size; p < n; p++) {
    if (scores[p] > scores[heap[0]]) {
      heap[0] = p;
      siftDown(0);
    }
  }
  return size;
}
