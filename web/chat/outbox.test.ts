// Outbox: messages sent while the engine cannot take them wait in order, per conversation, and say why.
import { describe, expect, it } from 'vitest';
import { Outbox, pendingNote } from './outbox.ts';

const LOADING = { loading: true, replying: false, modelLoaded: false };
const READY = { loading: false, replying: false, modelLoaded: true };

describe('Outbox', () => {
  it('holds messages while the model loads and gives them back in order once it is ready', () => {
    const box = new Outbox();
    box.add('a', 'first');
    box.add('b', 'other chat');
    box.add('a', 'second');
    expect(box.take('a', LOADING)).toBeNull();
    expect(box.take('a', { ...READY, replying: true })).toBeNull();
    expect(box.take('a', READY)?.text).toBe('first');
    expect(box.hasWaiting('a')).toBe(true);
    expect(box.take('a', READY)?.text).toBe('second');
    expect(box.take('a', READY)).toBeNull();
    expect(box.of('b').map((m) => m.text)).toEqual(['other chat']);
  });

  it('lets a waiting message be withdrawn', () => {
    const box = new Outbox();
    const m = box.add('a', 'oops');
    box.remove(m.id);
    expect(box.take('a', READY)).toBeNull();
  });

  it('says why a message waits', () => {
    expect(pendingNote(LOADING)).toMatch(/Waiting for the model to load/);
    expect(pendingNote({ ...READY, replying: true })).toMatch(/when the reply above ends/);
    expect(pendingNote({ loading: false, replying: false, modelLoaded: false })).toMatch(/no model is loaded/);
  });
});
