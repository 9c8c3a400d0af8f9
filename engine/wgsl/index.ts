// The WGSL library module's face: shared WGSL functions and the one mechanism that joins them to kernels.
export { kvLibrary, linkWgsl, WGSL_LIBRARY } from './link.ts';
