// Numbers of the decode kernels; each must match the constant or override default of the same name in its .wgsl file.

/** Threads per embedding-gather workgroup (embed.wgsl). */
export const EMBED_WORKGROUP_SIZE = 256;
