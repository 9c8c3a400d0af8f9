// The prefill module's face: a whole prompt chunk of the model in our own WGSL (tiled GEMMs, the paged flash
// attention), one command encoder per chunk.
export { WgslPrefill, type PrefillChunkOptions } from './wgsl-prefill.ts';
export { PrefillKernels, GEMM_TILE_CANDIDATES, gemmTileName, type GemmIO, type RowDispatch } from './gemm.ts';
export { PrefillTimer, prefillTimerPasses, type PrefillChunkTimes } from './prefill-timer.ts';
