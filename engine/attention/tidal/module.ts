// TidalDecode's CPU module: its parameters and its reference (selection layers' top tokens by q.k).
import type { PolicyCpuModule } from '../policy-module.ts';
import { TIDAL_DEFINITION } from './params.ts';
import { resolveTidalParams, tidalSpecParams, TidalReferencePolicy } from './reference.ts';

export const tidalModule: PolicyCpuModule = {
  definition: TIDAL_DEFINITION,
  reference: (spec, config) => new TidalReferencePolicy(resolveTidalParams(tidalSpecParams(spec), config.numLayers)),
};
