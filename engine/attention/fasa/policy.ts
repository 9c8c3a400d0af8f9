// FASA on the GPU: layer 0 dense; elsewhere the step's rotated query scores every older token over the dominant RoPE
// frequency chunks of the calibration (max over the KV group), and the top budget - 1 per KV head are read as a
// {kind: 'tokens'} plan. The chunks' key dims are gathered on append into a compact per-token cache (Double Sparsity's
// label selector): read straight from the pages, a few scattered dims per key would cost the whole key row's memory
// transactions, and the estimate would save no bandwidth.
import { checkCalibrationFits, parseCalibration, type FasaCalibration } from '../../calibration/index.ts';
import { InvalidArgumentError } from '../../errors/index.ts';
import { ropeInverseFrequencies, type ModelConfig } from '../../model/index.ts';
import { calibrationFromContext, LabelSelector } from '../double-sparsity/index.ts';
import type { AttentionPlan, AttentionPolicy, AttentionSpec, PolicyContext, PolicyNeeds, PolicyStepContext } from '../policy.ts';
import { parseAttentionSpec } from '../spec.ts';
import { fasaDims, fasaDominantChunks, fasaSpecParams, resolveFasaParams, type FasaParams, type FasaSpecParams } from './reference.ts';

export class FasaPolicy implements AttentionPolicy {
  readonly name = 'fasa';
  readonly needs: PolicyNeeds;
  private resolved: FasaParams | null = null;
  private selector: LabelSelector | null = null;

  /** `calibration`: a validated fasa artifact (parseCalibration); `calibrationFile` names it in errors. */
  constructor(readonly params: FasaSpecParams, readonly calibration: FasaCalibration, private readonly calibrationFile = 'calibration') {
    if (!Number.isInteger(params.budget) || params.budget < 1) throw new InvalidArgumentError('attention.budget', `must be a positive integer, got ${params.budget}`);
    const self = this;
    this.needs = {
      get denseLayers(): readonly number[] {
        return Array.from({ length: self.params.denseLayers }, (_, l) => l);
      },
      granularity: 'token', statistics: () => 'none', metadata: ['token-label-channels'], evicts: false, calibration: 'fasa',
    };
  }

  /** Fits the chunk count to the model and checks the calibration was made for it (typed errors otherwise). */
  checkModel(config: ModelConfig): void {
    checkCalibrationFits(this.calibration, config, this.calibrationFile);
    const p = resolveFasaParams(this.params, config);
    this.resolved = p;
    this.selector?.destroy();
    this.selector = new LabelSelector({
      label: 'fasa', numHeads: config.numHeads, ropeLayout: config.ropeLayout, inverseFrequencies: ropeInverseFrequencies(config),
      channels: Array.from({ length: config.numLayers }, (_, l) => (l < p.denseLayers ? null
        : Array.from({ length: config.numKvHeads }, (_, g) => fasaDims(fasaDominantChunks(this.calibration, l, g, p.chunks), config.headDim, config.ropeLayout)))),
      // The partial q.k estimates the logit: the attention's own scale.
      scale: 1 / Math.sqrt(config.headDim), budget: p.budget,
    });
  }

  /** The parameters as fitted to the model (null before checkModel). */
  get fitted(): FasaParams | null {
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
    if (!this.selector) throw new InvalidArgumentError('policy', 'fasa needs the model (checkModel) before its first step: its estimate reads the calibrated chunks');
    return this.selector;
  }
}

/** The registry's factory: `fasa:budget=256,chunks=8,dense-layers=1`, with the model's calibration. */
export function createFasaPolicy(spec: AttentionSpec, context?: PolicyContext): FasaPolicy {
  const params = fasaSpecParams(parseAttentionSpec(spec as never) as never);
  const artifact = parseCalibration(calibrationFromContext('fasa', context), 'calibration', 'fasa') as FasaCalibration;
  const policy = new FasaPolicy(params, artifact);
  if (context) policy.checkModel(context.config);
  return policy;
}
