// Vite plugin (Node side): builds sieve.embed.js (an IIFE) next to the app, serves it in dev, and sends the frame's CSP.
import { resolve } from 'node:path';
import type { Connect, Plugin } from 'vite';
import { FRAME_CSP } from './csp.ts';
import { EMBED_SCRIPT_NAME, FRAME_PATH } from './protocol.ts';

const ENTRY = 'web/embed/sieve-embed.ts';
/**
 * web/client's createEngine starts the engine worker on the page, dedicated and shared:
 * `new Worker(new URL(...engine.worker.ts...))` and `new SharedWorker(new URL(...engine.worker.ts...))`.
 */
const PAGE_WORKER_START = /new (?:Shared)?Worker\(\s*new URL\(\s*'[^']*engine\.worker\.ts'\s*,\s*import\.meta\.url\s*\)[^)]*\)/g;
const PAGE_WORKER_STARTS = 2;

/**
 * The script reuses web/client's SieveClient, whose module also holds createEngine. Left alone, Vite would bundle
 * the whole engine worker (and ORT's wasm, inlined: 70 MB) into the script's build for a call the script never makes:
 * a page cannot start a Worker of another origin, so the script's engines run in the frame. The call is replaced by
 * a throw; the build fails loudly if web/client changes shape, rather than quietly shipping the worker again.
 */
function withoutPageWorker(): Plugin {
  return {
    name: 'sieve-embed-without-page-worker',
    enforce: 'pre',
    transform(code, id) {
      if (!id.split('?')[0].endsWith('/web/client/engine-client.ts')) return null;
      const starts = code.match(PAGE_WORKER_START)?.length ?? 0;
      if (starts !== PAGE_WORKER_STARTS) this.error(`web/client/engine-client.ts starts its workers ${starts} times, not ${PAGE_WORKER_STARTS} as expected: update PAGE_WORKER_START.`);
      const replaced = code.replace(PAGE_WORKER_START, "(() => { throw new Error('sieve.embed.js starts engines in its frame: use window.Sieve.createEngine().'); })()");
      return replaced;
    },
  };
}

/** The classic-script bundle: one self-contained file, no chunks, so one <script src> is all a page needs. */
async function buildEmbedScript(root: string, outDir: string | null) {
  const { build } = await import('vite');
  return build({
    configFile: false, // this plugin's config would build the whole app again
    root,
    logLevel: 'warn',
    publicDir: false,
    plugins: [withoutPageWorker()],
    build: {
      outDir: outDir ?? 'dist',
      emptyOutDir: false,
      write: outDir !== null,
      target: 'es2022',
      lib: { entry: resolve(root, ENTRY), formats: ['iife'], name: 'SieveEmbed', fileName: () => EMBED_SCRIPT_NAME },
      // Error classes name themselves (new.target.name): the page sees EmbedOriginRefusedError, not a mangled letter.
      rollupOptions: { output: { keepNames: true } },
    },
  });
}

/**
 * The frame page and its worker run under FRAME_CSP. The worker is recognised as the one the frame starts (its
 * request's referrer is the frame page), so Sieve's own pages and their workers keep the server's defaults.
 */
const frameCsp: Connect.NextHandleFunction = (req, res, next) => {
  const path = (req.url ?? '').split('?')[0];
  const framePath = `/${FRAME_PATH}`;
  const referrerPath = (() => { try { return new URL(req.headers.referer ?? '').pathname; } catch { return ''; } })();
  if (path === framePath || (req.headers['sec-fetch-dest'] === 'worker' && referrerPath === framePath)) {
    res.setHeader('Content-Security-Policy', FRAME_CSP);
  }
  next();
};

export function sieveEmbed(): Plugin {
  let root = process.cwd();
  let outDir = 'dist';
  let building = false;
  return {
    name: 'sieve-embed',
    configResolved(config) {
      root = config.root;
      outDir = resolve(config.root, config.build.outDir);
      building = config.command === 'build' && !config.build.ssr && !config.build.lib;
    },
    async closeBundle() {
      if (building) await buildEmbedScript(root, outDir);
    },
    configureServer(server) {
      server.middlewares.use(frameCsp);
      // In dev the script is bundled on request (about a second), so the dev server embeds like a build does.
      server.middlewares.use(`/${EMBED_SCRIPT_NAME}`, (_req, res, next) => {
        buildEmbedScript(root, null).then((out) => {
          const outputs = Array.isArray(out) ? out : [out];
          const chunk = outputs.flatMap((o) => ('output' in o ? o.output : [])).find((c) => c.type === 'chunk');
          if (!chunk || chunk.type !== 'chunk') throw new Error(`${ENTRY} produced no script`);
          res.setHeader('Content-Type', 'text/javascript');
          res.setHeader('Cache-Control', 'no-cache');
          res.end(chunk.code);
        }).catch(next);
      });
    },
    configurePreviewServer(server) {
      server.middlewares.use(frameCsp);
    },
  };
}
