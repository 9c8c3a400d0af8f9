// CPU reference of FASA's selection: parameters fitted to the model, the dominant frequency chunks of each (layer, KV
// head) from the calibration, and their key dims; scores and the token list are Double Sparsity's (the same math).
import type { FasaCalibration } from '../../calibration/index.ts';
import { InvalidArgumentError } from '../../errors/index.ts';
import { ropePair, type ModelConfig, type RopeLayout } from '../../model/index.ts';
import { PartialScoreReferencePolicy, topIndices } from '../double-sparsity/reference.ts';

/**
 * Dominant chunks as a fraction of the head's d/2 RoPE pairs when `chunks` is left at 0: d/16 (8 of 64 at d = 128,
 * issue 5's example; 16 key dims per token, as Double Sparsity's default reads).
 */
export const FASA_CHUNK_DIVISOR = 16;

/** As written in the spec (`fasa:budget=256,chunks=8,dense-layers=1`); chunks 0 = the model's d/16. */
export interface FasaSpecParams {
  budget: number;
  chunks: number;
  denseLayers: number;
}

/** Resolved for one model: chunks in [1, headDim / 2]. */
export type FasaParams = FasaSpecParams;

export function fasaSpecParams(spec: { [param: string]: unknown }): FasaSpecParams {
  return { budget: spec.budget as number, chunks: spec.chunks as number, denseLayers: spec.denseLayers as number };
}

/** chunks 0 becomes max(1, headDim / 16); more than headDim / 2 chunks or more dense layers than layers is an error. */
export function resolveFasaParams(spec: FasaSpecParams, config: Pick<ModelConfig, 'headDim' | 'numLayers'>): FasaParams {
  if (spec.denseLayers > config.numLayers) {
    throw new InvalidArgumentError('attention.denseLayers', `the model has ${config.numLayers} layers; ${spec.denseLayers} dense layers are more than it has`);
  }
  const pairs = config.headDim / 2;
  if (spec.chunks > pairs) {
    throw new InvalidArgumentError('attention.chunks', `the model's head dim ${config.headDim} has ${pairs} RoPE frequency chunks; ${spec.chunks} are more than it has`);
  }
  const chunks = spec.chunks === 0 ? Math.max(1, Math.floor(config.headDim / FASA_CHUNK_DIVISOR)) : spec.chunks;
  return { ...spec, chunks };
}

/**
 * The dominant chunks of (layer, KV head g), ascending. GQA: one list serves the group, so they are the top `chunks`
 * of the calibration's agreement summed over the group's query heads (ties: lower chunk); with one query head per KV
 * head, exactly that head's ranking.
 */
export function fasaDominantChunks(calibration: FasaCalibration, layer: number, kvHead: number, chunks: number): number[] {
  const { numHeads: H, numKvHeads: G, headDim: d } = calibration.model;
  const group = H / G;
  const summed = new Float64Array(d / 2);
  for (let h = kvHead * group; h < (kvHead + 1) * group; h++) {
    const row = calibration.data.agreement[layer][h];
    for (let j = 0; j < d / 2; j++) summed[j] += row[j];
  }
  return topIndices(summed, chunks);
}

/** The key dims of the chunks (both dims of each RoPE pair in the model's layout), ascending. */
export function fasaDims(chunks: readonly number[], headDim: number, layout: RopeLayout): number[] {
  return chunks.flatMap((j) => ropePair(j, headDim, layout)).sort((a, b) => a - b);
}

/** FASA's reference policy: the dims of the calibrated dominant chunks, scale 1/sqrt(d). */
export function fasaReferencePolicy(params: FasaParams, calibration: FasaCalibration, config: Pick<ModelConfig, 'numLayers' | 'numKvHeads' | 'headDim' | 'ropeLayout'>): PartialScoreReferencePolicy {
  const dims = Array.from({ length: config.numLayers }, (_, l) => Array.from({ length: config.numKvHeads }, (_, g) => fasaDims(fasaDominantChunks(calibration, l, g, params.chunks), config.headDim, config.ropeLayout)));
  return new PartialScoreReferencePolicy('fasa', params, dims, 1 / Math.sqrt(config.headDim));
}
