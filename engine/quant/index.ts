// The quantization module's face: f16 values packed in pairs (f16.ts), int4 / int8 block quantization at load (symmetric, or with f32 mins), its CPU reference (the GPU quantizer at load has its own face, gpu/index.ts), and llama.cpp's GGUF block types (Q4_0, Q8_0, Q4_K, Q5_K, Q6_K) with their dequantization and their exact repacking into our blocks.
export {
  QUANTIZATION_MODES, QUANT_BLOCK_SIZE, MIN_BLOCK_MAGNITUDE, quantizationSpec, parseQuantization, quantizeMatrix, dequantizeMatrix, gpuScales,
  blocksPerRow, blobBytes, defaultZeroPoint, quantizedBytes, isQuantizedWeight, codeBytesPerF32Byte,
  type QuantizationMode, type QuantizationSpec, type QuantizedMatrix,
} from './block-quant.ts';
export { GGML_BLOCK_TYPES, ggmlBlockType, f16Table, type GgmlBlockType } from './ggml-blocks.ts';
export { ggmlRepackSpec, repackGgmlBlocks, storageSpec } from './ggml-repack.ts';
export { f16Bits, packF16Pairs, roundToF16, toF16 } from './f16.ts';
