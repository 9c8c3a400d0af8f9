// API module face: OpenAI-style chat and completion requests on a forward backend, their validation and types.
export { completionRequestOf, createChatCompletion, createCompletion, generateIds } from './completions.ts';
export type { CompletionOptions, GeneratedIds, GenerateRequest } from './completions.ts';
export {
  LOGIT_BIAS_LIMIT, MAX_REPETITION_PENALTY, MAX_STOP_STRINGS, MAX_TOP_LOGPROBS, samplingDefaultsFromGenerationConfig,
  validateChatCompletionRequest, validateCompletionRequest,
} from './validate.ts';
export type { SamplingDefaults, ValidatedChatRequest, ValidatedCompletionRequest, ValidatedParams } from './validate.ts';
export type * from './types.ts';
