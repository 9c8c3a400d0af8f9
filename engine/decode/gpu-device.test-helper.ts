// Test helper: engine/gpu's Dawn/SwiftShader device for Node, holding the `gpu` instance for the life of the process.
//
// Why not nodeGpuDevice() as is: it drops its `create([])` instance after requestDevice; when V8 collects it,
// dawn.node frees the native instance while its event pump still runs, and the process aborts at random
// ("terminate called after throwing std::system_error: Invalid argument"; under gdb a pthread_mutex_lock
// assertion in dawn::native::InstanceBase::ProcessEvents). Keeping a reference fixed it in 15 of 15 runs.
// Delete this file once the shared helper keeps its instance.
import { create, globals } from 'webgpu';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
// At import, not at first use: modules that read GPUBufferUsage at their top level (engine/runtime) import after this.
Object.assign(globalThis, globals);

let devicePromise: Promise<GPUDevice> | null = null;
/** The instance must outlive every device made from it. */
let instance: GPU | null = null;

export function decodeTestDevice(): Promise<GPUDevice> {
  if (!devicePromise) {
    devicePromise = (async () => {
      process.env.VK_ICD_FILENAMES ??= SWIFTSHADER_ICD;
      instance = create([]);
      const adapter = await instance.requestAdapter();
      if (!adapter) throw new Error(`No WebGPU adapter in Node: is libvulkan1 installed and ${SWIFTSHADER_ICD} present?`);
      const l = adapter.limits;
      return adapter.requestDevice({
        requiredLimits: {
          maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
          maxBufferSize: l.maxBufferSize,
          maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
          maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
          maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
        },
      });
    })();
  }
  return devicePromise;
}
