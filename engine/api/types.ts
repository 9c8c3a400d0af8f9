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
  /** Choices to generate, 1 to MAX_CHOICES (chat; completions take only 1), one after another on the prompt's cache. */
  n?: number | null;
  user?: string | null;
  attention?: AttentionRequest | null;
}

/**
 * A content part. Only {type: 'text', text} is supported; the other kinds OpenAI defines (image_url, input_audio,
 * file, refusal) type-check, so OpenAI's params fit, and are refused at runtime naming the part.
 */
export interface ChatContentPart {
  type: 'text' | (string & {});
  text?: string;
}

/** A tool call in an assistant message sent back (OpenAI's shape; only type 'function' is supported). */
export interface ChatCompletionMessageToolCallParam {
  id: string;
  type: 'function' | (string & {});
  function?: { name: string; arguments: string };
}

/**
 * OpenAI's message params, as wide as the `openai` package's: 'developer' is taken as 'system'; 'function' (the
 * deprecated function-calling role) is refused at runtime. Assistant turns may carry tool_calls; 'tool' turns are
 * tool results, matched to a call by tool_call_id.
 */
export type ChatCompletionMessageParam =
  | { role: 'system' | 'developer' | 'user'; content: string | ChatContentPart[]; name?: string }
  | {
    role: 'assistant'; content?: string | ChatContentPart[] | null; name?: string; refusal?: string | null;
    tool_calls?: ChatCompletionMessageToolCallParam[]; audio?: unknown; function_call?: unknown;
  }
  | { role: 'tool'; content: string | ChatContentPart[]; tool_call_id: string }
  | { role: 'function'; content: string | null; name: string };

/** A function the model may call: OpenAI's {type: 'function', function: {name, description, parameters}}. */
export interface ChatCompletionTool {
  type: 'function' | (string & {});
  function?: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean | null };
}

/** 'auto' (the model decides), 'none', 'required' (some call, constrained), or one named function (constrained). */
export type ChatCompletionToolChoice =
  | 'none' | 'auto' | 'required'
  | { type: 'function' | (string & {}); function?: { name: string } };

/**
 * Structured output. OpenAI's: 'text', 'json_object' (any JSON object), 'json_schema' (JSON valid against
 * json_schema.schema). Sieve's (WebLLM's names): 'grammar' (an EBNF grammar in xgrammar's dialect, root rule
 * `root`), 'regex' (text matching a regular expression).
 */
export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; json_schema: { name: string; description?: string; schema?: Record<string, unknown>; strict?: boolean | null } }
  | { type: 'grammar'; grammar: string }
  | { type: 'regex'; regex: string };

export interface ChatCompletionRequest extends SamplingRequestFields {
  messages: ChatCompletionMessageParam[];
  /** Alias of max_tokens (OpenAI's newer name); wins when both are given. */
  max_completion_tokens?: number | null;
  logprobs?: boolean | null;
  /** Integer [0, 20]; needs logprobs: true. */
  top_logprobs?: number | null;
  response_format?: ResponseFormat | null;
  /** Functions passed to the chat template as `tools`; the model's calls come back as message.tool_calls. */
  tools?: ChatCompletionTool[] | null;
  tool_choice?: ChatCompletionToolChoice | null;
  /** Accepted: more than one call per reply is parsed whatever this says. */
  parallel_tool_calls?: boolean | null;
  /** Further chat-template variables (vLLM's name), e.g. {enable_thinking: false} for Qwen3. */
  chat_template_kwargs?: Record<string, unknown> | null;
  // OpenAI's parameters that Sieve does not support: typed so OpenAI's params fit; any value other than null is
  // refused at runtime with UnsupportedParameterError naming them.
  audio?: unknown;
  function_call?: unknown;
  functions?: unknown;
  metadata?: unknown;
  modalities?: unknown;
  moderation?: unknown;
  prediction?: unknown;
  prompt_cache_key?: unknown;
  prompt_cache_options?: unknown;
  prompt_cache_retention?: unknown;
  reasoning_effort?: unknown;
  safety_identifier?: unknown;
  service_tier?: unknown;
  store?: unknown;
  verbosity?: unknown;
  web_search_options?: unknown;
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
  refusal: null;
}

/**
 * Why a chat choice ended: generation's reasons, or 'tool_calls' when the reply was parsed into tool calls.
 * 'abort' (Sieve's, as vLLM's) is the one value outside OpenAI's union: a request its caller stopped.
 */
export type ChatFinishReason = FinishReason | 'tool_calls';

/** A tool call the model made: its arguments are the JSON text the model wrote. */
export interface ChatCompletionMessageToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ChatCompletionMessage {
  role: 'assistant';
  /** null when the whole reply was tool calls. */
  content: string | null;
  refusal: null;
  tool_calls?: ChatCompletionMessageToolCall[];
}

export interface ChatCompletionChoice {
  index: number;
  message: ChatCompletionMessage;
  logprobs: ChatChoiceLogprobs | null;
  finish_reason: ChatFinishReason;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  /** One per n (choices are generated one after another; the prompt's cache is reused). */
  choices: ChatCompletionChoice[];
  usage: CompletionUsage;
}

/** A streamed piece of a tool call: the first piece of a call has its id, type and name; later ones add arguments. */
export interface ChatCompletionChunkToolCall {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
}

export interface ChatCompletionChunkChoice {
  index: number;
  delta: { role?: 'assistant'; content?: string; tool_calls?: ChatCompletionChunkToolCall[] };
  logprobs: ChatChoiceLogprobs | null;
  finish_reason: ChatFinishReason | null;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  /** Empty in the last chunk, which carries usage (OpenAI's stream_options.include_usage form). */
  choices: ChatCompletionChunkChoice[];
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
