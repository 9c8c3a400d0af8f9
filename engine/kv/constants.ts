// Numbers of the paged KV cache, with their sources.

/**
 * Tokens per page. 16 is vLLM's default block size (PagedAttention paper, sec. 7.2: 16 balances
 * internal fragmentation against per-page overhead) and DESIGN.md's default.
 */
export const KV_PAGE_SIZE = 16;

/** Sequences that can be live at once (block-table rows); chat needs one, prefix reuse a few more. */
export const DEFAULT_MAX_SEQUENCES = 4;

/** Bytes per f32 / u32 element: the cache is f32 (the software adapter has no shader-f16). */
export const BYTES_PER_ELEMENT = 4;
/**
 * Bytes of one KV arena buffer at most: the pool is split into buffers of this size (each serving a range of layers),
 * so no single allocation asks the device for more than this, whatever kvMemory is. A layer whose pages alone are
 * larger gets a buffer of its own, up to the device's binding limit.
 */
export const KV_BUFFER_BYTES = 256 * 1024 * 1024;
/** KV memory a model gets unless the load option kvMemory says otherwise (issue 12: min(1 GiB, the adapter's limits)). */
export const DEFAULT_KV_MEMORY_BYTES = 1024 * 1024 * 1024;
