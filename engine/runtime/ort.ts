// ONNX Runtime Web on the engine's own GPUDevice: one place that configures ORT and creates sessions.
import * as ort from 'onnxruntime-web/webgpu';

let configured = false;

function configureOrt(): void {
  if (configured) return;
  configured = true;
  // Threads need cross-origin isolation; the wasm side only schedules GPU work, so one thread costs nothing.
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'error';
}

/** A prefill segment's session on our device, its outputs left on the GPU for our attention kernels. */
export async function createGpuSession(bytes: Uint8Array, device: GPUDevice): Promise<ort.InferenceSession> {
  configureOrt();
  return ort.InferenceSession.create(bytes, {
    executionProviders: [{ name: 'webgpu', device } as ort.InferenceSession.WebGpuExecutionProviderOption],
    preferredOutputLocation: 'gpu-buffer',
    graphOptimizationLevel: 'all',
  });
}

/** A GPU buffer viewed as an ORT tensor (no copy). */
export function gpuTensor(buffer: GPUBuffer, dims: number[], dataType: 'float32' | 'int32' | 'uint8' = 'float32'): ort.Tensor {
  return ort.Tensor.fromGpuBuffer(buffer, { dataType, dims });
}

export { ort };
