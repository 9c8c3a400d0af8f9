// FASA on the GPU: layer 0 dense; elsewhere the step's rotated query scores every older token over the dominant RoPE
// frequency chunks of the calibration (max over the KV group), and the top budget - 1 per KV head are read as a
// {kind: 'tokens'} plan. The chunks' key dims are gathered on append into a compact per-token cache (Double Sparsity's
// label selector): read straight from the pages, a few scattered dims per key would cost the whole key row's memory
// transactions, and the estimate would save no bandwidth.
import { parseCalibration, type FasaCalibration } from '../../calibration/index.ts';
import { ropeInverseFrequencies, type ModelConfig } from '../../model/index.ts';
import { calibrationFromContext, LabelSelectingPolicy, type LabelSelectorOptions } from '../double-sparsity/index.ts';
import type { AttentionSpec, PolicyContext } from '../policy.ts';
import { parseAttentionSpec } from '../spec.ts';
import { fasaDims, fasaDominantChunks, fasaSpecParams, resolveFasaParams, type FasaParams, type FasaSpecParams } from './reference.ts';

export class FasaPolicy extends LabelSelectingPolicy<FasaSpecParams, FasaParams, FasaCalibration> {
  protected readonly needsModelReason = 'its estimate reads the calibrated chunks';

  /** `calibration`: a validated fasa artifact (parseCalibration); `calibrationFile` names it in errors. */
  constructor(params: FasaSpecParams, calibration: FasaCalibration, calibrationFile?: string) {
    super('fasa', params, calibration, calibrationFile);
  }

  /** Fits the chunk count to the model. */
  protected fit(config: ModelConfig): FasaParams {
    return resolveFasaParams(this.params, config);
  }

  protected selectorOptions(config: ModelConfig, p: FasaParams): Omit<LabelSelectorOptions, 'label'> {
    return {
      numHeads: config.numHeads, ropeLayout: config.ropeLayout, inverseFrequencies: ropeInverseFrequencies(config),
      channels: Array.from({ length: config.numLayers }, (_, l) => (l < p.denseLayers ? null
        : Array.from({ length: config.numKvHeads }, (_, g) => fasaDims(fasaDominantChunks(this.calibration, l, g, p.chunks), config.headDim, config.ropeLayout)))),
      // The partial q.k estimates the logit: the attention's own scale.
      scale: 1 / Math.sqrt(config.headDim), budget: p.budget,
    };
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
