// Recycled Attention's face: the GPU policy and the CPU reference of its schedule and selection.
export { RecycledPolicy, RecycledMode, createRecycledPolicy } from './policy.ts';
export {
  cosineSimilarity, recycledParams, recycledReadSet, recycledRecord, RecycledSchedule, type RecycledParams,
} from './reference.ts';
