// The CPU reference of an attention spec, from the policy's own folder (its module.ts): the evicting references
// for the CLI's evicting forward, and the reference policy of any policy for PolicyReferenceModel.
import { InvalidArgumentError } from '../errors/index.ts';
import type { ModelConfig } from '../model/index.ts';
import type { ReferenceEvictionPolicy } from './evicting-reference.ts';
import { policyModule } from './policies.ts';
import type { ReferencePolicy } from './policy-reference.ts';
import { parseAttentionSpec, type AttentionSpecInput, type NormalizedSpec, type ResolvedSpec } from './spec.ts';

/**
 * The evicting reference of `spec` for a model of `numLayers`, null for dense (use ReferenceModel), undefined for a
 * selecting policy (PolicyReferenceModel runs those, through createReferencePolicy).
 */
export function createReferenceEvictionPolicy(spec: NormalizedSpec, numLayers: number): ReferenceEvictionPolicy | null | undefined {
  if (spec.policy === 'dense') return null;
  return policyModule(spec.policy)?.evictionReference?.(spec as unknown as ResolvedSpec, numLayers);
}

/**
 * The CPU reference policy of `input` (a spec string or object) fitted to `config`; Double Sparsity and FASA need
 * their calibration artifact (parsed JSON). Typed errors as the GPU factories give them.
 */
export function createReferencePolicy(input: AttentionSpecInput, config: ModelConfig, calibration?: unknown): ReferencePolicy {
  const spec = parseAttentionSpec(input) as unknown as ResolvedSpec;
  const module = policyModule(spec.policy);
  if (!module) throw new InvalidArgumentError('attention.policy', `policy "${spec.policy}" has no CPU reference`);
  return module.reference(spec, config, calibration);
}
