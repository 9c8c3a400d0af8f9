// A one-reader channel that turns pushed values (chunks from the worker's callback) into an async iterable.

/**
 * Values are buffered until read; `close()` ends the iteration after the buffered values, `fail(e)` makes the next
 * read throw once the buffer is drained. `onReturn` runs when the reader stops early (break / return in for-await),
 * so the producer can be interrupted.
 */
export class ChunkChannel<T> implements AsyncIterableIterator<T> {
  private readonly buffered: T[] = [];
  private waiting: ((r: IteratorResult<T>) => void) | null = null;
  private waitingReject: ((e: unknown) => void) | null = null;
  private ended = false;
  private error: { value: unknown } | null = null;

  constructor(private readonly onReturn: () => void = () => undefined) {}

  push(value: T): void {
    if (this.ended) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = this.waitingReject = null;
      resolve({ value, done: false });
    } else {
      this.buffered.push(value);
    }
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.settleWaiting();
  }

  fail(error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.error = { value: error };
    this.settleWaiting();
  }

  get closed(): boolean {
    return this.ended;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.buffered.length > 0) return Promise.resolve({ value: this.buffered.shift() as T, done: false });
    if (this.error) {
      const e = this.error.value;
      this.error = null;
      return Promise.reject(e);
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.waitingReject = reject;
    });
  }

  return(): Promise<IteratorResult<T>> {
    const wasOpen = !this.ended;
    this.ended = true;
    this.buffered.length = 0;
    this.error = null;
    if (wasOpen) this.onReturn();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  private settleWaiting(): void {
    if (!this.waiting) return;
    const resolve = this.waiting;
    const reject = this.waitingReject;
    this.waiting = this.waitingReject = null;
    if (this.error && reject) {
      const e = this.error.value;
      this.error = null;
      reject(e);
    } else {
      resolve({ value: undefined, done: true });
    }
  }
}
