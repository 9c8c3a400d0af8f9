// Node module hooks for `import text from './x.wgsl?raw'` (Vite's raw import), so the CLI's dawn backend runs the GPU
// engine's modules unbundled through tsx, as Vitest and the esbuild bundles already do.
import { readFile } from 'node:fs/promises';

export async function resolve(specifier, context, nextResolve) {
  if (!specifier.endsWith('?raw')) return nextResolve(specifier, context);
  const file = new URL(specifier.slice(0, -'?raw'.length), context.parentURL);
  return { url: `${file.href}?raw`, shortCircuit: true };
}

export async function load(url, context, nextLoad) {
  if (!url.endsWith('?raw')) return nextLoad(url, context);
  const text = await readFile(new URL(url.slice(0, -'?raw'.length)), 'utf8');
  return { format: 'module', source: `export default ${JSON.stringify(text)};`, shortCircuit: true };
}
