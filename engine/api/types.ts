// OpenAI-shaped request and response types of the chat and completion endpoints (plus Sieve's own fields).
import type { FinishReason, GenerationUsage } from '../generation/index.ts';

export type { FinishReason } from '../generation/index.ts';

/** Attention policy for this request: a spec string ("dense", "tidal:256") or {policy, budget}; the engine resolves it. */
export type AttentionRequest = string | { policy: string; budget?: number; [option: string]: unknown };

/** Parameters shared by both endpoints. Every field is optional; null means "the default", as in OpenAI's API. */
export interface SamplingRequestFields {
  /** Echoed in responses; the engine serves the loaded model whatever this says. */
  model?: string | null;
  stream?: boolean | null;
  /** Accepted for OpenAI clients; the last streamed chunk always carries usage. */
  stream_options?: { include_usage?: boolean | null } | null;
  /** Most tokens to generate (>= 1); default: until EOS, a stop string or the context's end. */
  max_tokens?: number | null;
  /** [0, 2]; 0 = greedy. Default 1 (OpenAI) unless the model's generation_config.json says otherwise. */
  temperature?: number | null;
  /** (0, 1]; 1 = off. */
  top_p?: number | null;
  /** Integer >= 0 (-1 is also accepted as off, vLLM's convention); 0 = off. */
  top_k?: number | null;
  /** [0, 1]; 0 = off. */
  min_p?: number | null;
  /** (0, 10]; 1 = off. */
  repetition_penalty?: number | null;
  /** [-2, 2]. */
  presence_penalty?: number | null;
  /** [-2, 2]. */
  frequency_penalty?: number | null;
  /** Safe integer; the same seed gives the same text. */
  seed?: number | null;
  /** Up to MAX_STOP_STRINGS non-empty strings; the stop string is not part of the text. */
  stop?: string | string[] | null;
  /** Token id (as a decimal string) -> bias in [-100, 100]. */
  logit_bias?: Record<string, number> | null;
  ignore_eos?: boolean | null;
  /** Only 1. */
  n?: number | null;
  user?: string | null;
  attention?: AttentionRequest | null;
}

export interface ChatContentPart {
  type: 'text';
  text: string;
}

export interface ChatCompletionMessageParam {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string | ChatContentPart[];
  name?: string;
}

export interface ChatCompletionRequest extends SamplingRequestFields {
  messages: ChatCompletionMessageParam[];
  /** Alias of max_tokens (OpenAI's newer name); wins when both are given. */
  max_completion_tokens?: number | null;
  logprobs?: boolean | null;
  /** Integer [0, 20]; needs logprobs: true. */
  top_logprobs?: number | null;
}

export interface CompletionRequest extends SamplingRequestFields {
  /** Raw prompt text (no chat template), or token ids. */
  prompt: string | number[];
  /** Legacy completions logprobs: the number of top alternatives per token, [0, 20]. */
  logprobs?: number | null;
  echo?: boolean | null;
}

/** OpenAI's usage plus Sieve's speed and memory figures. */
export interface CompletionUsage extends GenerationUsage {
  total_tokens: number;
}

export interface ChatTopLogprob {
  token: string;
  logprob: number;
  bytes: number[];
}

export interface ChatTokenLogprob extends ChatTopLogprob {
  top_logprobs: ChatTopLogprob[];
}

export interface ChatChoiceLogprobs {
  content: ChatTokenLogprob[];
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: [{
    index: 0;
    message: { role: 'assistant'; content: string };
    logprobs: ChatChoiceLogprobs | null;
    finish_reason: FinishReason;
  }];
  usage: CompletionUsage;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  /** Empty in the last chunk, which carries usage (OpenAI's stream_options.include_usage form). */
  choices: {
    index: 0;
    delta: { role?: 'assistant'; content?: string };
    logprobs: ChatChoiceLogprobs | null;
    finish_reason: FinishReason | null;
  }[];
  usage: CompletionUsage | null;
}

/** Legacy completions logprobs. */
export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Record<string, number>[];
  text_offset: number[];
}

export interface Completion {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: [{ index: 0; text: string; logprobs: CompletionLogprobs | null; finish_reason: FinishReason }];
  usage: CompletionUsage;
}

export interface CompletionChunk {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: { index: 0; text: string; logprobs: CompletionLogprobs | null; finish_reason: FinishReason | null }[];
  usage: CompletionUsage | null;
}
