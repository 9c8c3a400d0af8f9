// `npm start`: installs the npm packages when missing, builds the app with Vite, and serves the build on 127.0.0.1
// (vite preview, which also serves the model folders) until interrupted. Needs no browser on this machine.
import { fileURLToPath } from 'node:url';
import { ensureNodeModules } from './ensure-deps.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
/** Vite's preview port; when it is taken, Vite takes the next free one (the printed URL says which). */
const PREVIEW_PORT = Number(process.env.PORT ?? 4173);

ensureNodeModules();
// Imported after the install so a fresh checkout can run this file before node_modules exists.
const { build, preview } = await import('vite');

console.log('[sieve] building the app (vite build)…');
await build({ root, logLevel: 'warn' });

const server = await preview({ root, preview: { host: '127.0.0.1', port: PREVIEW_PORT, strictPort: false, open: false } });
const url = server.resolvedUrls?.local[0] ?? `http://127.0.0.1:${PREVIEW_PORT}/`;
console.log(`[sieve] chat page: ${url}`);
console.log('[sieve] WebGPU needs Chrome/Edge 113+ (or Chromium with --enable-unsafe-webgpu). Ctrl+C stops the server.');

const stop = () => server.httpServer.close(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
