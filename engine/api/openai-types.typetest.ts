// Type test (checked by `npm run typecheck`, never run): the `openai` package's request params fit Sieve's request
// types, and Sieve's responses and stream chunks fit the package's ChatCompletion / ChatCompletionChunk.
import type OpenAI from 'openai';
import type {
  ChatCompletion, ChatCompletionChunk, ChatCompletionMessageParam, ChatCompletionRequest, ChatCompletionTool,
  ChatCompletionToolChoice, ChatFinishReason, ResponseFormat,
} from './types.ts';

type Assignable<From, To> = [From] extends [To] ? true : false;
const check = <T extends true>(value: T): T => value;

// Theirs -> ours: any request an OpenAI client can build type-checks against Sieve's API (unsupported fields are
// refused at runtime, naming them, not by the compiler).
check<Assignable<OpenAI.Chat.ChatCompletionCreateParams, ChatCompletionRequest>>(true);
check<Assignable<OpenAI.Chat.ChatCompletionCreateParamsStreaming, ChatCompletionRequest & { stream: true }>>(true);
check<Assignable<OpenAI.Chat.ChatCompletionMessageParam, ChatCompletionMessageParam>>(true);
check<Assignable<OpenAI.Chat.ChatCompletionTool, ChatCompletionTool>>(true);
check<Assignable<OpenAI.Chat.ChatCompletionToolChoiceOption, ChatCompletionToolChoice>>(true);
check<Assignable<NonNullable<OpenAI.Chat.ChatCompletionCreateParams['response_format']>, ResponseFormat>>(true);

// Ours -> theirs. Sieve's finish_reason 'abort' (a request its caller stopped) is the one value OpenAI's union lacks:
// a response of any other finish reason is an OpenAI ChatCompletion / ChatCompletionChunk as it stands.
type OpenAIFinishReason = OpenAI.Chat.ChatCompletion.Choice['finish_reason'];
check<Assignable<Exclude<ChatFinishReason, OpenAIFinishReason>, 'abort'>>(true);
check<Assignable<'abort', Exclude<ChatFinishReason, OpenAIFinishReason>>>(true);

type Finished<T, F> = T extends { choices: (infer C)[] } ? Omit<T, 'choices'> & { choices: (Omit<C, 'finish_reason'> & { finish_reason: F })[] } : never;
check<Assignable<Finished<ChatCompletion, Exclude<ChatFinishReason, 'abort'>>, OpenAI.Chat.ChatCompletion>>(true);
check<Assignable<Finished<ChatCompletionChunk, Exclude<ChatFinishReason, 'abort'> | null>, OpenAI.Chat.ChatCompletionChunk>>(true);
check<Assignable<ChatCompletion['choices'][number]['message'], OpenAI.Chat.ChatCompletionMessage>>(true);
check<Assignable<ChatCompletion['usage'], OpenAI.CompletionUsage>>(true);
check<Assignable<NonNullable<ChatCompletion['choices'][number]['logprobs']>, OpenAI.Chat.ChatCompletion.Choice.Logprobs>>(true);
check<Assignable<ChatCompletionChunk['choices'][number]['delta'], OpenAI.Chat.ChatCompletionChunk.Choice.Delta>>(true);

// The checks can fail: a response with 'abort' is not an OpenAI ChatCompletion.
check<Assignable<ChatCompletion, OpenAI.Chat.ChatCompletion> extends false ? true : false>(true);
