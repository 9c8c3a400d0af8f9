// Generation module face: the forward-backend contract, sequence logits and the generation loop.
export type { CacheUsage, ForwardBackend } from './backend.ts';
export { sequenceLogits, validateIds } from './logits.ts';
export type { LogitsMode } from './logits.ts';
export { argmax, generateGreedy } from './greedy.ts';
export type { GenerationUsage, GreedyRequest, GreedyResult } from './greedy.ts';
