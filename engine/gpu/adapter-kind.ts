// Whether an adapter is a CPU implementation of WebGPU: kernels that have a variant for CPU adapters pick it by this.

/** CPU implementations of WebGPU (SwiftShader in Chromium and Dawn, lavapipe/llvmpipe in Mesa). */
const CPU_ADAPTER = /swiftshader|llvmpipe|lavapipe/i;

/** What GPUAdapterInfo (GPUDevice.adapterInfo) says of an adapter, as far as the rule reads it. */
export type AdapterFacts = { vendor?: string; architecture?: string; description?: string };

export function isCpuAdapter(adapter: AdapterFacts): boolean {
  return CPU_ADAPTER.test(`${adapter.vendor ?? ''} ${adapter.architecture ?? ''} ${adapter.description ?? ''}`);
}
