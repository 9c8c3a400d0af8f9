// Vite: serves the chat page, the e2e harness and the engine worker; mounts model folders for local use.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { crossOriginIsolation } from './tools/cross-origin-isolation.ts';
import { serveFolders } from './tools/serve-folders.ts';
import { sieveEmbed } from './web/embed/index.ts';
import { sievePwa } from './web/pwa/index.ts';

const root = fileURLToPath(new URL('.', import.meta.url));
const sharedModels = fileURLToPath(new URL('../shared/models/', import.meta.url));

export default defineConfig({
  root,
  server: {
    host: '127.0.0.1',
    strictPort: false,
    fs: { allow: [root] },
    // Tests and the CLI drive long-running pages: a reload on a file change would kill them mid-run.
    hmr: process.env.SIEVE_NO_HMR ? false : undefined,
  },
  preview: { host: '127.0.0.1' },
  worker: {
    format: 'es',
    // Typed errors name themselves (new.target.name); the minifier would rename the classes the page then sees.
    rollupOptions: { output: { keepNames: true } },
  },
  // ORT ships its own wasm loader that resolves files relative to import.meta.url: pre-bundling breaks that.
  optimizeDeps: {
    exclude: ['onnxruntime-web'],
    // Found up front, so the dev server never re-optimizes (and reloads the page) in the middle of a run.
    entries: ['index.html', 'web/**/*.html', 'workers/*.ts'],
    include: ['comlink', '@huggingface/tokenizers', '@huggingface/jinja'],
  },
  plugins: [
    serveFolders({
      // The project's own models (models/<name>/) and, where present, the shared test models.
      '/models/': fileURLToPath(new URL('./models/', import.meta.url)),
      ...(existsSync(sharedModels) ? { '/shared-models/': sharedModels } : {}),
    }),
    // `?isolated` pages and their workers get COOP/COEP (e2e/memory-1b measures JS memory there).
    crossOriginIsolation(),
    // sieve.embed.js beside the build (and in dev), and the embed frame's CSP header.
    sieveEmbed(),
    // The installable offline app: manifest, icons, and the service worker precaching the app shell (build only).
    ...sievePwa(),
  ],
  build: {
    target: 'es2022',
    rollupOptions: {
      input: {
        main: fileURLToPath(new URL('./index.html', import.meta.url)),
        automation: fileURLToPath(new URL('./web/automation/index.html', import.meta.url)),
        embedFrame: fileURLToPath(new URL('./web/embed/frame.html', import.meta.url)),
      },
    },
  },
});
