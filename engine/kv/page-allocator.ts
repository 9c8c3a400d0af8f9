// CPU-side page allocator of one KV arena: a free list plus reference counts (pages shared by forks).
import { InvalidArgumentError } from '../errors/index.ts';

/**
 * Hands out page ids in [0, capacity). A page is free exactly when its reference count is 0.
 * The free list is a LIFO stack so a just-released page is reused first (it is likely still in cache).
 */
export class PageAllocator {
  capacity: number;
  private free: Uint32Array;
  private freeTop: number;
  private refs: Uint32Array;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new InvalidArgumentError('capacity', `must be a non-negative integer, got ${capacity}`);
    this.capacity = capacity;
    this.free = new Uint32Array(capacity);
    this.refs = new Uint32Array(capacity);
    // Lowest ids on top of the stack, so a fresh allocator hands out 0, 1, 2, ...
    for (let i = 0; i < capacity; i++) this.free[i] = capacity - 1 - i;
    this.freeTop = capacity;
  }

  /**
   * Adds pages [capacity, newCapacity) as free (the arena behind them grew); ids in use keep their meaning. The new
   * ids go on top of the free list, lowest first, so the pages written next are in the part just added.
   */
  grow(newCapacity: number): void {
    if (!Number.isInteger(newCapacity) || newCapacity < this.capacity) throw new InvalidArgumentError('capacity', `can grow from ${this.capacity}, got ${newCapacity}`);
    const free = new Uint32Array(newCapacity);
    free.set(this.free.subarray(0, this.freeTop));
    const refs = new Uint32Array(newCapacity);
    refs.set(this.refs);
    for (let id = newCapacity - 1; id >= this.capacity; id--) free[this.freeTop++] = id;
    this.free = free;
    this.refs = refs;
    this.capacity = newCapacity;
  }

  get freeCount(): number {
    return this.freeTop;
  }

  get usedCount(): number {
    return this.capacity - this.freeTop;
  }

  /** One page with reference count 1. */
  allocate(): number {
    // PagedKVCache.reserve checks free pages first and says CONTEXT_FULL: running out here is a bug.
    if (this.freeTop === 0) throw new Error('internal: KV page allocator exhausted');
    const page = this.free[--this.freeTop];
    this.refs[page] = 1;
    return page;
  }

  /** `count` pages, all or none: throws before taking any when too few are free. */
  allocateMany(count: number): number[] {
    if (count > this.freeTop) throw new Error(`internal: ${count} KV pages asked for, ${this.freeTop} free`);
    const pages: number[] = new Array(count);
    for (let i = 0; i < count; i++) pages[i] = this.allocate();
    return pages;
  }

  /** One more holder of a live page (a forked sequence sharing it). */
  retain(page: number): void {
    this.check(page);
    this.refs[page]++;
  }

  /** One holder fewer; the page returns to the free list when none is left. */
  release(page: number): void {
    this.check(page);
    if (--this.refs[page] === 0) this.free[this.freeTop++] = page;
  }

  refCount(page: number): number {
    if (!Number.isInteger(page) || page < 0 || page >= this.capacity) throw new InvalidArgumentError('page', `no page ${page} in an arena of ${this.capacity}`);
    return this.refs[page];
  }

  private check(page: number): void {
    if (this.refCount(page) === 0) throw new InvalidArgumentError('page', `page ${page} is not allocated`);
  }
}
