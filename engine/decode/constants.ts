// Numbers of the decode kernels; each must match the constant of the same name in its .wgsl file.

/** Threads per matvec workgroup (WG in matvec.wgsl): WebGPU's default maxComputeInvocationsPerWorkgroup. */
export const MATVEC_WORKGROUP_SIZE = 256;

/**
 * Rows per matvec workgroup (ROWS in matvec.wgsl): 64 threads per row keep a row's loads 1 KiB-contiguous per
 * step, and 4 rows give even a 576-row k/v projection 144 workgroups (an H200 has 132 SMs).
 */
export const MATVEC_ROWS = 4;

/** Threads per embedding-gather workgroup (embed.wgsl). */
export const EMBED_WORKGROUP_SIZE = 256;

/**
 * Rows per quantized matvec workgroup (ROWS in matvec-quant.wgsl): 32 threads per row, each whole 32-weight blocks,
 * so a 576-wide row (18 blocks) still keeps most lanes busy and a 1536-wide one takes 2 blocks per lane.
 */
export const QMATVEC_ROWS = 8;
