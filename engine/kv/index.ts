// The KV module's face: the paged KV cache on the GPU and its CPU page allocator.
export { KV_PAGE_SIZE, DEFAULT_MAX_SEQUENCES } from './constants.ts';
export { PageAllocator } from './page-allocator.ts';
export { PagedKVCache, type PagedKVCacheOptions, type KVArena, type SequenceHandle } from './paged-kv-cache.ts';
