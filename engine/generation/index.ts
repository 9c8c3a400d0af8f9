// Generation module face: the forward-backend contract, sequence logits, sampling, stopping and the generation loop.
export type { CacheUsage, DeviceSampling, ForwardBackend, PrefillOptions, PrefillProgress } from './backend.ts';
export { sequenceLogits, validateIds } from './logits.ts';
export type { LogitsMode } from './logits.ts';
export { generate, generateAll } from './generate.ts';
export type { FinishReason, GenerationRequest, GenerationResult, GenerationStep, GenerationUsage } from './generate.ts';
export { generateGreedy } from './greedy.ts';
export type { GreedyRequest, GreedyResult } from './greedy.ts';
export { applyTokenMask, argmax, buildProcessors, GREEDY, GreedySampler, GumbelSampler, TokenSampler, tokenLogprob } from './sampler.ts';
export type { Sampler, SamplingParams, TokenConstraint, TokenLogprob, TopLogprob } from './sampler.ts';
export {
  FrequencyPenaltyProcessor, LogitBiasProcessor, MinPProcessor, PresencePenaltyProcessor, RepetitionPenaltyProcessor,
  TemperatureProcessor, TokenHistory, TopKProcessor, TopPProcessor,
} from './processors.ts';
export type { LogitsProcessor } from './processors.ts';
export { gumbelNoise, noiseUniform, pcgHash, randomSeed, SeededRandom, samplingSeed, seedKey, stepKey, type SamplingSeed } from './random.ts';
export { IncrementalDetokenizer, StopStringFilter } from './stopping.ts';
export type { StopCheck } from './stopping.ts';
