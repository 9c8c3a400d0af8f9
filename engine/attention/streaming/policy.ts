// StreamingLLM on the GPU: the first `sinks` tokens and the newest `window`; everything between is evicted.
import { EvictingPolicy } from '../evict/index.ts';
import type { AttentionSpec } from '../policy.ts';
import { parseAttentionSpec, type StreamingSpec } from '../spec.ts';

/** No scores and no statistics: the keep rule is by position only (its CPU reference: streaming/reference.ts). */
export function createStreamingPolicy(spec: AttentionSpec): EvictingPolicy {
  const s = parseAttentionSpec(spec) as StreamingSpec;
  return new EvictingPolicy({ name: 'streaming', sinks: s.sinks, top: 0, recent: s.window, forgetting: null });
}
