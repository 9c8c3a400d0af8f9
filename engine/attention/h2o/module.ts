// H2O's CPU module: its parameters and its reference (heavy hitters by accumulated attention).
import { evictingReferencePolicy } from '../evicting-reference.ts';
import type { PolicyCpuModule } from '../policy-module.ts';
import type { H2OSpec } from '../spec.ts';
import { H2O_DEFINITION } from './params.ts';
import { H2OReference } from './reference.ts';

export const h2oModule: PolicyCpuModule = {
  definition: H2O_DEFINITION,
  evictionReference: (spec) => new H2OReference(spec as unknown as H2OSpec),
  reference: (spec, config) => evictingReferencePolicy(new H2OReference(spec as unknown as H2OSpec), config.numLayers),
};
