import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { matvecSource } from '../decode/kernels.ts';
import { kvLibrary, linkWgsl, WGSL_LIBRARY } from './index.ts';

const engineRoot = fileURLToPath(new URL('..', import.meta.url));

function filesUnder(dir: string, suffix: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? filesUnder(p, suffix) : p.endsWith(suffix) ? [p] : [];
  });
}

const functionNames = (wgsl: string) => [...wgsl.matchAll(/^fn\s+(\w+)/gm)].map((m) => m[1]);

describe('linkWgsl', () => {
  it('replaces an include line by the library file, once, and shows the joined source', () => {
    const library = { pair: 'fn pair(i: u32) -> u32 {\n  return 2u * i;\n}\n' };
    const kernel = '// a kernel\n//#include pair\n  //#include pair\nfn main() {}\n';
    expect(linkWgsl(kernel, library)).toBe(
      '// a kernel\n// ---- begin pair.wgsl ----\nfn pair(i: u32) -> u32 {\n  return 2u * i;\n}\n// ---- end pair.wgsl ----\n'
      + '// (pair included above)\nfn main() {}\n',
    );
  });

  it('resolves library files that include each other, each once (a cycle ends at the second visit)', () => {
    const library = { a: '//#include b\nfn a() {}', b: '//#include a\nfn b() {}' };
    const joined = linkWgsl('//#include a\n//#include b\n', library);
    expect(functionNames(joined)).toEqual(['b', 'a']);
  });

  it('throws on an unknown name, naming it and the files it has', () => {
    expect(() => linkWgsl('//#include nope\n')).toThrow(/#include nope.*no such library file; have rope, block-quant/);
    expect(() => linkWgsl('//#include a\n', { a: '//#include gone' })).toThrow(/gone \(from a\)/);
  });

  it('leaves text that only mentions an include alone (the line must be the directive alone)', () => {
    const s = '// see //#include rope below\nlet x = 1; //#include rope\n';
    expect(linkWgsl(s)).toBe(s);
  });

  it('gives the attention kernels one ropePair, from the library', () => {
    const append = linkWgsl(readFileSync(join(engineRoot, 'attention/append.wgsl'), 'utf8'), kvLibrary('f32'));
    expect(functionNames(append).filter((n) => n === 'ropePair')).toHaveLength(1);
    expect(append).toContain(WGSL_LIBRARY.rope.trimEnd());
    expect(append).not.toMatch(/^\s*\/\/#include/m);
  });
});

describe('the WGSL sources of the engine', () => {
  const wgslFiles = filesUnder(engineRoot, '.wgsl').filter((p) => !p.startsWith(join(engineRoot, 'wgsl')));
  const libraryFunctions = new Map(Object.entries(WGSL_LIBRARY).flatMap(([file, src]) => functionNames(src).map((fn) => [fn, file] as const)));

  it('define no copy of a library function (a kernel includes it instead)', () => {
    const copies = wgslFiles.flatMap((p) => functionNames(readFileSync(p, 'utf8'))
      .filter((fn) => libraryFunctions.has(fn))
      .map((fn) => `${relative(engineRoot, p)} defines ${fn} (//#include ${libraryFunctions.get(fn)})`));
    expect(copies).toEqual([]);
  });

  it('are linked wherever a kernel with an include is imported', () => {
    const withIncludes = new Set(wgslFiles.filter((p) => /^[ \t]*\/\/#include/m.test(readFileSync(p, 'utf8'))));
    expect(withIncludes.size).toBeGreaterThanOrEqual(7);
    const unlinked: string[] = [];
    for (const ts of filesUnder(engineRoot, '.ts')) {
      const text = readFileSync(ts, 'utf8');
      for (const m of text.matchAll(/^import (\w+) from '(\.[^']+\.wgsl)\?raw';$/gm)) {
        const wgsl = join(ts, '..', m[2]);
        if (withIncludes.has(wgsl) && !text.includes(`linkWgsl(${m[1]})`) && !text.includes(`linkWgsl(${m[1]}, `)) unlinked.push(`${relative(engineRoot, ts)}: ${m[1]}`);
      }
    }
    expect(unlinked).toEqual([]);
    // Kernels whose includes the library has link with it alone; the others name their own entries (the decode
    // matvec's weight format), checked below.
    for (const p of withIncludes) {
      const text = readFileSync(p, 'utf8');
      const names = [...text.matchAll(/^[ \t]*\/\/#include[ \t]+(\S+)/gm)].map((m) => m[1]);
      if (!names.every((n) => n in kvLibrary('f32'))) continue;
      // K/V page kernels (kv-read, kv-write, directly or through a library file) link with either dtype's access
      // and with neither (kvLibrary says which); the others with the library alone.
      let kvError = '';
      try {
        linkWgsl(text);
      } catch (e) {
        kvError = String(e);
      }
      if (!kvError) continue;
      expect(kvError, relative(engineRoot, p)).toMatch(/#include kv-(read|write).*no such library file/);
      for (const dtype of ['f32', 'f16'] as const) expect(() => linkWgsl(text, kvLibrary(dtype)), `${relative(engineRoot, p)} ${dtype}`).not.toThrow();
    }
  });

  it('link the decode matvec for every weight format and segment count; f16 in core WGSL (no `enable f16`)', () => {
    for (const format of ['f32', 'f16', 'int8', 'int4'] as const) {
      for (const segments of [1, 2, 3] as const) {
        const src = matvecSource(format, segments);
        expect(src).not.toMatch(/^\s*\/\/#include/m);
        expect(functionNames(src).filter((n) => n === 'segmentDot')).toHaveLength(1);
        expect(src).not.toMatch(/^\s*enable f16/m);
      }
    }
    expect(matvecSource('f16', 1)).toMatch(/unpack2x16float/);
  });

});

describe('K/V page access (kv-read, kv-write)', () => {
  const kernels = [
    'attention/append.wgsl', 'attention/decode-attention.wgsl', 'attention/decode-list-attention.wgsl', 'attention/decode-step-attention.wgsl',
    'attention/prefill-attention.wgsl', 'attention/statistics.wgsl', 'attention/quest/quest.wgsl', 'attention/double-sparsity/label-selector.wgsl',
    'attention/evict/evict.wgsl',
  ];

  it('is the only code that indexes the pages: no kernel reads or writes pages[...] itself', () => {
    const direct = filesUnder(engineRoot, '.wgsl')
      .filter((p) => !/\/wgsl\/kv-(read|write)-f(16|32)\.wgsl$/.test(p))
      .filter((p) => /\bpages\[/.test(readFileSync(p, 'utf8').replace(/\/\/.*$/gm, '')))
      .map((p) => relative(engineRoot, p));
    expect(direct).toEqual([]);
    // ... and every kernel that binds a layer's arena declares it in the access's word type.
    for (const k of kernels) expect(readFileSync(join(engineRoot, k), 'utf8'), k).toMatch(/var<storage, read(_write)?> pages: array<KvWord>;/);
  });

  it('joins one source per kernel for both dtypes: the texts differ only in the access blocks', () => {
    const strip = (joined: string) => joined.replace(/\/\/ ---- begin kv-(read|write)\.wgsl ----\n[\s\S]*?\/\/ ---- end kv-\1\.wgsl ----/g, '<kv>');
    for (const k of kernels) {
      const text = readFileSync(join(engineRoot, k), 'utf8');
      const f32 = linkWgsl(text, kvLibrary('f32'));
      const f16 = linkWgsl(text, kvLibrary('f16'));
      expect(f16, k).not.toBe(f32);
      expect(strip(f16), k).toBe(strip(f32));
      expect(f16, k).toMatch(/alias KvWord = u32;/);
      expect(f32, k).toMatch(/alias KvWord = f32;/);
      expect(functionNames(f16).filter((n) => n === 'kvLoad')).toHaveLength(1);
    }
  });

  it('must be chosen: a page kernel linked without a dtype does not link', () => {
    expect(() => linkWgsl(readFileSync(join(engineRoot, 'attention/decode-attention.wgsl'), 'utf8'))).toThrow(/kv-read.*no such library file/);
    expect(() => kvLibrary('bf16' as never)).toThrow(/no KV page access for dtype "bf16"/);
  });
});
