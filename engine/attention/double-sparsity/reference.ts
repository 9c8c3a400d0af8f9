// CPU reference of Double Sparsity's selection: parameters fitted to the model, the label channels of each (layer,
// KV head) from the calibration, the partial scores, and the tokens a decode step reads; the GPU path's oracle.
import type { DoubleSparsityCalibration } from '../../calibration/index.ts';
import { InvalidArgumentError } from '../../errors/index.ts';
import type { ModelConfig } from '../../model/index.ts';
import type { EvictingHead } from '../evicting-reference.ts';
import type { ReferenceDecodeContext, ReferencePolicy } from '../policy-reference.ts';
import { tidalSelect } from '../tidal/reference.ts';

/**
 * Label channels as a fraction of the head dim when `channels` is left at 0: d/8 (16 of 128, issue 5's example;
 * ATTENTION.md: Double Sparsity keeps r = d/8 .. d/2 channels).
 */
export const DOUBLE_SPARSITY_CHANNEL_DIVISOR = 8;

/** As written in the spec (`double-sparsity:budget=256,channels=16,dense-layers=2`); channels 0 = the model's d/8. */
export interface DoubleSparsitySpecParams {
  budget: number;
  channels: number;
  denseLayers: number;
}

/** Resolved for one model: channels in [1, headDim]. */
export type DoubleSparsityParams = DoubleSparsitySpecParams;

export function doubleSparsitySpecParams(spec: { [param: string]: unknown }): DoubleSparsitySpecParams {
  return { budget: spec.budget as number, channels: spec.channels as number, denseLayers: spec.denseLayers as number };
}

/**
 * Fits the parameters to the model: channels 0 becomes max(1, headDim / 8); more channels than the head dim, or more
 * dense layers than layers, is an InvalidArgumentError (never a silent change).
 */
export function resolveDoubleSparsityParams(spec: DoubleSparsitySpecParams, config: Pick<ModelConfig, 'headDim' | 'numLayers'>): DoubleSparsityParams {
  if (spec.denseLayers > config.numLayers) {
    throw new InvalidArgumentError('attention.denseLayers', `the model has ${config.numLayers} layers; ${spec.denseLayers} dense layers are more than it has`);
  }
  if (spec.channels > config.headDim) {
    throw new InvalidArgumentError('attention.channels', `the model's head dim is ${config.headDim}; ${spec.channels} label channels are more than a key has`);
  }
  const channels = spec.channels === 0 ? Math.max(1, Math.floor(config.headDim / DOUBLE_SPARSITY_CHANNEL_DIVISOR)) : spec.channels;
  return { ...spec, channels };
}

/**
 * The `r` key channels the label cache keeps for (layer, KV head g), ascending. GQA: one label serves the group, so
 * the channels are the top r of the calibration's qk statistic summed over the group's query heads (ties: lower
 * channel); with one query head per KV head this is exactly that head's own ranking.
 */
export function doubleSparsityChannels(calibration: DoubleSparsityCalibration, layer: number, kvHead: number, r: number): number[] {
  const { numHeads: H, numKvHeads: G, headDim: d } = calibration.model;
  const group = H / G;
  const summed = new Float64Array(d);
  for (let h = kvHead * group; h < (kvHead + 1) * group; h++) {
    const row = calibration.data.scores[layer][h];
    for (let c = 0; c < d; c++) summed[c] += row[c];
  }
  return topIndices(summed, r);
}

/** The k indices of the highest values, ties to the lower index, ascending. */
export function topIndices(values: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: values.length }, (_, i) => i).sort((a, b) => values[b] - values[a] || a - b).slice(0, k).sort((a, b) => a - b);
}

/**
 * Partial scores of one KV head: per cached slot, max over the group's rotated queries of scale * sum over `dims` of
 * q[c] * k[c] (keys rotated, as cached). Double Sparsity's estimate with scale 1/sqrt(r); FASA's with 1/sqrt(d). f64.
 */
export function partialScores(queries: readonly ArrayLike<number>[], keys: readonly ArrayLike<number>[], dims: readonly number[], scale: number): Float64Array {
  return Float64Array.from(keys, (k) => {
    let best = -Infinity;
    for (const q of queries) {
      let dot = 0;
      for (const c of dims) dot += q[c] * k[c];
      best = Math.max(best, scale * dot);
    }
    return best;
  });
}

/**
 * The slots a decode step lists when the head holds `tokens` slots: the newest (the step's own token, always read by
 * the kernel) is no candidate; the top budget - 1 older slots by score, ties to the LOWER slot, ascending.
 */
export function selectTokens(scores: ArrayLike<number>, tokens: number, budget: number): number[] {
  return tidalSelect(scores, tokens, budget);
}

/**
 * The label-scored selection Double Sparsity and FASA share, for the CPU reference forward: the layers after the
 * dense ones score every slot with q.k over a few key dims per (layer, KV head) and read the top `budget`.
 */
export class PartialScoreReferencePolicy implements ReferencePolicy {
  constructor(
    readonly name: string,
    readonly params: { budget: number; denseLayers: number },
    /** Key dims per layer and KV head. */
    readonly dims: readonly (readonly number[])[][],
    readonly scale: number,
  ) {}

  plan(head: EvictingHead, ctx: ReferenceDecodeContext): readonly number[] | null {
    if (ctx.layer < this.params.denseLayers) return null;
    const scores = partialScores(ctx.queries, head.keys, this.dims[ctx.layer][ctx.kvHead] as number[], this.scale);
    return selectTokens(scores, head.positions.length, this.params.budget);
  }

  fork(): PartialScoreReferencePolicy { return this; }
}

/** Double Sparsity's reference policy: the calibrated top channels, scale 1/sqrt(r). */
export function doubleSparsityReferencePolicy(params: DoubleSparsityParams, calibration: DoubleSparsityCalibration, config: Pick<ModelConfig, 'numLayers' | 'numKvHeads'>): PartialScoreReferencePolicy {
  const dims = Array.from({ length: config.numLayers }, (_, l) => Array.from({ length: config.numKvHeads }, (_, g) => doubleSparsityChannels(calibration, l, g, params.channels)));
  return new PartialScoreReferencePolicy('double-sparsity', params, dims, 1 / Math.sqrt(params.channels));
}
