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
