// Joins WGSL library files into the kernels that use them: a line `//#include <name>` is replaced by the library
// file <name>.wgsl of this folder (once per kernel, however often it is asked for; library files may include each
// other). Kernels call linkWgsl on their `?raw` source where they import it, so every pipeline compiles the joined
// text and the text a test prints is the text the GPU gets.
import blockQuant from './block-quant.wgsl?raw';
import decodeChunk from './decode-chunk.wgsl?raw';
import decodeQuery from './decode-query.wgsl?raw';
import rope from './rope.wgsl?raw';
import splitReduce from './split-reduce.wgsl?raw';

/**
 * The library: one entry per shared function family (RoPE pairs, block-quant reading, decode query staging, one
 * decode-attention split, split-reduce partials and their merge). A kernel may add entries of its own when it links
 * (engine/decode's matvec picks its weight format that way).
 */
export const WGSL_LIBRARY: Readonly<Record<string, string>> = {
  rope, 'block-quant': blockQuant, 'decode-query': decodeQuery, 'decode-chunk': decodeChunk, 'split-reduce': splitReduce,
};

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
