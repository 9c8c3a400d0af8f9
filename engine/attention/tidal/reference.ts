// CPU reference of TidalDecode's selection: which layers attend densely, select, re-select or read the list, and
// the top tokens by q.k logit (max over the KV group); the oracle of the GPU selection.
import { InvalidArgumentError } from '../../errors/index.ts';
import type { EvictingHead } from '../evicting-reference.ts';
import type { ReferenceDecodeContext, ReferencePolicy } from '../policy-reference.ts';

/** The TidalDecode paper's re-selection layer: 13 of Llama-3-8B's 32 layers. */
export const TIDAL_RESELECT_NUMERATOR = 13;
export const TIDAL_RESELECT_DENOMINATOR = 32;

/** TidalDecode's parameters as written (`tidal:budget=256,select-layer=2,reselect-layer=13`); 0 = model default. */
export interface TidalSpecParams {
  budget: number;
  selectLayer: number;
  reselectLayer: number;
}

/** The parameters resolved for one model: reselectLayer is null when the model is too shallow to have one. */
export interface TidalParams {
  budget: number;
  selectLayer: number;
  reselectLayer: number | null;
}

export type TidalLayerRole = 'dense' | 'select' | 'sparse';

export function tidalSpecParams(spec: { [param: string]: unknown }): TidalSpecParams {
  return { budget: spec.budget as number, selectLayer: spec.selectLayer as number, reselectLayer: spec.reselectLayer as number };
}

/**
 * Resolves the layers for a model of `numLayers`. Given layers must exist and the re-selection layer must come after
 * the selection layer (InvalidArgumentError otherwise: never a silent change). reselectLayer 0 means the model's
 * default, round(13/32 of the depth), moved past the selection layer; none when that would be the last layer or past it.
 */
export function resolveTidalParams(spec: TidalSpecParams, numLayers: number): TidalParams {
  const { budget, selectLayer, reselectLayer } = spec;
  if (selectLayer >= numLayers) {
    throw new InvalidArgumentError('attention.selectLayer', `the model has ${numLayers} layers (0..${numLayers - 1}); a selection layer of ${selectLayer} is past the last`);
  }
  if (reselectLayer === 0) {
    const fitted = Math.max(selectLayer + 1, Math.round(numLayers * TIDAL_RESELECT_NUMERATOR / TIDAL_RESELECT_DENOMINATOR));
    return { budget, selectLayer, reselectLayer: fitted < numLayers - 1 ? fitted : null };
  }
  if (reselectLayer >= numLayers) {
    throw new InvalidArgumentError('attention.reselectLayer', `the model has ${numLayers} layers (0..${numLayers - 1}); a re-selection layer of ${reselectLayer} is past the last`);
  }
  if (reselectLayer <= selectLayer) {
    throw new InvalidArgumentError('attention.reselectLayer', `must come after the selection layer (${selectLayer}), got ${reselectLayer}`);
  }
  return { budget, selectLayer, reselectLayer };
}

/** What `layer` does at a decode step: attend densely, attend densely and select, or read the selected tokens. */
export function tidalLayerRole(layer: number, params: TidalParams): TidalLayerRole {
  if (layer < params.selectLayer) return 'dense';
  if (layer === params.selectLayer || layer === params.reselectLayer) return 'select';
  return 'sparse';
}

/**
 * The 'logits' statistic of one KV head: per slot, max over the group's query heads of scale * q_h . k_s (rotated
 * query and keys). f64 sums (the GPU's f32 may differ in the last bits: compare selections away from ties).
 */
export function tidalLogits(queries: readonly ArrayLike<number>[], keys: readonly ArrayLike<number>[], scale: number): Float64Array {
  return Float64Array.from(keys, (k) => {
    let best = -Infinity;
    for (const q of queries) {
      let dot = 0;
      for (let c = 0; c < k.length; c++) dot += q[c] * k[c];
      best = Math.max(best, scale * dot);
    }
    return best;
  });
}

/**
 * The token list a selection layer records when the head holds `tokens` slots (the newest, slot tokens - 1, is this
 * step's own token: the kernel always reads it, so it is not a candidate): the top budget - 1 older slots by logit,
 * ties to the LOWER slot. Ascending slots. With budget >= tokens every slot is read (dense).
 */
export function tidalSelect(logits: ArrayLike<number>, tokens: number, budget: number): number[] {
  const candidates = Array.from({ length: tokens - 1 }, (_, s) => s);
  candidates.sort((a, b) => (logits[b] - logits[a]) || (a - b));
  return candidates.slice(0, budget - 1).sort((a, b) => a - b);
}

/**
 * TidalDecode for the CPU reference forward (policy-reference.ts): the selection layers attend densely and record
 * the top tokens by logit per KV head; the layers after them read that list (and the newest token).
 */
export class TidalReferencePolicy implements ReferencePolicy {
  readonly name = 'tidal';
  private readonly lists: (number[] | undefined)[] = [];

  constructor(readonly params: TidalParams) {}

  plan(head: EvictingHead, ctx: ReferenceDecodeContext): readonly number[] | null {
    const role = tidalLayerRole(ctx.layer, this.params);
    if (role === 'dense') return null;
    if (role === 'select') {
      this.lists[ctx.kvHead] = tidalSelect(tidalLogits(ctx.queries, head.keys, ctx.scale), head.positions.length, this.params.budget);
      return null;
    }
    return this.lists[ctx.kvHead] ?? null;
  }

  fork(): TidalReferencePolicy { return new TidalReferencePolicy(this.params); }
}
