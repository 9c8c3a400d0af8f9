// CPU reference of Quest's selection: per-page per-channel key min/max, the page upper bound of q.k, and the pages
// a decode step reads; the oracle of the GPU estimator and selection.
import { InvalidArgumentError } from '../../errors/index.ts';
import type { EvictingHead } from '../evicting-reference.ts';
import type { ReferenceDecodeContext, ReferencePolicy } from '../policy-reference.ts';

/** Quest's parameters, resolved (`quest:budget=512,dense-layers=2`). */
export interface QuestParams {
  /** Tokens read per decode step, rounded up to whole pages (the page holding the new token included). */
  budget: number;
  /** Layers 0 .. denseLayers-1 attend densely. */
  denseLayers: number;
}

/** Per-page per-channel min and max of the keys of one (layer, KV head): [pages][d] each. */
export interface QuestPageBounds {
  readonly pages: number;
  readonly min: Float32Array;
  readonly max: Float32Array;
}

/** The parameters of a resolved spec (spec.ts validated the ranges). */
export function questParams(spec: { [param: string]: unknown }): QuestParams {
  return { budget: spec.budget as number, denseLayers: spec.denseLayers as number };
}

/**
 * The min and max of every channel of the rotated keys in each page (slot s in page floor(s / pageSize)), as the
 * GPU keeps them on append: a page's first token sets them, later tokens widen them.
 */
export function questPageBounds(keys: readonly ArrayLike<number>[], headDim: number, pageSize: number): QuestPageBounds {
  const pages = Math.ceil(keys.length / pageSize);
  const min = new Float32Array(pages * headDim).fill(Infinity);
  const max = new Float32Array(pages * headDim).fill(-Infinity);
  keys.forEach((key, s) => {
    const base = Math.floor(s / pageSize) * headDim;
    for (let c = 0; c < headDim; c++) {
      min[base + c] = Math.min(min[base + c], key[c]);
      max[base + c] = Math.max(max[base + c], key[c]);
    }
  });
  return { pages, min, max };
}

/**
 * The Quest bound of each page: max over the group's query heads h of sum over channels c of
 * max(q_hc * max_c, q_hc * min_c), an upper bound of q_h . k over the page's keys. Rotated queries. Computed in f32
 * in channel order, as the GPU kernel does (so equal inputs give equal scores bit for bit).
 */
export function questPageScores(queries: readonly ArrayLike<number>[], bounds: QuestPageBounds, headDim: number): Float32Array {
  const f = Math.fround;
  const scores = new Float32Array(bounds.pages);
  for (let p = 0; p < bounds.pages; p++) {
    let best = -Infinity;
    for (const q of queries) {
      let sum = 0;
      for (let c = 0; c < headDim; c++) {
        const qc = f(q[c]);
        sum = f(sum + Math.max(f(qc * bounds.max[p * headDim + c]), f(qc * bounds.min[p * headDim + c])));
      }
      best = Math.max(best, sum);
    }
    scores[p] = best;
  }
  return scores;
}

/** Pages a step reads: the budget in tokens rounded up to whole pages (at least the page of the new token). */
export function questPagesToRead(budget: number, pageSize: number): number {
  if (!Number.isInteger(budget) || budget < 1) throw new InvalidArgumentError('attention.budget', `must be a positive integer, got ${budget}`);
  return Math.ceil(budget / pageSize);
}

/**
 * The older pages a decode step's plan lists when the sequence holds `tokens` slots: the page holding the newest
 * token (slot tokens - 1) is always read and not listed; among pages 0 .. newest - 1, the top
 * questPagesToRead(budget) - 1 by score, ties to the LOWER page (older tokens). Ascending page numbers.
 */
export function questPlanPages(scores: ArrayLike<number>, tokens: number, budget: number, pageSize: number): number[] {
  const newest = Math.floor((tokens - 1) / pageSize);
  const k = questPagesToRead(budget, pageSize) - 1;
  const candidates = Array.from({ length: newest }, (_, p) => p);
  candidates.sort((a, b) => (scores[b] - scores[a]) || (a - b));
  return candidates.slice(0, k).sort((a, b) => a - b);
}

/** Every page the step reads: the plan's pages and the newest page, ascending. */
export function questPagesRead(scores: ArrayLike<number>, tokens: number, budget: number, pageSize: number): number[] {
  return [...questPlanPages(scores, tokens, budget, pageSize), Math.floor((tokens - 1) / pageSize)];
}

/** The slots of `pages` in a head holding `tokens` slots (slot s in page floor(s / pageSize)), ascending. */
export function pageSlots(pages: readonly number[], tokens: number, pageSize: number): number[] {
  return pages.flatMap((p) => Array.from({ length: Math.max(0, Math.min(pageSize, tokens - p * pageSize)) }, (_, i) => p * pageSize + i));
}

/** Quest for the CPU reference forward: the layers after the dense ones read the top pages by their key bounds. */
export class QuestReferencePolicy implements ReferencePolicy {
  readonly name = 'quest';

  constructor(readonly params: QuestParams, readonly headDim: number, readonly pageSize: number) {}

  plan(head: EvictingHead, ctx: ReferenceDecodeContext): readonly number[] | null {
    if (ctx.layer < this.params.denseLayers) return null;
    const tokens = head.positions.length;
    const scores = questPageScores(ctx.queries, questPageBounds(head.keys, this.headDim, this.pageSize), this.headDim);
    return pageSlots(questPagesRead(scores, tokens, this.params.budget, this.pageSize), tokens, this.pageSize);
  }

  fork(): QuestReferencePolicy { return this; }
}
