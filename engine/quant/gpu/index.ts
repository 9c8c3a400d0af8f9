// The GPU quantizer at load (quantize.wgsl): its own face, apart from engine/quant's, so that what runs in plain
// Node without a bundler (the CLI's CPU reference backend imports engine/quant) never loads a `?raw` WGSL import.
export { GpuBlockQuantizer, gpuQuantizes, QUANTIZE_WINDOW_BYTES, type QuantizedTarget } from './gpu-quantize.ts';
