// Double Sparsity's CPU module: its parameters and its reference (top tokens by calibrated label channels).
import type { DoubleSparsityCalibration } from '../../calibration/index.ts';
import { referenceCalibration, type PolicyCpuModule } from '../policy-module.ts';
import { DOUBLE_SPARSITY_DEFINITION } from './params.ts';
import { doubleSparsityReferencePolicy, doubleSparsitySpecParams, resolveDoubleSparsityParams } from './reference.ts';

export const doubleSparsityModule: PolicyCpuModule = {
  definition: DOUBLE_SPARSITY_DEFINITION,
  reference: (spec, config, calibration) => doubleSparsityReferencePolicy(
    resolveDoubleSparsityParams(doubleSparsitySpecParams(spec), config),
    referenceCalibration('double-sparsity', calibration, config) as DoubleSparsityCalibration, config,
  ),
};
