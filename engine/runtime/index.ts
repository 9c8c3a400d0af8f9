// Runtime module face: the GPU forward of a loaded model (ORT segments + our attention kernels).
export { GpuModel, MAX_PREFILL_CHUNK, defaultDecoder } from './gpu-model.ts';
export type { DecodeProfile, GpuModelOptions } from './gpu-model.ts';
export { GpuWeights } from './weights.ts';
