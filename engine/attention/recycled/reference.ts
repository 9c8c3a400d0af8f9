// CPU reference of Recycled Attention: the full-step schedule (fixed stride, or the dynamic query-cosine test), the
// top-K tokens a full step records, and what the steps after it read; the oracle of the GPU path.

import type { EvictingHead } from '../evicting-reference.ts';
import type { ReferenceDecodeContext, ReferencePolicy } from '../policy-reference.ts';

/** Recycled Attention's parameters (`recycled:budget=256,stride=16` or `recycled:dynamic=0.8,check-every=5`). */
export interface RecycledParams {
  /** K: tokens recorded per KV head at a full step. */
  budget: number;
  /** A full step every `stride` decode steps (fixed schedule). */
  stride: number;
  /** Cosine threshold of the dynamic schedule; 0 selects the fixed one. */
  dynamic: number;
  /** Dynamic schedule: decode steps between similarity checks. */
  checkEvery: number;
}

export function recycledParams(spec: { [param: string]: unknown }): RecycledParams {
  return { budget: spec.budget as number, stride: spec.stride as number, dynamic: spec.dynamic as number, checkEvery: spec.checkEvery as number };
}

/** Cosine similarity of two vectors (f64); 0 when either is zero. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/**
 * The schedule of one layer. The first decode step is full. Fixed: then every `stride` steps after the last full
 * one. Dynamic: at every step that is a multiple of `checkEvery` (a cadence the CPU knows without reading the GPU's
 * decisions back), the step's query (all heads, not rotated) is compared with the last full step's query; a cosine
 * below `dynamic` makes the step full.
 */
export class RecycledSchedule {
  private lastFull = -1;
  private fullQuery: Float32Array | null = null;

  constructor(readonly params: RecycledParams) {}

  /** Decides decode step `step` (0-based, consecutive calls) and records it when full. */
  next(step: number, query: ArrayLike<number>): boolean {
    const { stride, dynamic, checkEvery } = this.params;
    const since = step - this.lastFull;
    let full: boolean;
    if (this.lastFull < 0) full = true;
    else if (dynamic === 0) full = since >= stride;
    else full = step % checkEvery === 0 && cosineSimilarity(query, this.fullQuery as Float32Array) < dynamic;
    if (full) {
      this.lastFull = step;
      this.fullQuery = Float32Array.from(query);
    }
    return full;
  }
}

/**
 * The slots a full step records from its probability column sums (summed over the group's query heads) when the
 * head holds `tokens` slots: the top `budget` by mass, ties to the LOWER slot. Ascending.
 */
export function recycledRecord(columnSums: ArrayLike<number>, tokens: number, budget: number): number[] {
  const candidates = Array.from({ length: tokens }, (_, s) => s);
  candidates.sort((a, b) => (columnSums[b] - columnSums[a]) || (a - b));
  return candidates.slice(0, budget).sort((a, b) => a - b);
}

/**
 * What a recycle step reads when the head holds `tokens` slots: the recorded slots plus every slot appended since
 * the full step (which held `fullTokens`), this step's own token included. Ascending.
 */
export function recycledReadSet(recorded: readonly number[], fullTokens: number, tokens: number): number[] {
  return [...recorded, ...Array.from({ length: tokens - fullTokens }, (_, i) => fullTokens + i)];
}

/**
 * Recycled Attention for the CPU reference forward: per layer a schedule; a full step attends densely and records
 * the top-K slots by probability mass per KV head; a recycle step reads those and every slot appended since.
 */
export class RecycledReferencePolicy implements ReferencePolicy {
  readonly name = 'recycled';
  private readonly schedules: RecycledSchedule[];
  private readonly full: boolean[] = [];
  /** Per layer and KV head: the recorded slots and how many slots the head held at that full step. */
  private readonly recorded: { slots: number[]; tokens: number }[][] = [];

  constructor(readonly params: RecycledParams, readonly numLayers: number) {
    this.schedules = Array.from({ length: numLayers }, () => new RecycledSchedule(params));
  }

  plan(head: EvictingHead, ctx: ReferenceDecodeContext): readonly number[] | null {
    if (ctx.kvHead === 0) this.full[ctx.layer] = this.schedules[ctx.layer].next(ctx.step, ctx.query);
    if (this.full[ctx.layer]) return null;
    const r = this.recorded[ctx.layer][ctx.kvHead];
    return recycledReadSet(r.slots, r.tokens, head.positions.length);
  }

  observe(head: EvictingHead, ctx: ReferenceDecodeContext, probabilities: Float64Array): void {
    if (!this.full[ctx.layer]) return;
    const tokens = head.positions.length;
    (this.recorded[ctx.layer] ??= [])[ctx.kvHead] = { slots: recycledRecord(probabilities, tokens, this.params.budget), tokens };
  }

  fork(): RecycledReferencePolicy { return new RecycledReferencePolicy(this.params, this.numLayers); }
}
