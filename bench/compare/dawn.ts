// Side-effect module, imported first by every engine's child process: Dawn (the `webgpu` package) as navigator.gpu,
// with the two things every engine here needs from it, installed on the prototypes so they apply to whatever device
// an engine creates for itself:
// - dawn.node rejects writeBuffer from SharedArrayBuffer views (ORT's wasm memory when threads are on): copy those
//   (bench/node-harness.ts does the same for the engine's own device);
// - a meter of GPU memory: bytes in live buffers, counted by wrapping createBuffer / GPUBuffer.destroy /
//   GPUDevice.destroy. A buffer dropped without destroy() counts as live until its device is destroyed (what the
//   engine holds, from the GPU's view, until the garbage collector frees it).
import { create, globals } from 'webgpu';
import { DAWN_FLAGS } from '../dawn-flags.ts';
import readBandwidthSource from '../read-bandwidth.wgsl?raw';

Object.assign(globalThis, globals);
// Every Node run's Dawn flags (engine/gpu/node.ts: vulkan_enable_f16_on_nvidia, so NVIDIA's Vulkan driver offers
// shader-f16, which Transformers.js's fp16 and WebLLM's q0f16 need; Chrome on NVIDIA/Linux does not set it). The
// report records them (report.dawnFlags) and the README says so.
export { DAWN_FLAGS };
export const nodeGpu = create(DAWN_FLAGS);
Object.defineProperty(globalThis, 'navigator', { value: { gpu: nodeGpu }, configurable: true, writable: true });

const queueProto = (globals as unknown as { GPUQueue: { prototype: GPUQueue } }).GPUQueue.prototype;
const write = queueProto.writeBuffer;
queueProto.writeBuffer = function writeBuffer(this: GPUQueue, buffer: GPUBuffer, offset: number, data: BufferSource | SharedArrayBuffer, dataOffset = 0, size?: number) {
  const view = ArrayBuffer.isView(data);
  const backing = view ? (data as ArrayBufferView).buffer : data;
  if (!(backing instanceof SharedArrayBuffer)) return write.call(this, buffer, offset, data as BufferSource, dataOffset, size);
  const element = view ? ((data as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1) : 1;
  const base = view ? (data as ArrayBufferView).byteOffset : 0;
  const length = size !== undefined ? size * element : (view ? (data as ArrayBufferView).byteLength : (data as SharedArrayBuffer).byteLength) - dataOffset * element;
  return write.call(this, buffer, offset, new Uint8Array(backing, base + dataOffset * element, length).slice());
} as GPUQueue['writeBuffer'];

/** Live and peak bytes of GPU buffers in this process. */
export const gpuMeter = { live: 0, peak: 0, resetPeak(): void { this.peak = this.live; } };
const sizes = new WeakMap<GPUBuffer, number>();
const byDevice = new WeakMap<GPUDevice, Set<GPUBuffer>>();
const deviceProto = (globals as unknown as { GPUDevice: { prototype: GPUDevice } }).GPUDevice.prototype;
const bufferProto = (globals as unknown as { GPUBuffer: { prototype: GPUBuffer } }).GPUBuffer.prototype;
const createBuffer = deviceProto.createBuffer;
const destroyBuffer = bufferProto.destroy;
const destroyDevice = deviceProto.destroy;
const release = (b: GPUBuffer) => {
  const size = sizes.get(b);
  if (size === undefined) return;
  sizes.delete(b);
  gpuMeter.live -= size;
};
deviceProto.createBuffer = function (this: GPUDevice, descriptor: GPUBufferDescriptor): GPUBuffer {
  const b = createBuffer.call(this, descriptor);
  sizes.set(b, descriptor.size);
  let set = byDevice.get(this);
  if (!set) byDevice.set(this, (set = new Set()));
  set.add(b);
  gpuMeter.live += descriptor.size;
  gpuMeter.peak = Math.max(gpuMeter.peak, gpuMeter.live);
  return b;
};
bufferProto.destroy = function (this: GPUBuffer): undefined {
  release(this);
  return destroyBuffer.call(this);
};
deviceProto.destroy = function (this: GPUDevice): undefined {
  for (const b of byDevice.get(this) ?? []) release(b);
  byDevice.delete(this);
  return destroyDevice.call(this);
};

/**
 * What building the GPU programs costs each engine: shader modules and compute pipelines made, the ms their
 * synchronous create calls held the JS thread, and the wall-clock ms during which at least one async pipeline was
 * being made (overlapping ones counted once). The cold load's share of compile against the rest (fetch, parse,
 * convert, upload) is what tells a slow load's cause.
 */
export const compileMeter = { modules: 0, pipelines: 0, asyncPipelines: 0, ms: 0, asyncWallMs: 0 };
let asyncInFlight = 0;
let asyncSince = 0;
const createShaderModule = deviceProto.createShaderModule;
const createComputePipeline = deviceProto.createComputePipeline;
const createComputePipelineAsync = deviceProto.createComputePipelineAsync;
deviceProto.createShaderModule = function (this: GPUDevice, descriptor: GPUShaderModuleDescriptor): GPUShaderModule {
  const t = performance.now();
  try { return createShaderModule.call(this, descriptor); } finally { compileMeter.modules++; compileMeter.ms += performance.now() - t; }
};
deviceProto.createComputePipeline = function (this: GPUDevice, descriptor: GPUComputePipelineDescriptor): GPUComputePipeline {
  const t = performance.now();
  try { return createComputePipeline.call(this, descriptor); } finally { compileMeter.pipelines++; compileMeter.ms += performance.now() - t; }
};
deviceProto.createComputePipelineAsync = function (this: GPUDevice, descriptor: GPUComputePipelineDescriptor): Promise<GPUComputePipeline> {
  compileMeter.asyncPipelines++;
  if (asyncInFlight++ === 0) asyncSince = performance.now();
  return createComputePipelineAsync.call(this, descriptor).finally(() => {
    if (--asyncInFlight === 0) compileMeter.asyncWallMs += performance.now() - asyncSince;
  });
};

/** The adapter as the results name it (vendor, architecture, device, description: Dawn puts the driver there). */
export async function adapterInfo(): Promise<Record<string, string>> {
  const adapter = await nodeGpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return { error: 'no adapter' };
  const i = adapter.info;
  // shader-f16: Transformers.js refuses fp16 ("does not support fp16") where the adapter does not offer it.
  return { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description, features: [...adapter.features].sort().join(' ') };
}

/**
 * Device-memory bandwidth as copyBufferToBuffer sees it (read + write bytes per second, best of the passes). Not the
 * roofline's denominator (measureReadBandwidth is): recorded beside it.
 */
export async function measureBandwidth(bytes: number, passes = 8): Promise<number> {
  const adapter = await nodeGpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('no adapter');
  const size = Math.min(bytes, adapter.limits.maxBufferSize);
  const device = await adapter.requestDevice({ requiredLimits: { maxBufferSize: size } });
  const a = device.createBuffer({ size, usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  const b = device.createBuffer({ size, usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  let best = 0;
  for (let p = 0; p < passes; p++) {
    const e = device.createCommandEncoder();
    for (let k = 0; k < 4; k++) e.copyBufferToBuffer(k % 2 ? b : a, 0, k % 2 ? a : b, 0, size);
    const t = performance.now();
    device.queue.submit([e.finish()]);
    await device.queue.onSubmittedWorkDone();
    best = Math.max(best, (4 * 2 * size) / ((performance.now() - t) / 1000));
  }
  device.destroy();
  return best;
}

/**
 * Read bandwidth: bytes per second bench/read-bandwidth.wgsl streams from one buffer of `bytes` (best of the passes,
 * each pass 4 dispatches in one submit, wall time around submit and onSubmittedWorkDone): the denominator of the
 * "% of roofline" column, since a decode step reads its weights and KV and writes next to nothing. The same kernel and
 * grid as bench/wgsl-decode-shapes.ts's figure (4,147 GB/s on the H200 in run 2 of 2026-12-04, copy 424), so the two
 * benches' ceilings agree.
 */
export async function measureReadBandwidth(bytes: number, passes = 8): Promise<number> {
  const adapter = await nodeGpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('no adapter');
  const size = Math.floor(Math.min(bytes, adapter.limits.maxBufferSize, adapter.limits.maxStorageBufferBindingSize) / 16) * 16;
  const device = await adapter.requestDevice({ requiredLimits: { maxBufferSize: size, maxStorageBufferBindingSize: size } });
  // 132 SMs x 16 on the H200 (any grid this large keeps a smaller GPU's cores busy too), fewer for a small buffer
  // (at least 4 vec4s a thread): SwiftShader runs every invocation and barrier on the CPU, so the smoke test's 1 MiB
  // with the full grid took seconds a pass.
  const workgroups = Math.min(132 * 16, Math.max(1, Math.ceil(size / 16 / 256 / 4)));
  const src = device.createBuffer({ size, usage: GPUBufferUsage.STORAGE });
  const sink = device.createBuffer({ size: workgroups * 4, usage: GPUBufferUsage.STORAGE });
  const module = device.createShaderModule({ code: readBandwidthSource });
  const pipeline = await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'stream', constants: { WORKGROUPS: workgroups, VEC4S: size / 16 } } });
  const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: src } }, { binding: 1, resource: { buffer: sink } }] });
  const reads = 4;
  let best = 0;
  for (let p = 0; p < passes + 1; p++) {
    const e = device.createCommandEncoder();
    const pass = e.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    for (let k = 0; k < reads; k++) pass.dispatchWorkgroups(workgroups);
    pass.end();
    const t = performance.now();
    device.queue.submit([e.finish()]);
    await device.queue.onSubmittedWorkDone();
    const s = (performance.now() - t) / 1000;
    // The first pass is a warm-up (pipeline first use, the buffer's first touch).
    if (p > 0) best = Math.max(best, (reads * size) / s);
    // A software adapter (SwiftShader: ~10 s a pass of 16 MiB on this busy machine) gets one timed pass: the figure
    // only says it works there, and the smoke test and dry run should not spend minutes on it. 0.1 ms on the H200.
    if (p > 0 && s > 0.5) break;
  }
  device.destroy();
  return best;
}
