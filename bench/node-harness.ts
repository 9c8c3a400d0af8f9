// Shared set-up of the Node benches (Dawn through the `webgpu` package): the engine's device with dawn.node's quirks
// handled, a model loaded from a folder, and the adapter named for the results file.
import { nodeGpu } from './node-webgpu-globals.ts';
import { createEngineDevice, type EngineDevice } from '../engine/gpu/index.ts';

/** dawn.node rejects writeBuffer from SharedArrayBuffer views (ORT's wasm memory): copy those (DESIGN.md). */
function patchSharedArrayBufferWrites(device: GPUDevice): void {
  const queue = device.queue;
  const write = queue.writeBuffer.bind(queue);
  queue.writeBuffer = ((buffer: GPUBuffer, offset: number, data: BufferSource | SharedArrayBuffer, dataOffset = 0, size?: number) => {
    const view = ArrayBuffer.isView(data);
    const backing = view ? (data as ArrayBufferView).buffer : data;
    if (!(backing instanceof SharedArrayBuffer)) return write(buffer, offset, data as BufferSource, dataOffset, size);
    const element = view ? ((data as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1) : 1;
    const base = view ? (data as ArrayBufferView).byteOffset : 0;
    const start = dataOffset * element;
    const length = size !== undefined ? size * element : (data as ArrayBufferView).byteLength - start;
    return write(buffer, offset, new Uint8Array(backing, base + start, length).slice());
  }) as GPUQueue['writeBuffer'];
}

export interface NodeBenchDevice {
  engine: EngineDevice;
  /** Vendor, architecture and description of the adapter, for the results file. */
  adapter: string;
}

export async function openNodeBenchDevice(): Promise<NodeBenchDevice> {
  const engine = await createEngineDevice(nodeGpu as unknown as GPU);
  patchSharedArrayBufferWrites(engine.device);
  const info = engine.adapterInfo;
  return { engine, adapter: [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') };
}

/** `--name value` from the command line, or the fallback. */
export function argOf(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
