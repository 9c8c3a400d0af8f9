// Uploads a model's weights to the GPU once; prefill and decode sessions (and our kernels) read the same buffers.
import { BufferLimitError } from '../errors/index.ts';
import type { LoadedModel, ProgressCallback } from '../model/index.ts';

export interface GpuWeight {
  buffer: GPUBuffer;
  shape: number[];
}

export class GpuWeights {
  private readonly byName = new Map<string, GpuWeight>();
  bytes = 0;

  static upload(device: GPUDevice, model: LoadedModel, onProgress?: ProgressCallback): GpuWeights {
    const w = new GpuWeights();
    const names = model.weights.names();
    const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    let total = 0;
    for (const name of names) total += model.weights.get(name).data.byteLength;
    try {
      for (const name of names) {
        const t = model.weights.get(name);
        if (t.data.byteLength > limit) {
          throw new BufferLimitError(`${model.source}: tensor ${name}`, t.data.byteLength, limit, 'maxStorageBufferBindingSize');
        }
        // ORT's kernels read in 16-byte vectors: pad the allocation, never the logical size.
        const size = Math.max(16, Math.ceil(t.data.byteLength / 16) * 16);
        const buffer = device.createBuffer({ label: name, size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
        device.queue.writeBuffer(buffer, 0, t.data.buffer, t.data.byteOffset, t.data.byteLength);
        w.byName.set(name, { buffer, shape: t.shape });
        w.bytes += t.data.byteLength;
        onProgress?.({ phase: 'upload', loadedBytes: w.bytes, totalBytes: total, file: name });
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
    for (const w of this.byName.values()) w.buffer.destroy();
    this.byName.clear();
  }
}
