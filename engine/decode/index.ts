// The decode module's face: one decode token of the whole model in our own WGSL kernels, one command encoder.
export { WgslDecoder, type DecoderWeights, type DecodeStepOptions, type StepTimestamps } from './wgsl-decoder.ts';
export { decodeVariantFor, defaultWeightFormat, matvecShapeFor, CPU_ADAPTER_VARIANT, GPU_VARIANT, MATVEC_CANDIDATES, DEFAULT_GEMM_TILE, type DecodeKernelVariant, type GemmTile, type MatvecCandidate, type MatvecPick, type MatvecShape } from './variants.ts';
export { DecodeKernels, encodeDispatch, F16_UNIT, laneWordsFor, type Dispatch, type MatrixBuffer, type MatvecMode, type QuantizedMatrixBuffers } from './kernels.ts';
export { countingEncoder, type DispatchCounts } from '../gpu/index.ts';
export { GpuSampler } from './sampler.ts';
