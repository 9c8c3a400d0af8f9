// The attention-policy registry: the GPU factory of each policy by name, one line per policy (its parameters and CPU
// reference are its folder's module.ts, listed in policies.ts), created from the request's `attention` spec.
import { InvalidArgumentError } from '../errors/index.ts';
import { createA2SFPolicy } from './a2sf/policy.ts';
import { createDensePolicy } from './dense/policy.ts';
import { createDoubleSparsityPolicy } from './double-sparsity/index.ts';
import { createFasaPolicy } from './fasa/index.ts';
import { createH2OPolicy } from './h2o/policy.ts';
import { createQuestPolicy } from './quest/index.ts';
import { createRecycledPolicy } from './recycled/index.ts';
import { createStreamingPolicy } from './streaming/policy.ts';
import { createTidalPolicy } from './tidal/index.ts';
import { policyModule } from './policies.ts';
import type { AttentionPolicy, AttentionSpec, PolicyContext, PolicyFactory } from './policy.ts';

const factories = new Map<string, PolicyFactory>();

export function registerPolicy(name: string, factory: PolicyFactory): void {
  if (factories.has(name)) throw new InvalidArgumentError('policy', `an attention policy named "${name}" is already registered`);
  // Its parameters and CPU reference come from its folder's module.ts, listed in policies.ts: a policy needs both.
  if (!policyModule(name)) throw new InvalidArgumentError('policy', `attention policy "${name}" has no CPU module in policies.ts (its parameters and CPU reference)`);
  factories.set(name, factory);
}

/** A policy for `spec`; `context` (the model, a calibration) lets it fit the model and fail at once when it cannot. */
export function createPolicy(spec: AttentionSpec, context?: PolicyContext): AttentionPolicy {
  const factory = factories.get(spec.policy);
  if (!factory) throw new InvalidArgumentError('attention.policy', `unknown policy "${spec.policy}"; available: ${listPolicies().join(', ')}`);
  return factory(spec, context);
}

export function listPolicies(): string[] {
  return [...factories.keys()];
}

registerPolicy('dense', createDensePolicy);
registerPolicy('streaming', createStreamingPolicy);
registerPolicy('h2o', createH2OPolicy);
registerPolicy('a2sf', createA2SFPolicy);
registerPolicy('quest', createQuestPolicy);
registerPolicy('tidal', createTidalPolicy);
registerPolicy('recycled', createRecycledPolicy);
registerPolicy('double-sparsity', createDoubleSparsityPolicy);
registerPolicy('fasa', createFasaPolicy);
