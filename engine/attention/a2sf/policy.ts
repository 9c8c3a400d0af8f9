// A2SF on the GPU: H2O's scores with a forgetting factor per layer (score = a * score + p), kept as in H2O.
import { EvictingPolicy } from '../evict/index.ts';
import type { AttentionSpec } from '../policy.ts';
import { parseAttentionSpec, type A2SFSpec } from '../spec.ts';

/**
 * A list of factors names exactly one per layer (checked against the model when the policy is set on it).
 *
 * Scores are multiplied by a on every step, all of them: the paper's lazy rescaling (one running scale) saves that
 * pass, but here the pass is one multiply-add per cached token fused with the accumulation the step needs anyway,
 * and an evicting cache holds only `budget` tokens, so eager f32 scores are as cheap and cannot overflow.
 */
export function createA2SFPolicy(spec: AttentionSpec): EvictingPolicy {
  const s = parseAttentionSpec(spec) as A2SFSpec;
  return new EvictingPolicy({ name: 'a2sf', sinks: s.sinks, top: s.select, recent: s.recent, forgetting: s.forgetting });
}
