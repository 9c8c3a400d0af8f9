// FASA's face: the GPU policy and the CPU reference of its dominant chunks (scores and selection are Double
// Sparsity's, whose face has them).
export { FasaPolicy, createFasaPolicy } from './policy.ts';
export { FASA_CHUNK_DIVISOR, fasaDims, fasaDominantChunks, fasaSpecParams, resolveFasaParams, type FasaParams, type FasaSpecParams } from './reference.ts';
