// Vite: serves the chat page, the e2e harness and the engine worker; mounts model folders for local use.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { serveFolders } from './tools/serve-folders.ts';

const root = fileURLToPath(new URL('.', import.meta.url));
const sharedModels = fileURLToPath(new URL('../shared/models/', import.meta.url));

export default defineConfig({
  root,
  server: { host: '127.0.0.1', strictPort: false, fs: { allow: [root] } },
  preview: { host: '127.0.0.1' },
  worker: { format: 'es' },
  // ORT ships its own wasm loader that resolves files relative to import.meta.url: pre-bundling breaks that.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  plugins: [
    serveFolders({
      // The project's own models (models/<name>/) and, where present, the shared test models.
      '/models/': fileURLToPath(new URL('./models/', import.meta.url)),
      ...(existsSync(sharedModels) ? { '/shared-models/': sharedModels } : {}),
    }),
  ],
  build: {
    target: 'es2022',
    rollupOptions: {
      input: {
        main: fileURLToPath(new URL('./index.html', import.meta.url)),
        harness: fileURLToPath(new URL('./e2e/harness/index.html', import.meta.url)),
      },
    },
  },
});
