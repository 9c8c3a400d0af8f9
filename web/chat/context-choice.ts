// What a conversation does once the model's context is full: the person picks, the conversation remembers it.
import type { AttentionRequest, ChatCompletionMessageParam } from '../client/index.ts';

/**
 * 'bounded': go on under StreamingLLM (a bounded cache of the first and the latest tokens; positions keep counting);
 * 'drop-oldest': send the conversation without its oldest turns, as many as it takes to fit.
 */
export type ContextChoice = 'bounded' | 'drop-oldest';

/** The bounded policy offered: StreamingLLM keeping 1024 tokens (sinks plus the most recent). */
export const BOUNDED_ATTENTION: AttentionRequest = { policy: 'streaming', budget: 1024 };

export const CONTEXT_CHOICES: { choice: ContextChoice; label: string }[] = [
  { choice: 'bounded', label: 'Continue with a bounded cache (streaming)' },
  { choice: 'drop-oldest', label: 'Drop the oldest turns' },
];

/** The engine's CONTEXT_FULL (carried across the worker as a SieveError's code). */
export function isContextFull(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'CONTEXT_FULL';
}

/**
 * The messages without their oldest turn (the first user message and the replies up to the next one); a leading
 * system message stays. Null when only the last user turn would be left: nothing more can be dropped.
 */
export function withoutOldestTurn(messages: readonly ChatCompletionMessageParam[]): ChatCompletionMessageParam[] | null {
  const start = messages[0]?.role === 'system' ? 1 : 0;
  const first = messages.findIndex((m, i) => i >= start && m.role === 'user');
  if (first < 0) return null;
  const next = messages.findIndex((m, i) => i > first && m.role === 'user');
  if (next < 0) return null;
  return [...messages.slice(0, start), ...messages.slice(next)];
}
