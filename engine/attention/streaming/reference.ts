// CPU reference of StreamingLLM's selection (sinks + newest window): the oracle of the GPU eviction.
import { selectKeptSlots, type EvictingHead, type ReferenceEvictionPolicy } from '../evicting-reference.ts';
import type { StreamingSpec } from '../spec.ts';

export type StreamingParams = Pick<StreamingSpec, 'sinks' | 'window'>;

/**
 * Slots StreamingLLM keeps: with more than sinks + window tokens, the `sinks` oldest positions and the `window`
 * newest; otherwise all. Ascending slot indices. No scores, so no ties.
 */
export function streamingKeep(positions: ArrayLike<number>, params: StreamingParams): number[] {
  return selectKeptSlots(positions, null, params.sinks, 0, params.window);
}

/** StreamingLLM for the evicting reference forward. */
export class StreamingReference implements ReferenceEvictionPolicy {
  readonly name = 'streaming';
  readonly budget: number;

  constructor(readonly params: StreamingParams) {
    this.budget = params.sinks + params.window;
  }

  /** StreamingLLM reads no statistics. */
  observe(): void {}

  keep(head: EvictingHead): number[] {
    return streamingKeep(head.positions, this.params);
  }
}
