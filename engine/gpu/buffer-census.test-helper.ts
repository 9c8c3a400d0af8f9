// Test helper: counts a device's live GPU buffers (created and not yet destroyed) by wrapping createBuffer and each
// buffer's destroy, so a test can show that aborts, errors and reloads give back everything they allocated. ORT's
// buffers count too: its webgpu EP allocates through the same device.
export interface BufferCensus {
  /** Buffers created and not destroyed. */
  readonly live: number;
  /** Their bytes. */
  readonly liveBytes: number;
  /** How many live buffers carry each label ('' for none): what a leak is made of. */
  labels(): Map<string, number>;
}

export function countBuffers(device: GPUDevice): BufferCensus {
  const live = new Map<GPUBuffer, number>();
  const labelOf = new Map<GPUBuffer, string>();
  const create = device.createBuffer.bind(device);
  device.createBuffer = (descriptor: GPUBufferDescriptor): GPUBuffer => {
    const buffer = create(descriptor);
    live.set(buffer, descriptor.size);
    labelOf.set(buffer, `${descriptor.label ?? ''} (${descriptor.size} B, usage ${descriptor.usage})`);
    const destroy = buffer.destroy.bind(buffer);
    buffer.destroy = () => { live.delete(buffer); labelOf.delete(buffer); destroy(); };
    return buffer;
  };
  return {
    get live() { return live.size; },
    get liveBytes() { let n = 0; for (const b of live.values()) n += b; return n; },
    labels() {
      const out = new Map<string, number>();
      for (const l of labelOf.values()) out.set(l, (out.get(l) ?? 0) + 1);
      return out;
    },
  };
}
