// Double Sparsity on the GPU: the first layers dense; elsewhere a label cache of each key's calibrated channels
// (written on append), partial scores q[r] . label / sqrt(r) (max over the KV group) and the top budget - 1 older
// tokens per KV head as a {kind: 'tokens'} plan. Needs the model's double-sparsity calibration artifact.
import { parseCalibration, type DoubleSparsityCalibration } from '../../calibration/index.ts';
import { CalibrationMissingError } from '../../errors/index.ts';
import { ropeInverseFrequencies, type ModelConfig } from '../../model/index.ts';
import type { AttentionSpec, PolicyContext } from '../policy.ts';
import { parseAttentionSpec } from '../spec.ts';
import type { LabelSelectorOptions } from './label-selector.ts';
import { LabelSelectingPolicy } from './label-selecting-policy.ts';
import {
  doubleSparsityChannels, doubleSparsitySpecParams, resolveDoubleSparsityParams, type DoubleSparsityParams, type DoubleSparsitySpecParams,
} from './reference.ts';

export class DoubleSparsityPolicy extends LabelSelectingPolicy<DoubleSparsitySpecParams, DoubleSparsityParams, DoubleSparsityCalibration> {
  protected readonly needsModelReason = 'its labels are the calibrated channels';

  /** `calibration`: a validated double-sparsity artifact (parseCalibration); `calibrationFile` names it in errors. */
  constructor(params: DoubleSparsitySpecParams, calibration: DoubleSparsityCalibration, calibrationFile?: string) {
    super('double-sparsity', params, calibration, calibrationFile);
  }

  /** Fits the channel count to the model. */
  protected fit(config: ModelConfig): DoubleSparsityParams {
    return resolveDoubleSparsityParams(this.params, config);
  }

  protected selectorOptions(config: ModelConfig, p: DoubleSparsityParams): Omit<LabelSelectorOptions, 'label'> {
    return {
      numHeads: config.numHeads, ropeLayout: config.ropeLayout, inverseFrequencies: ropeInverseFrequencies(config),
      channels: Array.from({ length: config.numLayers }, (_, l) => (l < p.denseLayers ? null
        : Array.from({ length: config.numKvHeads }, (_, g) => doubleSparsityChannels(this.calibration, l, g, p.channels)))),
      scale: 1 / Math.sqrt(p.channels), budget: p.budget,
    };
  }
}

/** The artifact of a calibrated policy from the factory's context, validated; CalibrationMissingError when absent. */
export function calibrationFromContext(policy: string, context: PolicyContext | undefined): unknown {
  if (context?.calibration === undefined || context.calibration === null) {
    throw new CalibrationMissingError(policy, policy, context?.calibrationSearched ?? 'none was given');
  }
  return context.calibration;
}

/** The registry's factory: `double-sparsity:budget=256,channels=16,dense-layers=2`, with the model's calibration. */
export function createDoubleSparsityPolicy(spec: AttentionSpec, context?: PolicyContext): DoubleSparsityPolicy {
  const params = doubleSparsitySpecParams(parseAttentionSpec(spec as never) as never);
  const artifact = parseCalibration(calibrationFromContext('double-sparsity', context), 'calibration', 'double-sparsity') as DoubleSparsityCalibration;
  const policy = new DoubleSparsityPolicy(params, artifact);
  if (context) policy.checkModel(context.config);
  return policy;
}
