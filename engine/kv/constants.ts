// Numbers of the paged KV cache, with their sources.

/**
 * Tokens per page. 16 is vLLM's default block size (PagedAttention paper, sec. 7.2: 16 balances
 * internal fragmentation against per-page overhead) and DESIGN.md's default.
 */
export const KV_PAGE_SIZE = 16;

/** Sequences that can be live at once (block-table rows); chat needs one, prefix reuse a few more. */
export const DEFAULT_MAX_SEQUENCES = 4;

/** Bytes per u32 element of the block tables, counts and position slots. */
export const BYTES_PER_ELEMENT = 4;

/**
 * The element type of the K/V pages. f16 pages hold two values per u32 word (WGSL's pack2x16float /
 * unpack2x16float, core WGSL: no shader-f16, so it runs wherever f32 does, SwiftShader and Chrome on NVIDIA included);
 * kernels accumulate in f32 either way.
 */
export type KvDtype = 'f32' | 'f16';
export const KV_DTYPES: readonly KvDtype[] = ['f32', 'f16'];
/** Bytes of one K or V element in a page. */
export const KV_DTYPE_BYTES: Readonly<Record<KvDtype, number>> = { f32: 4, f16: 2 };
/**
 * Bytes of one KV arena buffer at most: the pool is split into buffers of this size (each serving a range of layers),
 * so no single allocation asks the device for more than this, whatever kvMemory is. A layer whose pages alone are
 * larger gets a buffer of its own, up to the device's binding limit.
 */
export const KV_BUFFER_BYTES = 256 * 1024 * 1024;
/** KV memory a model gets unless the load option kvMemory says otherwise (issue 12: min(1 GiB, the adapter's limits)). */
export const DEFAULT_KV_MEMORY_BYTES = 1024 * 1024 * 1024;
