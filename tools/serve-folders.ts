// Vite plugin (Node side): serves local model folders under URL prefixes, in the same layout the engine
// fetches from a base URL, so the browser loads local checkpoints exactly as it loads hub ones.
import { createReadStream, statSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import type { Plugin } from 'vite';

/** prefix (e.g. '/models/shared/') -> absolute folder. Only files inside the folder are served. */
export type FolderMounts = Record<string, string>;

export function serveFolders(mounts: FolderMounts): Plugin {
  const entries = Object.entries(mounts).map(([prefix, dir]) => [prefix, resolve(dir)] as const);
  const handler = (req: { url?: string; method?: string }, res: import('node:http').ServerResponse, next: () => void) => {
    // Module imports of files under a mount (e.g. models/catalog.json imported by the engine, `?import`) are Vite's to transform.
    if (/[?&]import(&|=|$)/.test(req.url ?? '')) { next(); return; }
    const url = decodeURIComponent((req.url ?? '').split('?')[0]);
    for (const [prefix, dir] of entries) {
      if (!url.startsWith(prefix)) continue;
      const file = resolve(dir, url.slice(prefix.length));
      // Refuse anything that escapes the mounted folder (../ tricks).
      if (file !== dir && !file.startsWith(dir + sep)) break;
      let size: number;
      try {
        const st = statSync(file);
        if (!st.isFile()) break;
        size = st.size;
      } catch {
        res.statusCode = 404;
        res.end('not found');
        return;
      }
      res.setHeader('Content-Length', String(size));
      res.setHeader('Content-Type', 'application/octet-stream');
      res.setHeader('Cache-Control', 'no-cache');
      if (req.method === 'HEAD') { res.end(); return; }
      createReadStream(file).pipe(res);
      return;
    }
    next();
  };
  return {
    name: 'sieve-serve-folders',
    configureServer(server) { server.middlewares.use(handler); },
    configurePreviewServer(server) { server.middlewares.use(handler); },
  };
}
