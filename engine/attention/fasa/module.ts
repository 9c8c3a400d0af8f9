// FASA's CPU module: its parameters and its reference (top tokens by the dominant RoPE frequency chunks).
import type { FasaCalibration } from '../../calibration/index.ts';
import { referenceCalibration, type PolicyCpuModule } from '../policy-module.ts';
import { FASA_DEFINITION } from './params.ts';
import { fasaReferencePolicy, fasaSpecParams, resolveFasaParams } from './reference.ts';

export const fasaModule: PolicyCpuModule = {
  definition: FASA_DEFINITION,
  reference: (spec, config, calibration) => fasaReferencePolicy(resolveFasaParams(fasaSpecParams(spec), config), referenceCalibration('fasa', calibration, config) as FasaCalibration, config),
};
