// The paged KV cache on the GPU: page arenas, block tables, per-slot positions and per-head token counts.
import { BufferLimitError, ContextFullError, InvalidArgumentError, OutOfGpuMemoryError } from '../errors/index.ts';
import { BYTES_PER_ELEMENT, DEFAULT_MAX_SEQUENCES, KV_BUFFER_BYTES, KV_DTYPE_BYTES, KV_DTYPES, KV_PAGE_SIZE, type KvDtype } from './constants.ts';
import { kvPageBytes } from './capacity.ts';
import { PageAllocator } from './page-allocator.ts';

/*
 * Layout (little-endian; K/V elements in the cache's dtype, everything else u32):
 *
 * Arenas. The pool is split into arenas, each serving a contiguous range of layers, so a layer's kernels bind
 * exactly one arena and no binding exceeds maxStorageBufferBindingSize. Page ids are local to their arena and
 * each arena has its own allocator. A page holds PAGE tokens of one KV head of one layer, K then V:
 *   arena.pages:     [numPages][2][PAGE][headDim] f32   (K at page*2*PAGE*d, V at page*2*PAGE*d + PAGE*d), or in f16
 *                    the same order as u32 words of two halves (dims 2i, 2i+1; engine/wgsl's kv-f16.wgsl reads them)
 *   arena.positions: [numPages][PAGE] u32                (the true position of the token in each slot)
 * K and V share one buffer (instead of a K arena and a V arena) so a kernel spends one storage binding on the pool:
 * the append kernel already needs 7 of the 8 that WebGPU guarantees, and policies need room for their metadata.
 * The budget is split evenly across layers (every layer of a dense model holds the same number of tokens).
 *
 * Growth. The arenas' layout (which layers each serves) is fixed by the budget, but an arena is allocated a step at a
 * time (`growthBytes` of the pool per step; the model's pool: KV_BUFFER_BYTES) as sequences need pages: `ensure`
 * replaces an arena's buffers by larger ones holding the old pages at the same ids (one GPU copy), inside an
 * out-of-memory error scope, one arena after another (the transient peak is the pool plus one arena). A refused
 * growth throws OutOfGpuMemoryError and leaves the cache as it was, usable. Each growth bumps `generation`: bind
 * groups over the arenas' buffers must be made again (PagedAttention and the policies check it), and policies'
 * per-page metadata lives in PageData that the cache grows with its arena.
 *
 * Block tables (one buffer): [maxSequences][maxPagesPerSequence][numLayers][numKvHeads] u32 arena page ids.
 * Page-major, so appending page i to every (layer, head) of a sequence is ONE contiguous writeBuffer.
 * Token slot s of (sequence, layer, head) lives in page table[s / PAGE] at offset s % PAGE.
 *
 * Counts (one buffer): [maxSequences][numLayers][numKvHeads] u32 cached slots, advanced by the GPU (the attention
 * commit kernel) so policies that evict can change them without the CPU reading anything back. The CPU keeps its
 * own `tokensHeld`, which for dense equals every GPU count once a step's layers have run.
 */

export interface PagedKVCacheOptions {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  /** Bytes for pages and their position slots, over all layers. Block tables and counts are extra (small). */
  memoryBudgetBytes: number;
  /** Longest sequence the block tables can describe (the model's context, or less). */
  maxTokensPerSequence: number;
  maxSequences?: number;
  pageSize?: number;
  /**
   * Pool bytes allocated per growth step (the first at construction); default: the whole budget at construction.
   * The model's pool grows by KV_BUFFER_BYTES (GpuModel), so a short chat holds a step, not kvMemory.
   */
  growthBytes?: number;
  /**
   * Largest arena buffer to create; defaults to KV_BUFFER_BYTES (a layer larger than that gets the device's
   * min(maxStorageBufferBindingSize, maxBufferSize)).
   */
  maxBindingBytes?: number;
  /** Element type of K and V (default f32). f16 needs an even head dim (two dims per u32 word). */
  dtype?: KvDtype;
}

export interface KVArena {
  readonly index: number;
  readonly firstLayer: number;
  readonly numLayers: number;
  /** Pages allocated now (grows with the pool, up to maxPages). */
  readonly numPages: number;
  /** Pages the arena holds once grown to the budget. */
  readonly maxPages: number;
  /** [numPages][2][pageSize][headDim] in the cache's dtype: K then V of each page. Replaced when the arena grows (see generation). */
  readonly pages: GPUBuffer;
  /** [numPages][pageSize] u32 true positions. Replaced when the arena grows. */
  readonly positions: GPUBuffer;
  readonly allocator: PageAllocator;
}

/** A policy's per-page metadata: one buffer per arena, `bytesPerPage` per page id, grown (contents kept) with it. */
export interface PageData {
  readonly label: string;
  readonly bytesPerPage: number;
  /** By arena index; replaced when that arena grows. */
  readonly buffers: readonly GPUBuffer[];
  destroy(): void;
}

type MutableArena = { -readonly [K in keyof KVArena]: KVArena[K] };

/** A live sequence of the cache. `slot` is its row in the block tables and counts. */
export interface SequenceHandle {
  readonly id: number;
  readonly slot: number;
}

interface SequenceState {
  handle: SequenceHandle;
  tokens: number;
  /** Pages per (layer, head): the same for all of them (the CPU allocates only for uniform growth). */
  pages: number;
  /** Mirror of this sequence's block-table rows, [maxPages][numLayers][numKvHeads]. */
  table: Uint32Array<ArrayBuffer>;
}

export class PagedKVCache {
  readonly device: GPUDevice;
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly pageSize: number;
  /** Element type of the K/V pages. */
  readonly dtype: KvDtype;
  readonly maxSequences: number;
  readonly maxPagesPerSequence: number;
  readonly maxTokensPerSequence: number;
  /** Pages per layer once the pool has grown to its budget (what capacityTokens is made of). */
  readonly maxPagesPerLayer: number;
  /** Bytes one page occupies: K, V and the position slots. */
  readonly bytesPerPage: number;
  readonly arenas: readonly KVArena[];
  /** Bumped whenever an arena's buffers are replaced by larger ones: bind groups made before are stale. */
  generation = 0;
  /** Pages per layer one growth step adds (a multiple of numKvHeads, so every step adds whole tokens). */
  private readonly stepPagesPerLayer: number;
  private readonly pageData = new Set<PageData & { buffers: GPUBuffer[] }>();
  readonly blockTables: GPUBuffer;
  readonly counts: GPUBuffer;
  private readonly layerArena: Uint32Array;
  private readonly sequences = new Map<number, SequenceState>();
  private readonly freeSlots: number[];
  private nextId = 1;
  private peakPages = 0;
  /** Bounce buffer for copy on write and fork: WebGPU forbids copyBufferToBuffer within one buffer. */
  private readonly staging: GPUBuffer;

  constructor(device: GPUDevice, options: PagedKVCacheOptions) {
    const { numLayers, numKvHeads, headDim, memoryBudgetBytes, maxTokensPerSequence } = options;
    for (const [name, v] of Object.entries({ numLayers, numKvHeads, headDim, maxTokensPerSequence })) {
      if (!Number.isInteger(v) || v <= 0) throw new InvalidArgumentError(name, `must be a positive integer, got ${v}`);
    }
    this.device = device;
    this.numLayers = numLayers;
    this.numKvHeads = numKvHeads;
    this.headDim = headDim;
    this.pageSize = options.pageSize ?? KV_PAGE_SIZE;
    this.dtype = options.dtype ?? 'f32';
    if (!KV_DTYPES.includes(this.dtype)) throw new InvalidArgumentError('kvDtype', `must be one of ${KV_DTYPES.join(', ')}, got ${JSON.stringify(this.dtype)}`);
    if (this.dtype === 'f16' && headDim % 2 !== 0) throw new InvalidArgumentError('kvDtype', `f16 KV packs two head dims per word; head dim ${headDim} is odd`);
    this.maxSequences = options.maxSequences ?? DEFAULT_MAX_SEQUENCES;
    this.maxTokensPerSequence = maxTokensPerSequence;
    this.maxPagesPerSequence = Math.ceil(maxTokensPerSequence / this.pageSize);
    const pageKvBytes = this.pageKvBytes;
    this.bytesPerPage = kvPageBytes(headDim, this.pageSize, KV_DTYPE_BYTES[this.dtype]);

    this.maxPagesPerLayer = Math.floor(memoryBudgetBytes / (numLayers * this.bytesPerPage));
    if (this.maxPagesPerLayer < numKvHeads) {
      throw new InvalidArgumentError('memoryBudgetBytes', `${memoryBudgetBytes} bytes cannot hold one ${this.bytesPerPage}-byte page per KV head of ${numLayers} layers`);
    }
    // Read at construction: in Node the GPUBufferUsage global exists only once a WebGPU provider is loaded.
    const STORAGE_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const deviceBinding = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    const layerBytes = this.maxPagesPerLayer * pageKvBytes;
    const maxBinding = options.maxBindingBytes ?? (layerBytes > KV_BUFFER_BYTES ? deviceBinding : Math.min(KV_BUFFER_BYTES, deviceBinding));
    const layersPerArena = Math.min(numLayers, Math.floor(maxBinding / layerBytes));
    if (layersPerArena === 0) throw new BufferLimitError(`The KV pages of one layer (${this.maxPagesPerLayer} pages)`, layerBytes, maxBinding, 'maxStorageBufferBindingSize');
    const growth = options.growthBytes ?? Infinity;
    if (!(growth > 0)) throw new InvalidArgumentError('growthBytes', `must be a positive number of bytes, got ${growth}`);
    const stepTokensPages = Math.floor(Math.min(growth, memoryBudgetBytes) / (numLayers * numKvHeads * this.bytesPerPage));
    this.stepPagesPerLayer = Math.max(1, stepTokensPages) * numKvHeads;
    const initialPerLayer = Math.min(this.maxPagesPerLayer, this.stepPagesPerLayer);

    // Spread layers evenly over the fewest arenas that fit.
    const numArenas = Math.ceil(numLayers / layersPerArena);
    const arenas: KVArena[] = [];
    this.layerArena = new Uint32Array(numLayers);
    let first = 0;
    for (let a = 0; a < numArenas; a++) {
      const count = Math.floor(numLayers / numArenas) + (a < numLayers % numArenas ? 1 : 0);
      const numPages = count * initialPerLayer;
      arenas.push({
        index: a,
        firstLayer: first,
        numLayers: count,
        numPages,
        maxPages: count * this.maxPagesPerLayer,
        pages: this.arenaBuffer(a, 'pages', numPages),
        positions: this.arenaBuffer(a, 'positions', numPages),
        allocator: new PageAllocator(numPages),
      });
      this.layerArena.fill(a, first, first + count);
      first += count;
    }
    this.arenas = arenas;

    this.blockTables = device.createBuffer({
      label: 'kv-block-tables',
      size: this.maxSequences * this.maxPagesPerSequence * numLayers * numKvHeads * BYTES_PER_ELEMENT,
      usage: STORAGE_USAGE,
    });
    this.counts = device.createBuffer({ label: 'kv-counts', size: this.maxSequences * numLayers * numKvHeads * BYTES_PER_ELEMENT, usage: STORAGE_USAGE });
    this.staging = device.createBuffer({
      label: 'kv-staging',
      size: Math.max(pageKvBytes, numLayers * numKvHeads * BYTES_PER_ELEMENT),
      usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    this.freeSlots = [];
    for (let s = this.maxSequences - 1; s >= 0; s--) this.freeSlots.push(s);
  }

  /** Bytes of one page's K and V (without its position slots). */
  get pageKvBytes(): number {
    return 2 * this.pageSize * this.headDim * KV_DTYPE_BYTES[this.dtype];
  }

  /** Entries per sequence in the block-table buffer. */
  get blockTableStride(): number {
    return this.maxPagesPerSequence * this.numLayers * this.numKvHeads;
  }

  /** Index (in u32s) of the block-table entry for page `page` of (sequence slot, layer, KV head). */
  blockTableIndex(slot: number, page: number, layer: number, kvHead: number): number {
    return ((slot * this.maxPagesPerSequence + page) * this.numLayers + layer) * this.numKvHeads + kvHead;
  }

  /** Index (in u32s) of the GPU token count of (sequence slot, layer, KV head). */
  countIndex(slot: number, layer: number, kvHead: number): number {
    return (slot * this.numLayers + layer) * this.numKvHeads + kvHead;
  }

  arenaOf(layer: number): KVArena {
    return this.arenas[this.layerArena[layer]];
  }

  get freePages(): number {
    return this.arenas.reduce((sum, a) => sum + a.allocator.freeCount, 0);
  }

  get totalPages(): number {
    return this.arenas.reduce((sum, a) => sum + a.numPages, 0);
  }

  /**
   * The cache as `new PagedKVCache` makes it, its buffers allocated inside an out-of-memory error scope: a device that
   * refuses them gives OutOfGpuMemoryError (and nothing stays allocated) instead of a lost device later.
   */
  static async create(device: GPUDevice, options: PagedKVCacheOptions): Promise<PagedKVCache> {
    device.pushErrorScope('out-of-memory');
    let cache: PagedKVCache | null = null;
    try {
      cache = new PagedKVCache(device, options);
    } finally {
      const error = await device.popErrorScope();
      if (error) {
        cache?.destroy();
        throw new OutOfGpuMemoryError('the KV pool', options.memoryBudgetBytes, error.message);
      }
    }
    return cache;
  }

  /**
   * Tokens one sequence can hold when it has the whole pool grown to its budget: every (layer, KV head) needs a page
   * per PAGE tokens.
   */
  get capacityTokens(): number {
    return Math.min(this.maxTokensPerSequence, Math.floor(this.maxPagesPerLayer / this.numKvHeads) * this.pageSize);
  }

  /** GPU bytes of the pool as allocated now: every arena's pages and position slots (block tables and counts excluded). */
  get poolBytes(): number {
    return this.totalPages * this.bytesPerPage;
  }

  /** GPU bytes of the pool grown to its budget (what capacityTokens is made of). */
  get maxPoolBytes(): number {
    return this.numLayers * this.maxPagesPerLayer * this.bytesPerPage;
  }

  /**
   * Makes sure `reserve(seq, numNewTokens)` finds the pages it needs, growing arenas by whole steps (at most to the
   * budget). Throws OutOfGpuMemoryError when the device refuses a growth (the cache stays as it was: usable, with the
   * arenas grown before the refusal). Past the budget it grows nothing: reserve then says CONTEXT_FULL.
   */
  async ensure(seq: SequenceHandle, numNewTokens: number): Promise<void> {
    const s = this.state(seq);
    if (numNewTokens <= 0 || s.tokens + numNewTokens > this.maxTokensPerSequence) return;
    const { need } = this.pagesFor(s, numNewTokens);
    const grows: [MutableArena, number][] = [];
    for (const a of this.arenas) {
      const short = need[a.index] - a.allocator.freeCount;
      if (short <= 0) continue;
      const perLayer = a.numPages / a.numLayers;
      const wanted = perLayer + Math.ceil(short / a.numLayers);
      if (wanted > this.maxPagesPerLayer) return; // cannot fit even grown: reserve's CONTEXT_FULL names the limit
      const steps = Math.ceil((wanted - perLayer) / this.stepPagesPerLayer);
      grows.push([a as MutableArena, Math.min(this.maxPagesPerLayer, perLayer + steps * this.stepPagesPerLayer) * a.numLayers]);
    }
    for (const [arena, numPages] of grows) await this.growArena(arena, numPages);
  }

  /**
   * What reserving `numNewTokens` more takes: the sequence's page count after, the (layer * G + head) entries whose
   * partly filled, shared last page must be copied first (copy on write), and the new pages per arena.
   */
  private pagesFor(s: SequenceState, numNewTokens: number): { newPages: number; cow: number[]; need: number[] } {
    const { numLayers: L, numKvHeads: G } = this;
    const newPages = Math.ceil((s.tokens + numNewTokens) / this.pageSize);
    const cow: number[] = [];
    if (numNewTokens > 0 && s.tokens % this.pageSize !== 0) {
      const last = (s.pages - 1) * L * G;
      for (let lg = 0; lg < L * G; lg++) {
        if (this.arenaOf(Math.floor(lg / G)).allocator.refCount(s.table[last + lg]) > 1) cow.push(lg);
      }
    }
    const need = this.arenas.map((a) => (newPages - s.pages) * a.numLayers * G);
    for (const lg of cow) need[this.layerArena[Math.floor(lg / G)]]++;
    return { newPages, cow, need };
  }

  /**
   * Per-page metadata for a policy (Quest's key bounds, label caches): zeroed, one buffer per arena, grown with it.
   * The policy destroys it (PageData.destroy); the cache's destroy frees what is left.
   */
  createPageData(label: string, bytesPerPage: number): PageData {
    if (!Number.isInteger(bytesPerPage) || bytesPerPage <= 0 || bytesPerPage % 4 !== 0) throw new InvalidArgumentError('bytesPerPage', `must be a positive multiple of 4, got ${bytesPerPage}`);
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const data = {
      label,
      bytesPerPage,
      buffers: this.arenas.map((a) => this.device.createBuffer({ label: `${label}-arena-${a.index}`, size: a.numPages * bytesPerPage, usage })),
      destroy: () => {
        if (!this.pageData.delete(data)) return;
        for (const b of data.buffers) b.destroy();
      },
    };
    this.pageData.add(data);
    return data;
  }

  /** Replaces one arena's buffers (and its page data's) by ones of `numPages` pages holding the old pages at their ids. */
  private async growArena(arena: MutableArena, numPages: number): Promise<void> {
    const { device } = this;
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const old = arena.numPages;
    device.pushErrorScope('out-of-memory');
    const pages = this.arenaBuffer(arena.index, 'pages', numPages);
    const positions = this.arenaBuffer(arena.index, 'positions', numPages);
    const data = [...this.pageData].map((d) => ({
      d, buffer: device.createBuffer({ label: `${d.label}-arena-${arena.index}`, size: numPages * d.bytesPerPage, usage }),
    }));
    const error = await device.popErrorScope();
    const made = [pages, positions, ...data.map((x) => x.buffer)];
    if (error) {
      for (const b of made) b.destroy();
      throw new OutOfGpuMemoryError(`a growth of the KV pool (arena ${arena.index}, ${old} -> ${numPages} pages)`, made.reduce((sum, b) => sum + b.size, 0), error.message);
    }
    // Queue order puts the copy after every step submitted before (their appends land in the old buffers first).
    const encoder = device.createCommandEncoder({ label: `kv-arena-${arena.index}-grow` });
    encoder.copyBufferToBuffer(arena.pages, 0, pages, 0, arena.pages.size);
    encoder.copyBufferToBuffer(arena.positions, 0, positions, 0, arena.positions.size);
    for (const { d, buffer } of data) encoder.copyBufferToBuffer(d.buffers[arena.index], 0, buffer, 0, old * d.bytesPerPage);
    device.queue.submit([encoder.finish()]);
    // destroy() waits for the submitted work that reads them (WebGPU frees a buffer once its queued uses are done).
    arena.pages.destroy();
    arena.positions.destroy();
    arena.pages = pages;
    arena.positions = positions;
    for (const { d, buffer } of data) {
      d.buffers[arena.index].destroy();
      d.buffers[arena.index] = buffer;
    }
    arena.numPages = numPages;
    arena.allocator.grow(numPages);
    this.generation += 1;
  }

  private arenaBuffer(arena: number, part: 'pages' | 'positions', numPages: number): GPUBuffer {
    const bytes = part === 'pages' ? numPages * this.pageKvBytes : numPages * this.pageSize * BYTES_PER_ELEMENT;
    return this.device.createBuffer({ label: `kv-arena-${arena}-${part}`, size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  }

  /** Bytes of the pages some sequence holds now (a page shared by forks counts once). */
  get bytesInUse(): number {
    return (this.totalPages - this.freePages) * this.bytesPerPage;
  }

  /** The most bytes in use at once since the cache was made. */
  get peakBytesInUse(): number {
    return this.peakPages * this.bytesPerPage;
  }

  /** Frees every GPU buffer of the cache; it is unusable afterwards. */
  destroy(): void {
    for (const a of this.arenas) {
      a.pages.destroy();
      a.positions.destroy();
    }
    for (const d of [...this.pageData]) d.destroy();
    this.blockTables.destroy();
    this.counts.destroy();
    this.staging.destroy();
    this.sequences.clear();
  }

  createSequence(): SequenceHandle {
    const slot = this.freeSlots.pop();
    if (slot === undefined) throw new InvalidArgumentError('maxSequences', `all ${this.maxSequences} sequence slots are in use; release a sequence first or raise maxSequences`);
    const handle: SequenceHandle = { id: this.nextId++, slot };
    this.sequences.set(handle.id, { handle, tokens: 0, pages: 0, table: new Uint32Array(this.blockTableStride) });
    this.writeCounts(slot, 0);
    return handle;
  }

  tokensHeld(seq: SequenceHandle): number {
    return this.state(seq).tokens;
  }

  /** Bytes of the pages this sequence references (a page shared with a fork counts for both). */
  bytesHeld(seq: SequenceHandle): number {
    return this.state(seq).pages * this.numLayers * this.numKvHeads * this.bytesPerPage;
  }

  /** Arena page id of page `page` of (seq, layer, head), from the CPU mirror (for tests and policies' CPU side). */
  pageId(seq: SequenceHandle, page: number, layer: number, kvHead: number): number {
    const s = this.state(seq);
    if (page >= s.pages) throw new InvalidArgumentError('page', `sequence ${seq.id} holds ${s.pages} pages`);
    return s.table[(page * this.numLayers + layer) * this.numKvHeads + kvHead];
  }

  /**
   * Makes room for `numNewTokens` more tokens in every (layer, KV head): allocates pages ahead of the append and
   * copies a shared, partly filled last page first (copy on write). All or nothing: throws ContextFullError (past
   * maxTokensPerSequence, or no free pages left) before changing anything. Writes the block tables only when pages are added.
   */
  reserve(seq: SequenceHandle, numNewTokens: number): void {
    const s = this.state(seq);
    const total = s.tokens + numNewTokens;
    if (total > this.maxTokensPerSequence) throw new ContextFullError(total, this.maxTokensPerSequence);
    const { newPages, cow, need } = this.pagesFor(s, numNewTokens);
    const { numLayers: L, numKvHeads: G } = this;
    if (newPages === s.pages && cow.length === 0) {
      s.tokens = total;
      return;
    }
    for (const a of this.arenas) {
      if (need[a.index] > a.allocator.freeCount) {
        const growable = a.maxPages - a.numPages;
        if (need[a.index] <= a.allocator.freeCount + growable) throw new Error(`internal: KV arena ${a.index} must grow first (PagedKVCache.ensure before reserve)`);
        // Other sequences (forks) hold the rest of the pool: this one can grow to what is free.
        const fit = (s.pages + Math.floor((a.allocator.freeCount + growable) / (a.numLayers * G))) * this.pageSize;
        throw new ContextFullError(total, Math.min(fit, this.maxTokensPerSequence), 'the KV pool has no more free pages');
      }
    }

    let firstWritten = s.pages;
    if (cow.length > 0) {
      firstWritten = s.pages - 1;
      const encoder = this.device.createCommandEncoder({ label: 'kv-copy-on-write' });
      const pageBytes = this.pageKvBytes;
      const posBytes = this.pageSize * BYTES_PER_ELEMENT;
      const last = (s.pages - 1) * L * G;
      for (const lg of cow) {
        const arena = this.arenaOf(Math.floor(lg / G));
        const from = s.table[last + lg];
        const to = arena.allocator.allocate();
        encoder.copyBufferToBuffer(arena.pages, from * pageBytes, this.staging, 0, pageBytes);
        encoder.copyBufferToBuffer(this.staging, 0, arena.pages, to * pageBytes, pageBytes);
        encoder.copyBufferToBuffer(arena.positions, from * posBytes, this.staging, 0, posBytes);
        encoder.copyBufferToBuffer(this.staging, 0, arena.positions, to * posBytes, posBytes);
        arena.allocator.release(from);
        s.table[last + lg] = to;
      }
      this.device.queue.submit([encoder.finish()]);
    }
    for (let p = s.pages; p < newPages; p++) {
      for (let l = 0; l < L; l++) {
        const allocator = this.arenaOf(l).allocator;
        for (let g = 0; g < G; g++) s.table[(p * L + l) * G + g] = allocator.allocate();
      }
    }
    this.writeTable(s, firstWritten, newPages);
    s.tokens = total;
    s.pages = newPages;
    this.peakPages = Math.max(this.peakPages, this.totalPages - this.freePages);
  }

  /**
   * Shrinks every (layer, head) of the sequence to its first `tokens` slots (regenerating from an earlier
   * point, or after a policy compacted its kept tokens to the front): releases the pages past them and sets the
   * GPU counts.
   */
  truncate(seq: SequenceHandle, tokens: number): void {
    const s = this.state(seq);
    if (!Number.isInteger(tokens) || tokens < 0 || tokens > s.tokens) throw new InvalidArgumentError('tokens', `must be in [0, ${s.tokens}], got ${tokens}`);
    const keep = Math.ceil(tokens / this.pageSize);
    this.releasePages(s, keep, s.pages);
    s.pages = keep;
    s.tokens = tokens;
    this.writeCounts(seq.slot, tokens);
  }

  /** A new sequence sharing all of `seq`'s pages by reference (prefix reuse); appends copy on write. */
  fork(seq: SequenceHandle): SequenceHandle {
    const s = this.state(seq);
    const child = this.createSequence();
    const c = this.state(child);
    const { numLayers: L, numKvHeads: G } = this;
    for (let p = 0; p < s.pages; p++) {
      for (let l = 0; l < L; l++) {
        const allocator = this.arenaOf(l).allocator;
        for (let g = 0; g < G; g++) allocator.retain(s.table[(p * L + l) * G + g]);
      }
    }
    c.table.set(s.table);
    c.tokens = s.tokens;
    c.pages = s.pages;
    this.writeTable(c, 0, c.pages);
    // Copy the GPU counts rather than the CPU's: after eviction they are the truth.
    const encoder = this.device.createCommandEncoder({ label: 'kv-fork-counts' });
    const bytes = L * G * BYTES_PER_ELEMENT;
    encoder.copyBufferToBuffer(this.counts, seq.slot * bytes, this.staging, 0, bytes);
    encoder.copyBufferToBuffer(this.staging, 0, this.counts, child.slot * bytes, bytes);
    this.device.queue.submit([encoder.finish()]);
    return child;
  }

  release(seq: SequenceHandle): void {
    const s = this.state(seq);
    this.releasePages(s, 0, s.pages);
    this.sequences.delete(seq.id);
    this.freeSlots.push(seq.slot);
  }

  private releasePages(s: SequenceState, from: number, to: number): void {
    const { numLayers: L, numKvHeads: G } = this;
    for (let p = from; p < to; p++) {
      for (let l = 0; l < L; l++) {
        const allocator = this.arenaOf(l).allocator;
        for (let g = 0; g < G; g++) allocator.release(s.table[(p * L + l) * G + g]);
      }
    }
  }

  private writeTable(s: SequenceState, fromPage: number, toPage: number): void {
    if (toPage <= fromPage) return;
    const per = this.numLayers * this.numKvHeads;
    const offset = this.blockTableIndex(s.handle.slot, fromPage, 0, 0) * BYTES_PER_ELEMENT;
    this.device.queue.writeBuffer(this.blockTables, offset, s.table, fromPage * per, (toPage - fromPage) * per);
  }

  private writeCounts(slot: number, value: number): void {
    const counts = new Uint32Array(this.numLayers * this.numKvHeads).fill(value);
    this.device.queue.writeBuffer(this.counts, this.countIndex(slot, 0, 0) * BYTES_PER_ELEMENT, counts);
  }

  private state(seq: SequenceHandle): SequenceState {
    const s = this.sequences.get(seq.id);
    if (!s) throw new InvalidArgumentError('sequence', `sequence ${seq.id} was released or belongs to another cache`);
    return s;
  }
}
