// The context-full choice of the chat page: which turns "drop the oldest" sends, and what counts as context full.
import { describe, expect, it } from 'vitest';
import { isContextFull, withoutOldestTurn } from './context-choice.ts';

describe('context choice', () => {
  const chat = [
    { role: 'system' as const, content: 'Be brief.' },
    { role: 'user' as const, content: 'one' }, { role: 'assistant' as const, content: 'a' },
    { role: 'user' as const, content: 'two' }, { role: 'assistant' as const, content: 'b' },
    { role: 'user' as const, content: 'three' },
  ];

  it('drops the oldest turn at a time, keeping the system message and the last question', () => {
    const once = withoutOldestTurn(chat);
    expect(once?.map((m) => m.content)).toEqual(['Be brief.', 'two', 'b', 'three']);
    expect(withoutOldestTurn(once!)?.map((m) => m.content)).toEqual(['Be brief.', 'three']);
    expect(withoutOldestTurn(withoutOldestTurn(once!)!)).toBeNull();
    expect(withoutOldestTurn([{ role: 'user', content: 'only' }])).toBeNull();
  });

  it('knows the engine\'s CONTEXT_FULL from other errors', () => {
    expect(isContextFull({ code: 'CONTEXT_FULL', message: 'x' })).toBe(true);
    expect(isContextFull({ code: 'ABORTED' })).toBe(false);
    expect(isContextFull(new Error('CONTEXT_FULL'))).toBe(false);
  });
});
