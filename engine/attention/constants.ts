// Numbers of the paged attention kernels; each must match the constant of the same name in its .wgsl file.

/** Threads per workgroup of every kernel: a multiple of 32 (NVIDIA warps) and 64 (AMD wavefronts). */
export const WORKGROUP_SIZE = 64;

/** Slots per split of the decode kernel (CHUNK in decode-attention.wgsl): one slot per thread. */
export const DECODE_CHUNK = 64;

/** Largest head dim: the prefill kernel's threads per query row (D / PREFILL_CHANNELS_PER_THREAD) fit a workgroup. */
export const MAX_HEAD_DIM = 256;

/** Head-dim channels of a query row per prefill thread (CHANNELS = 4 * VECS in prefill-attention.wgsl). */
export const PREFILL_CHANNELS_PER_THREAD = 16;

/** Most slots per prefill key tile (MAX_TILE_KEYS): bounds the per-thread score array. */
export const PREFILL_MAX_TILE_KEYS = 32;

/** Stride of the per-layer uniforms: WebGPU's default minUniformBufferOffsetAlignment. */
export const LAYER_UNIFORM_STRIDE = 256;

/** Bytes of the step header (seq slot, start position, n, padding) before the RoPE table. */
export const STEP_HEADER_BYTES = 16;

/**
 * Prompt tokens per prefill chunk by default: the GPU path and the CPU references run a longer prompt in chunks of
 * this many (an evicting policy evicts between chunks), so both must chunk alike. Bounds the chunk's activations.
 */
export const DEFAULT_PREFILL_CHUNK = 512;
