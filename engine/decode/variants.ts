// Kernel variants per adapter: the same WGSL entry points with the workgroup shape that suits the hardware, chosen
// once per device from its adapter info. One decode path everywhere; only these numbers differ.
/** The workgroup shape of the matvec kernels (WG and TPR overrides of matvec.wgsl and matvec-quant.wgsl). */
export interface DecodeKernelVariant {
  name: 'gpu' | 'cpu-adapter';
  /** f32 matvec: threads per workgroup and per row (rows per workgroup = their ratio). */
  matvec: { workgroupSize: number; threadsPerRow: number };
  /** Block-quantized matvec: likewise. */
  quantMatvec: { workgroupSize: number; threadsPerRow: number };
  /** Threads of the one greedy argmax workgroup (argmax.wgsl). */
  argmaxWorkgroupSize: number;
}

/**
 * Real GPUs: 64 threads per f32 row keep a row's loads 1 KiB-contiguous per step, and 4 rows a workgroup give even a
 * 576-row k/v projection 144 workgroups (an H200 has 132 SMs); 32 threads per quantized row, each whole code words,
 * keep a 576-wide row's lanes busy.
 */
export const GPU_VARIANT: DecodeKernelVariant = {
  name: 'gpu',
  matvec: { workgroupSize: 256, threadsPerRow: 64 },
  quantMatvec: { workgroupSize: 256, threadsPerRow: 32 },
  argmaxWorkgroupSize: 256,
};

/**
 * CPU implementations of WebGPU run a workgroup's invocations as SIMD loops on a core, and each workgroupBarrier
 * splits those loops: a 256-thread matvec workgroup cost ~2.5 ms on SwiftShader (stories260K's lm_head, 128
 * workgroups: 316 ms; measured in Node on Dawn, 2026-12-02). A thread per row and 64-thread workgroups leave only
 * the norm's barriers.
 */
export const CPU_ADAPTER_VARIANT: DecodeKernelVariant = {
  name: 'cpu-adapter',
  matvec: { workgroupSize: 64, threadsPerRow: 1 },
  quantMatvec: { workgroupSize: 64, threadsPerRow: 1 },
  argmaxWorkgroupSize: 64,
};

/** CPU implementations of WebGPU (SwiftShader in Chromium and Dawn, lavapipe/llvmpipe in Mesa). */
const CPU_ADAPTER = /swiftshader|llvmpipe|lavapipe/i;

export function decodeVariantFor(adapter: { vendor?: string; architecture?: string; description?: string }): DecodeKernelVariant {
  return CPU_ADAPTER.test(`${adapter.vendor ?? ''} ${adapter.architecture ?? ''} ${adapter.description ?? ''}`) ? CPU_ADAPTER_VARIANT : GPU_VARIANT;
}
