// Shared set-up of the Node benches (Dawn through the `webgpu` package): the engine's device with dawn.node's quirks
// handled, a model loaded from a folder, and the adapter named for the results file.
import { nodeGpu } from './node-webgpu-globals.ts';
import { createEngineDevice, patchSharedArrayBufferWrites, type EngineDevice } from '../engine/gpu/index.ts';

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
