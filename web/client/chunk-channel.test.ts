// ChunkChannel: the order, end, error and early-return behaviour a streaming reader relies on.
import { describe, expect, it } from 'vitest';
import { ChunkChannel } from './chunk-channel.ts';

async function drain<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) out.push(v);
  return out;
}

describe('ChunkChannel', () => {
  it('delivers values pushed before and while reading, in order, then ends on close', async () => {
    const ch = new ChunkChannel<number>();
    ch.push(1);
    ch.push(2);
    const reading = drain(ch);
    await Promise.resolve();
    ch.push(3);
    setTimeout(() => { ch.push(4); ch.close(); ch.push(5); }, 5);
    expect(await reading).toEqual([1, 2, 3, 4]);
  });

  it('throws the failure after the buffered values', async () => {
    const ch = new ChunkChannel<string>();
    ch.push('a');
    ch.fail(new Error('worker died'));
    const seen: string[] = [];
    await expect((async () => { for await (const v of ch) seen.push(v); })()).rejects.toThrow('worker died');
    expect(seen).toEqual(['a']);
  });

  it('rejects a pending read when it fails', async () => {
    const ch = new ChunkChannel<string>();
    const pending = ch.next();
    ch.fail(new Error('boom'));
    await expect(pending).rejects.toThrow('boom');
  });

  it('calls onReturn once when the reader stops early, not after a normal end', async () => {
    let returned = 0;
    const ch = new ChunkChannel<number>(() => { returned += 1; });
    ch.push(1);
    ch.push(2);
    for await (const v of ch) if (v === 1) break;
    expect(returned).toBe(1);
    ch.push(3);
    expect(await ch.next()).toEqual({ value: undefined, done: true });

    const done = new ChunkChannel<number>(() => { returned += 1; });
    done.close();
    await drain(done);
    expect(returned).toBe(1);
  });
});
