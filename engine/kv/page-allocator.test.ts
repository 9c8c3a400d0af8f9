// PageAllocator: free list order, reference counts, exhaustion and all-or-nothing allocation.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors/index.ts';
import { PageAllocator } from './page-allocator.ts';

describe('PageAllocator', () => {
  it('hands out every page once, then refuses (the cache checks free pages before: CONTEXT_FULL)', () => {
    const a = new PageAllocator(4);
    const pages = [a.allocate(), a.allocate(), a.allocate(), a.allocate()];
    expect(new Set(pages).size).toBe(4);
    expect(pages.every((p) => p >= 0 && p < 4)).toBe(true);
    expect(a.freeCount).toBe(0);
    let error: unknown;
    try {
      a.allocate();
    } catch (e) {
      error = e;
    }
    expect((error as Error).message).toMatch(/exhausted/);
  });

  it('returns a page to the free list when its last holder releases it, and reuses it first', () => {
    const a = new PageAllocator(3);
    const p = a.allocate();
    a.allocate();
    a.retain(p);
    expect(a.refCount(p)).toBe(2);
    a.release(p);
    expect(a.refCount(p)).toBe(1);
    expect(a.freeCount).toBe(1);
    a.release(p);
    expect(a.refCount(p)).toBe(0);
    expect(a.freeCount).toBe(2);
    expect(a.allocate()).toBe(p);
  });

  it('allocates many pages all or nothing', () => {
    const a = new PageAllocator(5);
    a.allocateMany(3);
    expect(() => a.allocateMany(3)).toThrow(/3 KV pages asked for, 2 free/);
    expect(a.freeCount).toBe(2);
    expect(a.allocateMany(2)).toHaveLength(2);
  });

  it('rejects releasing or retaining a free page and unknown ids', () => {
    const a = new PageAllocator(2);
    const p = a.allocate();
    a.release(p);
    expect(() => a.release(p)).toThrow(InvalidArgumentError);
    expect(() => a.retain(p)).toThrow(InvalidArgumentError);
    expect(() => a.refCount(7)).toThrow(InvalidArgumentError);
    expect(a.freeCount).toBe(2);
  });

  it('grows: pages in use keep their ids and counts, the new ids are handed out next, lowest first', () => {
    const a = new PageAllocator(2);
    const [p, q] = [a.allocate(), a.allocate()];
    a.retain(p);
    a.grow(5);
    expect(a.capacity).toBe(5);
    expect(a.refCount(p)).toBe(2);
    expect(a.refCount(q)).toBe(1);
    expect(a.freeCount).toBe(3);
    expect([a.allocate(), a.allocate(), a.allocate()]).toEqual([2, 3, 4]);
    expect(() => a.grow(4)).toThrow(InvalidArgumentError);
  });
});
