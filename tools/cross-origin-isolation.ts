// Vite plugin (Node side): a page asked for with `?isolated` is cross-origin isolated (COOP same-origin, COEP
// require-corp), and so is the worker it starts, so performance.measureUserAgentSpecificMemory() works there (e2e's
// memory bound). Other pages are served as before: isolation would block the cross-origin frames and fetches they use.
import type { Plugin } from 'vite';

const ISOLATED = /[?&]isolated(=|&|$)/;

export function crossOriginIsolation(): Plugin {
  return {
    name: 'sieve-cross-origin-isolation',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const dest = req.headers['sec-fetch-dest'];
        const referer = req.headers.referer ?? '';
        if ((dest === 'document' && ISOLATED.test(req.url ?? '')) || (dest === 'worker' && ISOLATED.test(referer))) {
          res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
          res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
        }
        next();
      });
    },
  };
}
