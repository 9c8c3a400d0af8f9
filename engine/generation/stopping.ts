// Text-side stopping: ids to text deltas as tokens arrive, and stop strings that may span token boundaries.

/** Prompt ids decoded before the first generated token, so its leading space (SentencePiece "▁x") survives decoding. */
const PROMPT_CONTEXT_IDS = 4;
const REPLACEMENT_CHARACTER = '\uFFFD';

/**
 * Turns a growing id sequence into text deltas. Decoders treat a sequence's start specially (SentencePiece drops
 * the first space) and a token may end mid-UTF-8 character, so each step decodes a short window twice, with and
 * without the new ids, and releases the difference once it no longer ends in an incomplete character.
 */
export class IncrementalDetokenizer {
  private readonly ids: number[];
  private prefixOffset = 0;
  private readOffset: number;

  /**
   * A leading BOS is left out of the context: after BOS alone the reply starts the text, and decoders (llama.cpp's
   * llama_detokenize, SentencePiece's) drop a sequence's dummy-prefix space only when the ids begin with text; a
   * BOS first would print its text and keep the space (" Once upon a time").
   */
  constructor(private readonly decode: (ids: number[]) => string, promptIds: readonly number[], bosTokenId: number | null = null) {
    const start = bosTokenId !== null && promptIds[0] === bosTokenId ? 1 : 0;
    this.ids = promptIds.slice(Math.max(start, promptIds.length - PROMPT_CONTEXT_IDS));
    this.readOffset = this.ids.length;
  }

  /** Adds one id; returns the text it completes ('' while a character is still incomplete). */
  push(id: number): string {
    this.ids.push(id);
    return this.release(false);
  }

  /** Whatever is still held back (an incomplete character is released as U+FFFD). */
  flush(): string {
    return this.release(true);
  }

  private release(final: boolean): string {
    if (this.readOffset === this.ids.length) return '';
    const before = this.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    const after = this.decode(this.ids.slice(this.prefixOffset));
    if (!final && (after.length <= before.length || after.endsWith(REPLACEMENT_CHARACTER))) return '';
    // Both decodes share the window's start, so `after` extends `before` for every tokenizer we load.
    const delta = after.startsWith(before) ? after.slice(before.length) : after.slice(commonPrefixLength(before, after));
    this.prefixOffset = this.readOffset;
    this.readOffset = this.ids.length;
    return delta;
  }
}

function commonPrefixLength(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

export interface StopCheck {
  /** Text safe to emit now. */
  text: string;
  /** A stop string was found; `text` ends right before it and nothing after it is ever emitted. */
  stopped: boolean;
}

/**
 * Finds stop strings in streamed text. Text is held back while its tail could still be the start of a stop string,
 * and the stop string itself is never emitted (OpenAI's `stop`).
 */
export class StopStringFilter {
  private pending = '';
  private done = false;

  constructor(private readonly stops: readonly string[]) {}

  push(delta: string): StopCheck {
    if (this.done) return { text: '', stopped: true };
    this.pending += delta;
    let first = -1;
    for (const s of this.stops) {
      const at = this.pending.indexOf(s);
      if (at >= 0 && (first < 0 || at < first)) first = at;
    }
    if (first >= 0) {
      this.done = true;
      const text = this.pending.slice(0, first);
      this.pending = '';
      return { text, stopped: true };
    }
    const hold = this.heldLength();
    const text = this.pending.slice(0, this.pending.length - hold);
    this.pending = this.pending.slice(this.pending.length - hold);
    return { text, stopped: false };
  }

  /** The held-back tail, released when generation ends for another reason. */
  flush(): string {
    const text = this.done ? '' : this.pending;
    this.pending = '';
    return text;
  }

  /** Length of the longest tail of `pending` that is a proper prefix of some stop string. */
  private heldLength(): number {
    let hold = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, this.pending.length); n > hold; n--) {
        if (this.pending.endsWith(s.slice(0, n))) { hold = n; break; }
      }
    }
    return hold;
  }
}
