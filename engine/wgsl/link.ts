// Joins WGSL library files into the kernels that use them: a line `//#include <name>` is replaced by the library
// file <name>.wgsl of this folder (once per kernel, however often it is asked for; library files may include each
// other). Kernels call linkWgsl on their `?raw` source where they import it, so every pipeline compiles the joined
// text and the text a test prints is the text the GPU gets.
import blockQuant from './block-quant.wgsl?raw';
import decodeChunkLanes from './decode-chunk-lanes.wgsl?raw';
import decodeChunkSerial from './decode-chunk-serial.wgsl?raw';
import decodeQuery from './decode-query.wgsl?raw';
import kvReadF16 from './kv-read-f16.wgsl?raw';
import kvReadF32 from './kv-read-f32.wgsl?raw';
import kvWriteF16 from './kv-write-f16.wgsl?raw';
import kvWriteF32 from './kv-write-f32.wgsl?raw';
import queryChannel from './query-channel.wgsl?raw';
import rope from './rope.wgsl?raw';
import splitReduce from './split-reduce.wgsl?raw';
import stagedDot from './staged-dot.wgsl?raw';
import type { KvDtype } from '../kv/index.ts';

/**
 * The library: one entry per shared function family (RoPE pairs, block-quant reading, decode query staging, one
 * decode-attention split in the GPUs' variant, split-reduce partials and their merge). A kernel may add entries of its
 * own when it links (engine/decode's matvec picks its weight format that way; decodeLibrary the split's variant).
 */
export const WGSL_LIBRARY: Readonly<Record<string, string>> = {
  rope, 'block-quant': blockQuant, 'decode-query': decodeQuery, 'decode-chunk': decodeChunkLanes, 'split-reduce': splitReduce, 'staged-dot': stagedDot,
  'query-channel': queryChannel,
};

/**
 * The variants of decode-chunk (one split of decode attention, same functions): 'lanes' for GPUs (256 threads, 4 per
 * key, values read once per split for the whole GQA group), 'serial' for CPU adapters (64 threads, one slot each).
 */
export type DecodeChunkVariant = 'lanes' | 'serial';
const DECODE_CHUNK: Readonly<Record<DecodeChunkVariant, string>> = { lanes: decodeChunkLanes, serial: decodeChunkSerial };

/** The K/V page access of each KV dtype: `kv-read` (kvLoad, kvLoad2, kvLoad4, KvWord) and `kv-write` (kvStore2). */
const KV_LIBRARY: Readonly<Record<KvDtype, Readonly<Record<'kv-read' | 'kv-write', string>>>> = {
  f32: { 'kv-read': kvReadF32, 'kv-write': kvWriteF32 },
  f16: { 'kv-read': kvReadF16, 'kv-write': kvWriteF16 },
};

/**
 * The library with the page access of `dtype`: what every kernel that reads or writes K/V pages links with
 * (`linkWgsl(source, kvLibrary(cache.dtype))`), so one kernel source serves f32 and packed-f16 pages. The plain
 * library has no kv-read: a page kernel linked without choosing a dtype fails to link rather than guessing.
 */
export function kvLibrary(dtype: KvDtype): Readonly<Record<string, string>> {
  const kv = KV_LIBRARY[dtype];
  if (!kv) throw new Error(`WGSL: no KV page access for dtype ${JSON.stringify(dtype)}; have ${Object.keys(KV_LIBRARY).join(', ')}`);
  return { ...WGSL_LIBRARY, ...kv };
}

/** kvLibrary(dtype) with decode-chunk in `variant`: what the decode attention kernels link with. */
export function decodeLibrary(dtype: KvDtype, variant: DecodeChunkVariant): Readonly<Record<string, string>> {
  const chunk = DECODE_CHUNK[variant];
  if (!chunk) throw new Error(`WGSL: no decode-chunk variant ${JSON.stringify(variant)}; have ${Object.keys(DECODE_CHUNK).join(', ')}`);
  return { ...kvLibrary(dtype), 'decode-chunk': chunk };
}

const INCLUDE = /^[ \t]*\/\/#include[ \t]+(\S+)[ \t]*$/gm;

/**
 * `source` with each `//#include name` line replaced by the library file (first occurrence) or by nothing (later
 * ones). An unknown name throws: a kernel must not compile without a function it asked for.
 */
export function linkWgsl(source: string, library: Readonly<Record<string, string>> = WGSL_LIBRARY): string {
  const included = new Set<string>();
  const expand = (text: string, chain: string[]): string => text.replace(INCLUDE, (_line, name: string) => {
    if (!(name in library)) {
      throw new Error(`WGSL: //#include ${name}${chain.length ? ` (from ${chain.join(' -> ')})` : ''}: no such library file; have ${Object.keys(library).join(', ')}`);
    }
    if (included.has(name)) return `// (${name} included above)`;
    included.add(name);
    return `// ---- begin ${name}.wgsl ----\n${expand(library[name].trimEnd(), [...chain, name])}\n// ---- end ${name}.wgsl ----`;
  });
  return expand(source, []);
}
