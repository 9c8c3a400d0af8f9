// The quantization module's face: int4 / int8 block quantization at load in MatMulNBits' layout, its CPU reference, and llama.cpp's GGUF block types (Q4_0, Q8_0, Q4_K, Q5_K, Q6_K) with their dequantization.
export {
  QUANTIZATION_MODES, QUANT_BLOCK_SIZE, quantizationSpec, parseQuantization, quantizeMatrix, dequantizeMatrix,
  blocksPerRow, blobBytes, repackGgmlBlocks, zeroPointBytesPerRow, defaultZeroPoint, quantizedBytes, isQuantizedWeight, codeBytesPerF32Byte,
  type QuantizationMode, type QuantizationSpec, type QuantizedMatrix,
} from './block-quant.ts';
export { GGML_BLOCK_TYPES, ggmlBlockType, f16Table, type GgmlBlockType } from './ggml-blocks.ts';
export { f16Bits, toF16 } from './f16.ts';
