// The attention module's face: the policy interface and registry, the dense policy, the paged attention kernels
// and the CPU reference they are tested against.
export type {
  AttentionPolicy, AttentionPlan, AttentionSpec, AttentionStatistic, AttentionStatistics, AttentionPhase, EvictionResult,
  KVMetadataKind, PolicyContext, PolicyFactory, PolicyGranularity, PolicyNeeds, PolicyStepContext,
} from './policy.ts';
export { registerPolicy, createPolicy, listPolicies } from './registry.ts';
export { DensePolicy } from './dense/policy.ts';
export {
  ReferenceKVCache, referenceAttention, referenceColumnSums, type ReferenceAttentionShape, type ReferenceStepInput,
} from './dense/reference.ts';
export { PagedAttention, type PagedAttentionOptions, type PrefillSplitRule, type AttentionStepParams, type AttentionLayerInputs } from './paged-attention.ts';
export { DECODE_CHUNK, DEFAULT_PREFILL_CHUNK, MAX_HEAD_DIM, PREFILL_TILE_CANDIDATES, type PrefillTile } from './constants.ts';
export {
  parseAttentionSpec, createSpecParser, policyParameterTable,
  type NormalizedSpec, type AttentionSpecInput, type PolicyParameterRow,
} from './spec.ts';
