// The attention module's CPU-only face (no WGSL imports): the spec grammar, parameter tables and the evicting CPU
// references, for Node tools such as the CLI's reference backend, which cannot load `.wgsl?raw` modules outside Vite.
export {
  parseAttentionSpec, createSpecParser, policyParameterTable,
  type NormalizedSpec, type AttentionSpecInput, type PolicyParameterRow,
} from './spec.ts';
export { EvictingReferenceModel, type ReferenceEvictionPolicy } from './evicting-reference.ts';
export { createReferenceEvictionPolicy } from './reference-policy.ts';
export { DEFAULT_PREFILL_CHUNK } from './constants.ts';
export { createReferencePolicy } from './reference-policy.ts';
export { PolicyReferenceModel, DENSE_REFERENCE, type ReferencePolicy, type ReferenceDecodeContext } from './policy-reference.ts';
