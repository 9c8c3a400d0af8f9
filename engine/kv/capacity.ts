// How many tokens a KV pool of a given size holds for a model shape: the loader's sizing and the catalog's figures.
import { BYTES_PER_ELEMENT, KV_PAGE_SIZE } from './constants.ts';

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
  /** Pool bytes per cached token: K and V in f32 plus a u32 position, for every layer and KV head. */
  bytesPerToken: number;
}

/** A dense sequence's capacity in `memoryBytes` of KV pool, at most `contextTokens` (pages of `pageSize` tokens). */
export function kvCapacity(shape: KvShape, contextTokens: number, memoryBytes: number, pageSize = KV_PAGE_SIZE): KvCapacity {
  const { numLayers: L, numKvHeads: G, headDim: d } = shape;
  const bytesPerPage = (2 * pageSize * d + pageSize) * BYTES_PER_ELEMENT;
  const pagesPerLayer = Math.floor(memoryBytes / (L * bytesPerPage));
  const tokens = Math.min(contextTokens, Math.floor(pagesPerLayer / G) * pageSize);
  return { tokens, poolBytes: Math.ceil(tokens / pageSize) * G * L * bytesPerPage, bytesPerToken: (L * G * bytesPerPage) / pageSize };
}
