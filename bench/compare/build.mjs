// Bundles the yardstick (driver.mjs, child.mjs) with esbuild, so it runs with a bare `node` on a machine without
// node_modules (the GPU machine) and, in `npm test`, exactly as it runs there. WGSL `?raw` imports become text;
// Sieve's ORT and Transformers.js's are one onnxruntime-web (bench/compare's install links the root's), whose wasm
// goes beside the bundle. `node bench/compare/build.mjs [OUT]` (default .carry/yardstick/bundle).
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));
const out = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? `${root}.carry/yardstick/bundle`;
mkdirSync(out, { recursive: true });
const version = (p) => JSON.parse(readFileSync(p, 'utf8')).version;
const versions = {
  sieve: version(`${root}package.json`), 'onnxruntime-web': version(`${root}node_modules/onnxruntime-web/package.json`),
  webgpu: version(`${root}node_modules/webgpu/package.json`),
  '@huggingface/transformers': version(`${here}node_modules/@huggingface/transformers/package.json`),
  '@mlc-ai/web-llm': version(`${here}node_modules/@mlc-ai/web-llm/package.json`),
};
await build({
  entryPoints: [`${here}driver.ts`, `${here}child.ts`, `${here}probe.ts`],
  bundle: true, platform: 'node', format: 'esm', target: 'node20', outdir: out, outExtension: { '.js': '.mjs' },
  // require as a CommonJS module has it, for bundled CommonJS code; __dirname as a global (a declaration would clash
  // with bundled modules that declare their own, e.g. the webgpu package's), for WebLLM's emscripten glue, which
  // takes Node's branch here.
  banner: { js: "import { createRequire as __cr } from 'node:module'; import { dirname as __dn } from 'node:path'; import { fileURLToPath as __fu } from 'node:url'; const require = __cr(import.meta.url); globalThis.__dirname ??= __dn(__fu(import.meta.url));" },
  define: { __COMPARE_VERSIONS__: JSON.stringify(versions), __ORT_WASM_URL__: JSON.stringify('./ort-wasm-simd-threaded.asyncify.wasm') },
  // The `webgpu` package's dawn.node is provided beside the bundle (dist/linux-x64/), not bundled; sharp and
  // onnxruntime-node are Transformers.js's Node-only paths, never taken by its web build.
  external: ['sharp', 'onnxruntime-node'],
  // One onnxruntime-common for both engines' ORT (Transformers.js imports it directly; its own copy would be a second Tensor class).
  alias: { 'onnxruntime-common': `${root}node_modules/onnxruntime-common` },
  plugins: [{
    // WebLLM's emscripten glue (the TVM runtime, the tokenizers) takes Node's branch here and there sets its CommonJS
    // wrapper's `module.exports = Module`, which replaces the TVM runtime's exports (WebLLM then finds no
    // detectGPUDevice): that one statement is dropped, as it does nothing in a page.
    name: 'webllm-in-node',
    setup(b) {
      b.onLoad({ filter: /@mlc-ai[\\/]web-llm[\\/]lib[\\/]index\.js$/ }, (a) => {
        const text = readFileSync(a.path, 'utf8');
        const patched = text.replaceAll('{module["exports"]=Module;}', '{}');
        if (patched === text) throw new Error(`${a.path}: the emscripten exports statement to drop is not there (another WebLLM version?)`);
        return { contents: patched, loader: 'js' };
      });
    },
  }, {
    name: 'raw',
    setup(b) {
      b.onResolve({ filter: /\?raw$/ }, (a) => ({ path: new URL(a.path.replace(/\?raw$/, ''), `file://${a.resolveDir}/`).pathname, namespace: 'raw' }));
      b.onLoad({ filter: /.*/, namespace: 'raw' }, (a) => ({ contents: readFileSync(a.path, 'utf8'), loader: 'text' }));
    },
  }],
  logLevel: 'error',
});
for (const f of ['ort-wasm-simd-threaded.asyncify.wasm', 'ort-wasm-simd-threaded.asyncify.mjs']) copyFileSync(`${root}node_modules/onnxruntime-web/dist/${f}`, `${out}/${f}`);
// dawn.node where the bundled `webgpu` package looks for it: linked from the root's install here; on the GPU machine
// the run unpacks .carry/kit's copy there instead (so the bundle does not carry a second one).
if (!process.argv.includes('--no-dawn')) {
  mkdirSync(`${out}/dist/linux-x64`, { recursive: true });
  const dawn = `${out}/dist/linux-x64/dawn.node`;
  if (existsSync(dawn)) rmSync(dawn);
  symlinkSync(`${root}node_modules/webgpu/dist/linux-x64/dawn.node`, dawn);
}
console.log(`built ${out}/driver.mjs, child.mjs (${JSON.stringify(versions)})`);
