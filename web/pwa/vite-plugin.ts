// Vite plugins (Node side) that make the built chat page an installable offline app: the manifest and its icons,
// and a Workbox service worker (through vite-plugin-pwa) that precaches the app shell.
import type { Plugin } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import { EMBED_SCRIPT_NAME } from '../embed/index.ts';
import { iconPng } from './icon.ts';
import { APP_ICONS, APP_MANIFEST, MANIFEST_FILENAME } from './manifest.ts';

/**
 * The largest file the service worker precaches. Workbox's default limit, 2 MiB, silently leaves larger files out
 * and the app then fails offline; the largest today is the engine worker with the grammar engine's inline wasm
 * (about 1.1 MB; ONNX Runtime's 27 MB wasm was the reason for this limit until prefill moved to our WGSL). Models are not precached: they live in the engine's OPFS model store (engine/hub).
 */
export const PRECACHE_MAX_FILE_BYTES = 64 * 1024 * 1024;

/**
 * Navigations the app shell must not answer: the embed frame (its own page and CSP, loaded by other sites), the
 * e2e automation page, and model files, which are data and must 404 rather than become index.html.
 */
export const NAVIGATION_FALLBACK_DENYLIST = [/^\/web\//, /^\/models\//, /^\/shared-models\//];

/** The icons are drawn by code (icon.ts) rather than kept as binaries: emitted into the build, served in dev. */
function appIcons(): Plugin {
  const rendered = new Map<string, Buffer>();
  const png = (path: string): Buffer | undefined => {
    const icon = APP_ICONS.find((i) => i.path === path);
    if (!icon) return undefined;
    let bytes = rendered.get(path);
    if (!bytes) rendered.set(path, bytes = iconPng(icon.size, icon.purpose));
    return bytes;
  };
  const serve = (req: { url?: string }, res: import('node:http').ServerResponse, next: () => void) => {
    const bytes = png((req.url ?? '').split('?')[0].replace(/^\//, ''));
    if (!bytes) { next(); return; }
    res.setHeader('Content-Type', 'image/png');
    res.setHeader('Content-Length', String(bytes.length));
    res.end(bytes);
  };
  return {
    name: 'sieve-app-icons',
    configureServer(server) { server.middlewares.use(serve); },
    generateBundle() {
      for (const icon of APP_ICONS) this.emitFile({ type: 'asset', fileName: icon.path, source: iconPng(icon.size, icon.purpose) });
    },
  };
}

/**
 * vite-plugin-pwa links the manifest from every HTML entry. Only the chat page is the app: the embed frame runs
 * under a CSP with `default-src 'none'` (a manifest link there is a violation) and the automation page is for tests.
 */
function manifestLinkOnTheAppOnly(): Plugin {
  return {
    name: 'sieve-manifest-link-on-the-app-only',
    enforce: 'post',
    apply: 'build',
    transformIndexHtml: {
      order: 'post',
      handler: (html, ctx) => ctx.path === '/index.html' ? html : html.replace(/<link rel="manifest"[^>]*>/g, ''),
    },
  };
}

export function sievePwa(): Plugin[] {
  return [
    appIcons(),
    ...VitePWA({
      // 'prompt', not 'autoUpdate': an update must not reload the page in the middle of a reply; the page offers it.
      registerType: 'prompt',
      // The chat page registers the worker itself (web/chat/offline.ts) to show offline-ready and update notices.
      injectRegister: false,
      manifestFilename: MANIFEST_FILENAME,
      manifest: APP_MANIFEST,
      includeManifestIcons: false, // they are emitted into the build and precached by the glob below
      workbox: {
        // The manifest is added by the plugin itself, with its own revision: globbing it too would list it twice.
        globPatterns: ['**/*.{html,js,css,wasm,png}'],
        // The embed script and frame serve other sites, in their storage partition, where this worker never runs.
        globIgnores: ['web/**', EMBED_SCRIPT_NAME],
        maximumFileSizeToCacheInBytes: PRECACHE_MAX_FILE_BYTES,
        navigateFallback: 'index.html',
        navigateFallbackDenylist: NAVIGATION_FALLBACK_DENYLIST,
        cleanupOutdatedCaches: true,
      },
    }),
    manifestLinkOnTheAppOnly(), // after VitePWA: its own post-order HTML transform adds the link
  ];
}
