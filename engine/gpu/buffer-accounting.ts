// Counts the GPU buffers a device holds: every createBuffer and its first destroy, with live and peak bytes.
// Wraps the device's own methods, so ORT's buffers (made on the same device) are counted with ours.

export interface BufferAccounting {
  /** Buffers created and not yet destroyed. */
  readonly liveBuffers: number;
  /** Their bytes, as requested (the driver's padding is not visible to WebGPU). */
  readonly liveBytes: number;
  /** The most live bytes at once since the device was made (or since resetPeak). */
  readonly peakBytes: number;
  resetPeak(): void;
}

const accounts = new WeakMap<GPUDevice, BufferAccounting>();

/** Starts (once per device) counting the device's buffers; later calls return the same accounting. */
export function accountBuffers(device: GPUDevice): BufferAccounting {
  const known = accounts.get(device);
  if (known) return known;
  const state = { liveBuffers: 0, liveBytes: 0, peakBytes: 0 };
  const create = device.createBuffer.bind(device);
  device.createBuffer = ((descriptor: GPUBufferDescriptor) => {
    const buffer = create(descriptor);
    const size = descriptor.size;
    state.liveBuffers += 1;
    state.liveBytes += size;
    state.peakBytes = Math.max(state.peakBytes, state.liveBytes);
    const destroy = buffer.destroy.bind(buffer);
    let destroyed = false;
    buffer.destroy = () => {
      if (!destroyed) {
        destroyed = true;
        state.liveBuffers -= 1;
        state.liveBytes -= size;
      }
      destroy();
    };
    return buffer;
  }) as GPUDevice['createBuffer'];
  const accounting: BufferAccounting = {
    get liveBuffers() { return state.liveBuffers; },
    get liveBytes() { return state.liveBytes; },
    get peakBytes() { return state.peakBytes; },
    resetPeak() { state.peakBytes = state.liveBytes; },
  };
  accounts.set(device, accounting);
  return accounting;
}
