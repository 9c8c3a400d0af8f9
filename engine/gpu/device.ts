// The engine's one GPUDevice: created with the adapter's full limits, shared by ORT sessions and our kernels.
import { DeviceLostError, NoWebGPUError } from '../errors/index.ts';
import { accountBuffers, type BufferAccounting } from './buffer-accounting.ts';

export interface EngineDevice {
  device: GPUDevice;
  adapterInfo: { vendor: string; architecture: string; description: string };
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number };
  /** Every buffer on the device (ORT's included): live count, live and peak bytes (engine.stats()). */
  buffers: BufferAccounting;
  /** Set once the device is lost; every later call should fail with this. */
  lost: DeviceLostError | null;
  /** The loss, once it is known or within `ms` (work in flight fails before `device.lost` settles); else null. */
  lostWithin(ms: number): Promise<DeviceLostError | null>;
}

/** Limits we raise to the adapter's maximum: big weights, big KV arenas, many bindings per kernel. */
const RAISED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
] as const;

export async function createEngineDevice(gpu: GPU | undefined = globalThis.navigator?.gpu): Promise<EngineDevice> {
  if (!gpu) throw new NoWebGPUError();
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new NoWebGPUError('WebGPU is present but no GPU adapter is available.');
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) requiredLimits[name] = adapter.limits[name];
  // ORT's webgpu EP uses these features when present; asking for them keeps its fast paths.
  const wanted: GPUFeatureName[] = ['shader-f16', 'subgroups', 'timestamp-query'];
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  const info = adapter.info ?? ({} as GPUAdapterInfo);
  const engineDevice: EngineDevice = {
    device,
    adapterInfo: { vendor: info.vendor ?? '', architecture: info.architecture ?? '', description: info.description ?? '' },
    limits: {
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
      maxBufferSize: device.limits.maxBufferSize,
    },
    buffers: accountBuffers(device),
    lost: null,
    lostWithin: async (ms) => {
      if (engineDevice.lost) return engineDevice.lost;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), ms); });
      const result = await Promise.race([lost, timeout]);
      clearTimeout(timer);
      return result;
    },
  };
  const lost = device.lost.then((info) => {
    engineDevice.lost = new DeviceLostError(info.message || info.reason || 'unknown');
    return engineDevice.lost;
  });
  return engineDevice;
}

/** Reads a GPU buffer range back to the CPU (the once-per-token wait on the GPU). */
export async function readBuffer(device: GPUDevice, buffer: GPUBuffer, byteOffset: number, byteLength: number, staging?: GPUBuffer): Promise<Float32Array> {
  const own = !staging;
  const target = staging ?? device.createBuffer({ size: byteLength, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, byteOffset, target, 0, byteLength);
  device.queue.submit([encoder.finish()]);
  await target.mapAsync(GPUMapMode.READ, 0, byteLength);
  const out = new Float32Array(target.getMappedRange(0, byteLength).slice(0));
  target.unmap();
  if (own) target.destroy();
  return out;
}
