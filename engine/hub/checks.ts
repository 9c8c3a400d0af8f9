// Checks made before a download starts: enough browser storage (quota), and an adapter able to run the model.
import { BufferLimitError, MissingFeatureError, StorageQuotaError } from '../errors/index.ts';
import { expectedTensorShapes, type ModelConfig } from '../model/index.ts';
import { blobBytes, blocksPerRow, codeBytesPerF32Byte, isQuantizedWeight, quantizationSpec, quantizedBytes, storageSpec, type QuantizationMode } from '../quant/index.ts';

/**
 * Space kept free beyond the download itself: the browser's usage figure lags writes, and a full origin makes every
 * other write (conversations, metadata) fail. 32 MiB: a few metadata files and a few seconds of writes.
 */
export const QUOTA_HEADROOM_BYTES = 32 * 2 ** 20;

/** What navigator.storage.estimate() answers (both fields may be absent in some browsers). */
export interface StorageEstimateLike {
  quota?: number;
  usage?: number;
}

/** Throws StorageQuotaError when `neededBytes` (plus headroom) exceed quota - usage. Unknown quota passes. */
export function checkQuota(what: string, neededBytes: number, estimate: StorageEstimateLike, headroom = QUOTA_HEADROOM_BYTES): void {
  if (neededBytes <= 0 || typeof estimate.quota !== 'number') return;
  const available = estimate.quota - (estimate.usage ?? 0);
  if (neededBytes + headroom > available) throw new StorageQuotaError(what, neededBytes + headroom, available);
}

/** The adapter facts a model is checked against (a GPUDevice's or GPUAdapter's limits and features). */
export interface AdapterCapabilities {
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number };
  features: ReadonlySet<string> | { has(name: string): boolean };
}

export interface ModelNeeds {
  /** Bytes of the largest single weight tensor as held on the GPU (one buffer binding). */
  largestTensorBytes: number;
  largestTensor: string;
  /** WebGPU features the chosen weight format needs. */
  features: string[];
}

/**
 * What a model needs from the adapter, from its config alone (before any weight is fetched). Weights in `format`:
 * f32 tensors take 4 bytes per element, f16 2; quantized formats shrink the matrices further (norm vectors are tiny
 * either way). No format needs a feature: f16 is stored as pairs in u32 words and read with core WGSL's
 * unpack2x16float, not as shader-f16's f16 type.
 */
export function modelNeeds(config: ModelConfig, format: QuantizationMode = 'f32'): ModelNeeds {
  // The largest buffer of a quantized matrix is its codes (scales and mins are buffers of their own).
  const bytesPerWeight = 4 * codeBytesPerF32Byte(format);
  let largestTensorBytes = 0;
  let largestTensor = '';
  const { required, optional } = expectedTensorShapes(config);
  for (const [name, shape] of [...required, ...optional]) {
    const bytes = Math.ceil(shape.reduce((a, b) => a * b, 1) * bytesPerWeight);
    if (bytes > largestTensorBytes) { largestTensorBytes = bytes; largestTensor = name; }
  }
  return { largestTensorBytes, largestTensor, features: [] };
}

/** A GGUF tensor as its header describes it: Hugging Face name, ggml type ('Q4_K', 'F16', ...), shape [out, in]. */
export interface GgufTensorDescription {
  name: string;
  dtype: string;
  shape: number[];
}

/**
 * What a GGUF needs on the GPU, from its header alone: each tensor as the loader stores it (engine/quant
 * storageSpec: ggml blocks in their own block format, the rest f32 or `quantization`; under 'f16' the unblocked
 * matrices count 2 bytes a weight, as the writer stores those of a width the f16 matvec takes: every real model's).
 * `weightBytes` is what GpuWeights.bytes reads after the load; `largestTensorBytes` the largest single buffer.
 */
export function ggufModelNeeds(tensors: readonly GgufTensorDescription[], quantization: QuantizationMode = 'f32'): ModelNeeds & { weightBytes: number } {
  const option = quantizationSpec(quantization);
  let weightBytes = 0;
  let largestTensorBytes = 0;
  let largestTensor = '';
  for (const { name, dtype, shape } of tensors) {
    const spec = storageSpec(name, dtype, shape, option);
    const elements = shape.reduce((a, b) => a * b, 1);
    const values = (quantization === 'f16' && shape.length === 2 && isQuantizedWeight(name) ? 2 : 4) * elements;
    weightBytes += spec ? quantizedBytes(shape[0], shape[1], spec) : values;
    const largestBuffer = spec ? shape[0] * blocksPerRow(shape[1], spec) * blobBytes(spec) : values;
    if (largestBuffer > largestTensorBytes) { largestTensorBytes = largestBuffer; largestTensor = name; }
  }
  return { weightBytes, largestTensorBytes, largestTensor, features: [] };
}

/** Throws MissingFeatureError or BufferLimitError when the adapter cannot hold the model; names what is short. */
export function checkCapabilities(model: string, needs: ModelNeeds, adapter: AdapterCapabilities): void {
  for (const feature of needs.features) {
    if (!adapter.features.has(feature)) throw new MissingFeatureError(feature, `${model} (its weights in this format)`);
  }
  const { maxStorageBufferBindingSize, maxBufferSize } = adapter.limits;
  const [limit, limitName] = maxStorageBufferBindingSize <= maxBufferSize
    ? [maxStorageBufferBindingSize, 'maxStorageBufferBindingSize'] : [maxBufferSize, 'maxBufferSize'];
  if (needs.largestTensorBytes > limit) throw new BufferLimitError(`${model}: tensor ${needs.largestTensor}`, needs.largestTensorBytes, limit, limitName);
}
