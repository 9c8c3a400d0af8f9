// TidalDecode's face: the GPU policy, the CPU reference of its selection, and the per-row top-k kernel it shares
// with Recycled Attention.
export { TidalPolicy, createTidalPolicy } from './policy.ts';
export { TokenTopK, type TopKArgs } from './topk.ts';
export {
  resolveTidalParams, tidalLayerRole, tidalLogits, tidalSelect, tidalSpecParams, TIDAL_RESELECT_DENOMINATOR, TIDAL_RESELECT_NUMERATOR,
  type TidalLayerRole, type TidalParams, type TidalSpecParams,
} from './reference.ts';
