// How many tokens a KV pool of a given size holds for a model shape: the loader's sizing and the catalog's figures.
import { BYTES_PER_ELEMENT, KV_DTYPE_BYTES, KV_PAGE_SIZE, type KvDtype } from './constants.ts';

/**
 * Bytes one KV page takes in the pool: K and V of `pageSize` tokens of one KV head, `elementBytes` each (the KV
 * dtype's size: KV_DTYPE_BYTES, 4 for f32, 2 for f16), plus a u32 position per slot. The one place this sum is made: the cache's layout, its
 * capacity and the catalog's figures all read it.
 */
export function kvPageBytes(headDim: number, pageSize = KV_PAGE_SIZE, elementBytes = BYTES_PER_ELEMENT): number {
  return 2 * pageSize * headDim * elementBytes + pageSize * 4;
}

export interface KvShape {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
}

export interface KvCapacity {
  /** Positions one dense sequence can hold: the context, or fewer when the memory holds fewer. */
  tokens: number;
  /** Bytes of the pool for that many tokens (pages and position slots), at most the memory given. */
  poolBytes: number;
  /** Pool bytes per cached token: K and V in the KV dtype plus a u32 position, for every layer and KV head. */
  bytesPerToken: number;
}

/**
 * A dense sequence's capacity in `memoryBytes` of KV pool, at most `contextTokens` (pages of `pageSize` tokens) with
 * K/V in `dtype`: f16 holds about twice the tokens of f32 (the positions stay u32).
 */
export function kvCapacity(shape: KvShape, contextTokens: number, memoryBytes: number, dtype: KvDtype = 'f32', pageSize = KV_PAGE_SIZE): KvCapacity {
  const { numLayers: L, numKvHeads: G, headDim: d } = shape;
  const bytesPerPage = kvPageBytes(d, pageSize, KV_DTYPE_BYTES[dtype]);
  const pagesPerLayer = Math.floor(memoryBytes / (L * bytesPerPage));
  const tokens = Math.min(contextTokens, Math.floor(pagesPerLayer / G) * pageSize);
  return { tokens, poolBytes: Math.ceil(tokens / pageSize) * G * L * bytesPerPage, bytesPerToken: (L * G * bytesPerPage) / pageSize };
}
