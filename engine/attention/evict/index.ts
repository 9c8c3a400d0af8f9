// Eviction on the GPU for the evicting policies (StreamingLLM, H2O, A2SF): running scores and sinks + top + recent.
export { EvictingPolicy, type EvictingPolicyOptions } from './evicting-policy.ts';
