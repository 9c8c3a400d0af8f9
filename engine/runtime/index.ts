// Runtime module face: the GPU forward of a loaded model (our WGSL prefill and decoder over the paged KV cache).
export { GpuModel, checkGpuModelOptions, defaultKvDtype, DECODE_ENCODE_AHEAD, MAX_PREFILL_CHUNK } from './gpu-model.ts';
export type { DecodeProfile, GpuModelOptions } from './gpu-model.ts';
export { GpuWeights, GpuWeightWriter, quantizeOnFor, UPLOAD_IN_FLIGHT_BYTES, type QuantizeOn } from './weights.ts';
