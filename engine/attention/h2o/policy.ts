// H2O on the GPU: attention-mass scores from the kernels' column sums; keeps sinks, the heavy hitters and the recent.
import { EvictingPolicy } from '../evict/index.ts';
import type { AttentionSpec } from '../policy.ts';
import { parseAttentionSpec, type H2OSpec } from '../spec.ts';

/** H2O is A2SF with a forgetting factor of 1 on every layer (its CPU reference: h2o/reference.ts). */
export function createH2OPolicy(spec: AttentionSpec): EvictingPolicy {
  const s = parseAttentionSpec(spec) as H2OSpec;
  return new EvictingPolicy({ name: 'h2o', sinks: s.sinks, top: s.heavy, recent: s.recent, forgetting: 1 });
}
