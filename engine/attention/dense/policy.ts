// The dense policy: every layer reads every cached token; the reference all other policies must equal.
import { InvalidArgumentError } from '../../errors/index.ts';
import type { AttentionPlan, AttentionPolicy, AttentionSpec, PolicyNeeds } from '../policy.ts';

const DENSE_NEEDS: PolicyNeeds = {
  denseLayers: 'all',
  granularity: 'token',
  statistics: () => 'none',
  metadata: [],
  evicts: false,
  calibration: null,
};

const DENSE_PLAN: AttentionPlan = { kind: 'dense' };

export class DensePolicy implements AttentionPolicy {
  readonly name = 'dense';
  readonly needs = DENSE_NEEDS;

  plan(): AttentionPlan {
    return DENSE_PLAN;
  }
}

/** `budget` is accepted and ignored (a UI may send one budget to every policy); other parameters are errors. */
export function createDensePolicy(spec: AttentionSpec): DensePolicy {
  for (const key of Object.keys(spec)) {
    if (key !== 'policy' && key !== 'budget') throw new InvalidArgumentError(`attention.${key}`, 'the dense policy takes no parameters');
  }
  return new DensePolicy();
}
