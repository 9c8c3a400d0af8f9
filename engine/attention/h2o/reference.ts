// CPU reference of H2O (heavy hitters): running attention-mass scores per (layer, KV head) and the keep rule; the
// oracle of the GPU statistics and eviction.
import { selectKeptSlots, type EvictingHead, type ReferenceEvictionPolicy } from '../evicting-reference.ts';
import type { H2OSpec } from '../spec.ts';

export type H2OParams = Pick<H2OSpec, 'sinks' | 'heavy' | 'recent'>;

/**
 * Adds one step's probability rows to the running scores, in place: score[j] += sum over t of rows[t][j]
 * (rows summed over the query heads of the KV group; a prefill chunk's rows make the column sums of its causal
 * probability matrix). The row sum is formed first, then added: A2SF with a = 1 does the same operations.
 */
export function h2oAccumulate(scores: number[] | Float64Array, rows: readonly ArrayLike<number>[]): void {
  for (let j = 0; j < scores.length; j++) {
    let step = 0;
    for (const row of rows) step += row[j];
    scores[j] = scores[j] + step;
  }
}

/** Prefill scores of n tokens from their causal probability matrix [n][n]: the column sums. */
export function h2oPrefillScores(probabilities: readonly ArrayLike<number>[]): Float64Array {
  const scores = new Float64Array(probabilities.length);
  h2oAccumulate(scores, probabilities);
  return scores;
}

/**
 * Slots H2O keeps: with more than sinks + heavy + recent tokens, the `sinks` oldest, the `recent` newest and the
 * `heavy` others with the highest score (ties: the older token wins). Ascending slot indices.
 */
export function h2oKeep(positions: ArrayLike<number>, scores: ArrayLike<number>, params: H2OParams): number[] {
  return selectKeptSlots(positions, scores, params.sinks, params.heavy, params.recent);
}

/** H2O for the evicting reference forward. */
export class H2OReference implements ReferenceEvictionPolicy {
  readonly name = 'h2o';
  readonly budget: number;

  constructor(readonly params: H2OParams) {
    this.budget = params.sinks + params.heavy + params.recent;
  }

  observe(head: EvictingHead, _layer: number, rows: readonly Float64Array[]): void {
    h2oAccumulate(head.scores, rows);
  }

  prefillDecay(): number {
    return 1;
  }

  keep(head: EvictingHead): number[] {
    return h2oKeep(head.positions, head.scores, this.params);
  }
}
