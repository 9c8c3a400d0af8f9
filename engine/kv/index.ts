// The KV module's face: the paged KV cache on the GPU and its CPU page allocator.
export { KV_PAGE_SIZE, DEFAULT_MAX_SEQUENCES, KV_BUFFER_BYTES, DEFAULT_KV_MEMORY_BYTES, KV_DTYPES, KV_DTYPE_BYTES, type KvDtype } from './constants.ts';
export { PageAllocator } from './page-allocator.ts';
export { PagedKVCache, type PagedKVCacheOptions, type KVArena, type PageData, type SequenceHandle } from './paged-kv-cache.ts';
export { kvCapacity, kvPageBytes, type KvCapacity, type KvShape } from './capacity.ts';
export { roundToKvDtype } from './kv-values.ts';
