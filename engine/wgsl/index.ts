// The WGSL library module's face: shared WGSL functions and the one mechanism that joins them to kernels.
export { decodeLibrary, kvLibrary, linkWgsl, WGSL_LIBRARY, type DecodeChunkVariant } from './link.ts';
