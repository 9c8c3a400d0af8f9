// WebGPU in Node through Dawn (the `webgpu` package), for what runs the engine outside a browser: `sieve eval
// --backend dawn` and the Node benches. Node-only: imported directly, never through the face (index.ts).
import { create, globals } from 'webgpu';
import { createEngineDevice, type EngineDevice } from './device.ts';

/**
 * The flags every Node run gives Dawn's create(): one list, so that every figure comes from the same Dawn setup.
 *
 * vulkan_enable_f16_on_nvidia: Dawn hides shader-f16 on NVIDIA's Vulkan driver (a block on the whole vendor while
 * f16 CTS failures there are investigated, crbug.com/42251215), although the H200's driver has every Vulkan bit
 * Dawn checks. Without it, Transformers.js refuses its fp16 exports and WebLLM its q0f16 libraries on the H200. Chrome
 * on NVIDIA/Linux does not set this toggle, so a user's tab there has no shader-f16: Sieve's own f16 storage is
 * packed u32 pairs read with unpack2x16float and does not need the feature. Results that use it say so.
 */
export const DAWN_FLAGS = ['enable-dawn-features=vulkan_enable_f16_on_nvidia'];

/**
 * Installs WebGPU's globals (GPUBufferUsage, ...) and navigator.gpu from Dawn. Call it before any engine GPU module
 * loads (they read the globals at their top level). The instance stays reachable from navigator for the life of the
 * process: once garbage-collected, dawn.node aborts the process (engine/gpu/node-webgpu.test-helper.ts says how).
 */
export function installNodeGpu(flags: readonly string[] = DAWN_FLAGS): GPU {
  Object.assign(globalThis, globals);
  const gpu = create([...flags]) as GPU;
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  return gpu;
}

/** The engine's device on Dawn, and the adapter named (vendor, architecture, description) for a results file. */
export async function openNodeEngineDevice(gpu: GPU = installNodeGpu()): Promise<{ engine: EngineDevice; adapter: string }> {
  const engine = await createEngineDevice(gpu);
  const info = engine.adapterInfo;
  return { engine, adapter: [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') };
}
