// Test helper: a WebGPU device in Node through Dawn (`webgpu` package) on the SwiftShader Vulkan driver
// that Debian's chromium ships, so WGSL kernels can be unit-tested without a browser.
import { create, globals } from 'webgpu';
import { patchSharedArrayBufferWrites } from './dawn-node-writes.ts';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
// At import, not at first use: modules that read GPUBufferUsage at their top level (engine/runtime) import after this.
Object.assign(globalThis, globals);
let devicePromise: Promise<GPUDevice> | null = null;
/**
 * The Dawn instance must stay reachable for the life of the process: once garbage-collected, dawn.node's
 * ProcessEvents locks a freed mutex and aborts the process at random ("std::system_error", "The futex facility
 * returned an unexpected error code"; seen under gdb).
 */
let instance: GPU | null = null;

export function nodeGpuDevice(): Promise<GPUDevice> {
  if (!devicePromise) {
    devicePromise = (async () => {
      process.env.VK_ICD_FILENAMES ??= SWIFTSHADER_ICD;
      const gpu = create([]) as GPU;
      instance = gpu;
      const adapter = await gpu.requestAdapter();
      if (!adapter) throw new Error(`No WebGPU adapter in Node: is libvulkan1 installed and ${SWIFTSHADER_ICD} present?`);
      return adapter.requestDevice({
        // As createEngineDevice asks: the decode matvec's subgroup reduction is tested where SwiftShader has them, and
        // the decoder's profiled steps where it has timestamps.
        requiredFeatures: (['subgroups', 'timestamp-query'] as GPUFeatureName[]).filter((f) => adapter.features.has(f)),
        requiredLimits: {
          maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
          maxBufferSize: adapter.limits.maxBufferSize,
          maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
          maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
          maxComputeInvocationsPerWorkgroup: adapter.limits.maxComputeInvocationsPerWorkgroup,
        },
      });
    })();
  }
  return devicePromise;
}

/**
 * A `navigator.gpu` over one Dawn instance (ORT checks navigator.gpu; a second instance in one process crashes),
 * whose devices get patchSharedArrayBufferWrites: for tests of the whole engine, which makes its own device.
 */
export function installNodeNavigatorGpu(): void {
  process.env.VK_ICD_FILENAMES ??= SWIFTSHADER_ICD;
  const gpu = create([]) as GPU;
  instance = gpu;
  const navigatorGpu = {
    async requestAdapter(options?: GPURequestAdapterOptions) {
      const adapter = await gpu.requestAdapter(options);
      if (!adapter) return adapter;
      const requestDevice = adapter.requestDevice.bind(adapter);
      adapter.requestDevice = (async (descriptor?: GPUDeviceDescriptor) => {
        const device = await requestDevice(descriptor);
        patchSharedArrayBufferWrites(device);
        return device;
      }) as GPUAdapter['requestDevice'];
      return adapter;
    },
    getPreferredCanvasFormat: () => gpu.getPreferredCanvasFormat(),
  };
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: navigatorGpu }, configurable: true, writable: true });
}
