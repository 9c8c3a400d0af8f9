// A2SF's CPU module: its parameters and its reference (H2O with a forgetting factor).
import { evictingReferencePolicy } from '../evicting-reference.ts';
import type { PolicyCpuModule } from '../policy-module.ts';
import type { A2SFSpec } from '../spec.ts';
import { A2SF_DEFINITION } from './params.ts';
import { A2SFReference } from './reference.ts';

export const a2sfModule: PolicyCpuModule = {
  definition: A2SF_DEFINITION,
  evictionReference: (spec, numLayers) => new A2SFReference(spec as unknown as A2SFSpec, numLayers),
  reference: (spec, config) => evictingReferencePolicy(new A2SFReference(spec as unknown as A2SFSpec, config.numLayers), config.numLayers),
};
