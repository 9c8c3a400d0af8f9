// Bundles decode-bench.ts into .carry/decode/decode-bench.mjs (WGSL `?raw` imports as text) for a bare `node` on the
// H200 box. Carry beside it: dawn.node at dist/linux-x64/ (the `webgpu` package's layout), a node binary, and the
// Vulkan loader (.gl debs, /work/.library/device/README.md); run with
// VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json node decode-bench.mjs [model prefix].
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
await build({
  entryPoints: [`${root}engine/decode/decode-bench.ts`],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile: `${root}.carry/decode/decode-bench.mjs`,
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  plugins: [{
    name: 'raw',
    setup(b) {
      b.onResolve({ filter: /\?raw$/ }, (a) => ({ path: new URL(a.path.replace(/\?raw$/, ''), `file://${a.resolveDir}/`).pathname, namespace: 'raw' }));
      b.onLoad({ filter: /.*/, namespace: 'raw' }, (a) => ({ contents: readFileSync(a.path, 'utf8'), loader: 'text' }));
    },
  }],
  logLevel: 'warning',
});
console.log(`built ${root}.carry/decode/decode-bench.mjs`);
