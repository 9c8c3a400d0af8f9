// The quantization module's face: int4 / int8 block quantization at load in MatMulNBits' layout, and its CPU reference.
export {
  QUANTIZATION_MODES, QUANT_BLOCK_SIZE, quantizationSpec, parseQuantization, quantizeMatrix, dequantizeMatrix,
  blocksPerRow, blobBytes, zeroPointBytesPerRow, defaultZeroPoint, quantizedBytes, isQuantizedWeight, codeBytesPerF32Byte,
  type QuantizationMode, type QuantizationSpec, type QuantizedMatrix,
} from './block-quant.ts';
