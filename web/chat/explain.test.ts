// explain: every error the page shows comes with a remedy, and the two read as separate sentences.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotAModelError } from '../../engine/protocol.ts';
import { explain, sentence } from './explain.ts';

describe('explain', () => {
  it("keeps an engine error's own remedy", () => {
    const e = new NotAModelError('http://127.0.0.1/x', 'folder', 'config.json');
    expect(explain(e, 'fallback')).toEqual({ message: e.message, remedy: e.remedy });
  });

  it('gives errors without a remedy the place\'s own, and ends both with a full stop', () => {
    expect(explain(new TypeError('Failed to fetch'), 'Check your connection')).toEqual({ message: 'Failed to fetch.', remedy: 'Check your connection.' });
    expect(explain('boom', 'Try again.')).toEqual({ message: 'boom.', remedy: 'Try again.' });
    // The engine's messages that end in a value ('got 0') no longer run into the remedy.
    expect(explain(new InvalidArgumentError('max_tokens', 'must be an integer >= 1, got 0'), 'x').message).toBe('max_tokens: must be an integer >= 1, got 0.');
  });

  it('leaves sentences that end already', () => {
    expect(sentence('Done.')).toBe('Done.');
    expect(sentence('Is it? ')).toBe('Is it?');
    expect(sentence('(see above)')).toBe('(see above)');
  });
});
