// Double Sparsity on the GPU: the first layers dense; elsewhere a label cache of each key's calibrated channels
// (written on append), partial scores q[r] . label / sqrt(r) (max over the KV group) and the top budget - 1 older
// tokens per KV head as a {kind: 'tokens'} plan. Needs the model's double-sparsity calibration artifact.
import { checkCalibrationFits, parseCalibration, type DoubleSparsityCalibration } from '../../calibration/index.ts';
import { CalibrationMissingError, InvalidArgumentError } from '../../errors/index.ts';
import { ropeInverseFrequencies, type ModelConfig } from '../../model/index.ts';
import type { AttentionPlan, AttentionPolicy, AttentionSpec, PolicyContext, PolicyNeeds, PolicyStepContext } from '../policy.ts';
import { parseAttentionSpec } from '../spec.ts';
import { LabelSelector } from './label-selector.ts';
import {
  doubleSparsityChannels, doubleSparsitySpecParams, resolveDoubleSparsityParams, type DoubleSparsityParams, type DoubleSparsitySpecParams,
} from './reference.ts';

export class DoubleSparsityPolicy implements AttentionPolicy {
  readonly name = 'double-sparsity';
  readonly needs: PolicyNeeds;
  private resolved: DoubleSparsityParams | null = null;
  private selector: LabelSelector | null = null;

  /** `calibration`: a validated double-sparsity artifact (parseCalibration); `calibrationFile` names it in errors. */
  constructor(readonly params: DoubleSparsitySpecParams, readonly calibration: DoubleSparsityCalibration, private readonly calibrationFile = 'calibration') {
    if (!Number.isInteger(params.budget) || params.budget < 1) throw new InvalidArgumentError('attention.budget', `must be a positive integer, got ${params.budget}`);
    const self = this;
    this.needs = {
      get denseLayers(): readonly number[] {
        return Array.from({ length: self.params.denseLayers }, (_, l) => l);
      },
      granularity: 'token', statistics: () => 'none', metadata: ['token-label-channels'], evicts: false, calibration: 'double-sparsity',
    };
  }

  /** Fits channels to the model and checks the calibration was made for it (typed errors otherwise). */
  checkModel(config: ModelConfig): void {
    checkCalibrationFits(this.calibration, config, this.calibrationFile);
    const p = resolveDoubleSparsityParams(this.params, config);
    const G = config.numKvHeads;
    this.resolved = p;
    this.selector?.destroy();
    this.selector = new LabelSelector({
      label: 'double-sparsity', numHeads: config.numHeads, ropeLayout: config.ropeLayout, inverseFrequencies: ropeInverseFrequencies(config),
      channels: Array.from({ length: config.numLayers }, (_, l) => (l < p.denseLayers ? null
        : Array.from({ length: G }, (_, g) => doubleSparsityChannels(this.calibration, l, g, p.channels)))),
      scale: 1 / Math.sqrt(p.channels), budget: p.budget,
    });
  }

  /** The parameters as fitted to the model (null before checkModel). */
  get fitted(): DoubleSparsityParams | null {
    return this.resolved;
  }

  onAppend(encoder: GPUCommandEncoder, ctx: PolicyStepContext): void {
    this.selectorFor().onAppend(encoder, ctx);
  }

  /** Frees the selector's GPU state (its label cache); the selector itself stays, fitted to the model. */
  destroy(): void {
    this.selector?.destroy();
  }

  plan(encoder: GPUCommandEncoder, ctx: PolicyStepContext): AttentionPlan {
    return this.selectorFor().plan(encoder, ctx);
  }

  /** The GPU estimator (tests read its partial scores). */
  selectorFor(): LabelSelector {
    if (!this.selector) throw new InvalidArgumentError('policy', 'double-sparsity needs the model (checkModel) before its first step: its labels are the calibrated channels');
    return this.selector;
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
