// FairQueue's rule: one task at a time, owners in turns, first come first served within an owner.
import { describe, expect, it } from 'vitest';
import { FairQueue } from './index.ts';

/** A task that records its start and ends when released. */
function gate(log: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((r) => { release = r; });
  return { task: async () => { log.push(name); await done; return name; }, release };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('FairQueue', () => {
  it('with one owner it is first come, first served, one at a time', async () => {
    const q = new FairQueue();
    const log: string[] = [];
    const gates = ['a1', 'a2', 'a3'].map((n) => gate(log, n));
    const results = gates.map((g) => q.run('a', g.task));
    await tick();
    expect(log).toEqual(['a1']);
    for (const g of gates) { g.release(); await tick(); }
    expect(await Promise.all(results)).toEqual(['a1', 'a2', 'a3']);
    expect(log).toEqual(['a1', 'a2', 'a3']);
  });

  it("a tab that asked once goes before a burst's second request, whenever it arrived during the first", async () => {
    const q = new FairQueue();
    const log: string[] = [];
    const a = ['a1', 'a2', 'a3'].map((n) => gate(log, n));
    a.forEach((g) => void q.run('A', g.task));
    await tick(); // a1 runs; a2, a3 wait
    const b = gate(log, 'b1');
    void q.run('B', b.task); // B arrives after A queued three
    const c = gate(log, 'c1');
    a[0].release(); await tick(); // next: B, not A's second
    void q.run('C', c.task); // C arrives while b1 runs: A waited longer, so A goes first, then C
    b.release(); await tick();
    a[1].release(); await tick();
    c.release(); await tick();
    a[2].release(); await tick();
    expect(log).toEqual(['a1', 'b1', 'a2', 'c1', 'a3']);
    expect(q.waiting).toBe(0);
  });

  it("a paused owner's tasks wait in their place while the others run, and it is served there once resumed", async () => {
    const q = new FairQueue();
    const log: string[] = [];
    const a1 = gate(log, 'a1');
    void q.run('A', a1.task);
    await tick(); // a1 runs
    const [b1, c1, c2] = [gate(log, 'b1'), gate(log, 'c1'), gate(log, 'c2')];
    void q.run('B', b1.task); // B waits first, then C
    void q.run('C', c1.task);
    void q.run('C', c2.task);
    q.pause('B', true); // B's tab froze while it waited
    a1.release(); await tick();
    expect(log).toEqual(['a1', 'c1']); // B is skipped, not dropped
    expect(q.waiting).toBe(2);
    q.pause('B', false); // thawed while c1 runs: B waited longer than C's second, so it goes next
    await tick();
    expect(log).toEqual(['a1', 'c1']); // a running task is never pre-empted
    c1.release(); await tick();
    expect(log).toEqual(['a1', 'c1', 'b1']);
    b1.release(); await tick();
    c2.release(); await tick();
    expect(log).toEqual(['a1', 'c1', 'b1', 'c2']);
  });

  it('with every waiting owner paused the queue idles, and a resume starts the next task', async () => {
    const q = new FairQueue();
    const log: string[] = [];
    q.pause('A', true); // paused before it asks: what it adds waits too
    const a1 = gate(log, 'a1');
    const done = q.run('A', a1.task);
    await tick();
    expect(log).toEqual([]);
    q.pause('A', false);
    await tick();
    expect(log).toEqual(['a1']);
    a1.release();
    expect(await done).toBe('a1');
  });

  it('a failed task passes its error on and the next one still runs', async () => {
    const q = new FairQueue();
    const failed = q.run('A', async () => { throw new Error('boom'); });
    const next = q.run('B', async () => 'ok');
    await expect(failed).rejects.toThrow('boom');
    expect(await next).toBe('ok');
  });
});
