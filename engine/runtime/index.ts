// Runtime module face: the GPU forward of a loaded model (ORT prefill segments + our attention kernels; our WGSL decoder).
export { GpuModel, checkGpuModelOptions, DECODE_ENCODE_AHEAD, MAX_PREFILL_CHUNK } from './gpu-model.ts';
export type { DecodeProfile, GpuModelOptions, PrefillPath } from './gpu-model.ts';
export { GpuWeights, GpuWeightWriter, UPLOAD_IN_FLIGHT_BYTES } from './weights.ts';
