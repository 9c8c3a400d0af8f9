// CPU reference of A2SF (accumulative attention scores with a forgetting factor) and its keep rule; the oracle of
// the GPU statistics and eviction.
import { InvalidArgumentError } from '../../errors/index.ts';
import { selectKeptSlots, type EvictingHead, type ReferenceEvictionPolicy } from '../evicting-reference.ts';
import type { A2SFSpec } from '../spec.ts';

export type A2SFParams = Pick<A2SFSpec, 'sinks' | 'select' | 'recent' | 'forgetting'>;

/**
 * The forgetting factor of every layer: one number for all, or a list with exactly one per layer.
 * Throws InvalidArgumentError when a list does not match the model's layer count.
 */
export function forgettingForLayers(forgetting: number | readonly number[], numLayers: number): Float64Array {
  if (typeof forgetting === 'number') return new Float64Array(numLayers).fill(forgetting);
  if (forgetting.length !== numLayers) {
    throw new InvalidArgumentError('attention.forgetting', `a per-layer list needs ${numLayers} factors (one per layer of this model), got ${forgetting.length}`);
  }
  return Float64Array.from(forgetting);
}

/**
 * Applies one step of n query rows to the running scores, in place, with forgetting factor a:
 * score[j] = a^n * score[j] + sum over t of a^(n-1-t) * rows[t][j]. For a decode step (n = 1) that is
 * a * score + p; for a prefill chunk, row i weighted a^(n-1-i), exactly as n single steps would give it.
 * With a = 1 every multiplication is by 1, so the result equals H2O's bit for bit.
 */
export function a2sfAccumulate(scores: number[] | Float64Array, rows: readonly ArrayLike<number>[], a: number): void {
  const n = rows.length;
  const weights = rows.map((_, t) => a ** (n - 1 - t));
  const decay = a ** n;
  for (let j = 0; j < scores.length; j++) {
    let step = 0;
    for (let t = 0; t < n; t++) step += weights[t] * rows[t][j];
    scores[j] = decay * scores[j] + step;
  }
}

/** Prefill scores of n tokens from their causal probability matrix [n][n]: rows weighted a^(n-1-i), summed. */
export function a2sfPrefillScores(probabilities: readonly ArrayLike<number>[], a: number): Float64Array {
  const scores = new Float64Array(probabilities.length);
  a2sfAccumulate(scores, probabilities, a);
  return scores;
}

/**
 * Slots A2SF keeps: with more than sinks + select + recent tokens, the `sinks` oldest, the `recent` newest and the
 * `select` others with the highest forgetting-weighted score (ties: the older token wins). Ascending slot indices.
 */
export function a2sfKeep(positions: ArrayLike<number>, scores: ArrayLike<number>, params: Pick<A2SFParams, 'sinks' | 'select' | 'recent'>): number[] {
  return selectKeptSlots(positions, scores, params.sinks, params.select, params.recent);
}

/** A2SF for the evicting reference forward (per-layer factors resolved for a model of `numLayers`). */
export class A2SFReference implements ReferenceEvictionPolicy {
  readonly name = 'a2sf';
  readonly budget: number;
  private readonly factors: Float64Array;

  constructor(readonly params: A2SFParams, numLayers: number) {
    this.budget = params.sinks + params.select + params.recent;
    this.factors = forgettingForLayers(params.forgetting, numLayers);
  }

  observe(head: EvictingHead, layer: number, rows: readonly Float64Array[]): void {
    a2sfAccumulate(head.scores, rows, this.factors[layer]);
  }

  prefillDecay(layer: number): number {
    return this.factors[layer];
  }

  keep(head: EvictingHead): number[] {
    return a2sfKeep(head.positions, head.scores, this.params);
  }
}
