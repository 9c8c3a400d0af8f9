// Uploads a model's weights to the GPU once; ORT's prefill sessions and our decode kernels read the same buffers.
// With quantization (engine/quant) the linear weights and the embedding table are quantized on the CPU as they are
// uploaded, and only their quantized form reaches the GPU: codes, scales and zero points, each its own buffer
// because ORT binds each as a separate MatMulNBits input.
import { BufferLimitError } from '../errors/index.ts';
import type { LoadedModel, ProgressCallback } from '../model/index.ts';
import { isQuantizedWeight, quantizeMatrix, type QuantizationSpec } from '../quant/index.ts';

export interface GpuWeight {
  /** f32 values, or a quantized weight's codes [rows][blocks][blockSize * bits / 8]. */
  buffer: GPUBuffer;
  /** The logical shape ([out, in] for a matrix), whatever the storage. */
  shape: number[];
  quantized?: {
    /** f32 [rows * blocksPerRow]. */
    scales: GPUBuffer;
    /** Packed u8 zero points, or null (symmetric). */
    zeroPoints: GPUBuffer | null;
    bits: 4 | 8;
    blockSize: number;
    blocksPerRow: number;
  };
}

const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

export class GpuWeights {
  private readonly byName = new Map<string, GpuWeight>();
  /** GPU bytes of all weights as stored (quantized parts included, allocation padding excluded). */
  bytes = 0;

  private constructor(readonly quantization: QuantizationSpec | null) {}

  /**
   * `quantization`: weights that isQuantizedWeight names are block-quantized with it (null: all f32). An untied
   * checkpoint's lm_head.weight is uploaded even when tie_word_embeddings says to use embed_tokens (as before).
   */
  static upload(device: GPUDevice, model: LoadedModel, onProgress?: ProgressCallback, quantization: QuantizationSpec | null = null): GpuWeights {
    const w = new GpuWeights(quantization);
    const names = model.weights.names();
    const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    let total = 0;
    for (const name of names) total += model.weights.get(name).data.byteLength;
    let uploaded = 0;
    const put = (label: string, data: ArrayBufferView, what: string): GPUBuffer => {
      if (data.byteLength > limit) throw new BufferLimitError(`${model.source}: ${what}`, data.byteLength, limit, 'maxStorageBufferBindingSize');
      // ORT's kernels read in 16-byte vectors: pad the allocation, never the logical size. writeBuffer needs a
      // multiple of 4 bytes, which packed zero points may not be: copy those into a padded array.
      const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
      const buffer = device.createBuffer({ label, size, usage: USAGE });
      let bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      if (bytes.byteLength % 4 !== 0) {
        const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
        padded.set(bytes);
        bytes = padded;
      }
      device.queue.writeBuffer(buffer, 0, bytes.buffer, bytes.byteOffset, bytes.byteLength);
      w.bytes += data.byteLength;
      return buffer;
    };
    try {
      for (const name of names) {
        const t = model.weights.get(name);
        if (quantization && isQuantizedWeight(name) && t.shape.length === 2) {
          const q = quantizeMatrix(t.data, t.shape[0], t.shape[1], quantization);
          const buffer = put(name, q.data, `tensor ${name} (quantized)`);
          w.byName.set(name, { buffer, shape: t.shape, quantized: undefined });
          const scales = put(`${name} scales`, q.scales, `tensor ${name} scales`);
          const zeroPoints = q.zeroPoints ? put(`${name} zero points`, q.zeroPoints, `tensor ${name} zero points`) : null;
          w.byName.set(name, {
            buffer, shape: t.shape,
            quantized: { scales, zeroPoints, bits: quantization.bits, blockSize: quantization.blockSize, blocksPerRow: q.blocksPerRow },
          });
        } else {
          w.byName.set(name, { buffer: put(name, t.data, `tensor ${name}`), shape: t.shape });
        }
        uploaded += t.data.byteLength;
        onProgress?.({ phase: 'upload', loadedBytes: uploaded, totalBytes: total, file: name });
      }
    } catch (e) {
      w.destroy();
      throw e;
    }
    return w;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  get(name: string): GpuWeight {
    const w = this.byName.get(name);
    if (!w) throw new Error(`internal: weight ${name} was not uploaded`);
    return w;
  }

  destroy(): void {
    for (const w of this.byName.values()) {
      w.buffer.destroy();
      w.quantized?.scales.destroy();
      w.quantized?.zeroPoints?.destroy();
    }
    this.byName.clear();
  }
}
