// Scheduling of the engine's work: one task at a time, in turns between the tabs that share it.
export { FairQueue } from './fair-queue.ts';
