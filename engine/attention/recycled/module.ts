// Recycled Attention's CPU module: its parameters and its reference (full steps record, recycle steps reuse).
import type { PolicyCpuModule } from '../policy-module.ts';
import { RECYCLED_DEFINITION } from './params.ts';
import { recycledParams, RecycledReferencePolicy } from './reference.ts';

export const recycledModule: PolicyCpuModule = {
  definition: RECYCLED_DEFINITION,
  reference: (spec, config) => new RecycledReferencePolicy(recycledParams(spec), config.numLayers),
};
