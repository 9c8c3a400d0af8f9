// Runs the real engine for the CLI: Vite serves the engine host page and the model folder, Playwright drives
// Debian's headless chromium with a software (or real) WebGPU adapter, and the engine runs in the page's worker.
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from '@playwright/test';
import { createServer, type ViteDevServer } from 'vite';
import { CHROMIUM_PATH, chromiumArgs } from '../../e2e/browser.ts';
import { serveFolders } from '../../tools/serve-folders.ts';
import { ModelFetchError, SieveError, type SieveErrorCode } from '../errors/index.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MODEL_PREFIX = '/cli-model/';

export interface BrowserHost {
  page: Page;
  modelUrl: string;
  close(): Promise<void>;
}

/** A model argument as the page should fetch it, and the local folder to mount (if any). */
export function resolveModelArgument(model: string): { mount: string | null; relativeUrl: string } {
  if (/^https?:\/\//.test(model)) return { mount: null, relativeUrl: model };
  const path = resolve(model);
  if (!existsSync(path)) throw new ModelFetchError(path, 'no such file or folder');
  if (statSync(path).isDirectory()) return { mount: path, relativeUrl: MODEL_PREFIX };
  return { mount: dirname(path), relativeUrl: MODEL_PREFIX + encodeURIComponent(basename(path)) };
}

export async function openBrowserHost(model: string): Promise<BrowserHost> {
  const { mount, relativeUrl } = resolveModelArgument(model);
  let server: ViteDevServer | null = null;
  let browser: Browser | null = null;
  try {
    server = await createServer({
      configFile: resolve(ROOT, 'vite.config.ts'),
      root: ROOT,
      logLevel: 'error',
      server: { port: 0, host: '127.0.0.1', hmr: false },
      plugins: mount ? [serveFolders({ [MODEL_PREFIX]: mount })] : [],
    });
    await server.listen();
    const origin = server.resolvedUrls?.local[0]?.replace(/\/$/, '');
    if (!origin) throw new Error('Vite did not report a local URL');
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: chromiumArgs() });
    const page = await browser.newPage();
    if (process.env.SIEVE_DEBUG) page.on('console', (m) => process.stderr.write(`[page] ${m.text()}\n`));
    await page.goto(`${origin}/web/automation/index.html`);
    await page.waitForFunction(() => (window as unknown as { sieveHostReady?: boolean }).sieveHostReady === true, null, { timeout: 120_000 });
    const modelUrl = relativeUrl.startsWith('http') ? relativeUrl : origin + relativeUrl;
    const b = browser;
    const s = server;
    return {
      page,
      modelUrl,
      async close() {
        await b.close().catch(() => {});
        await s.close().catch(() => {});
      },
    };
  } catch (e) {
    await browser?.close().catch(() => {});
    await server?.close().catch(() => {});
    throw e;
  }
}

/** Re-raises an error object that crossed page.evaluate as a SieveError (keeping code and remedy). */
export function raisePageError(err: Record<string, unknown>): never {
  const code = String(err.code ?? 'INTERNAL') as SieveErrorCode;
  const e = new SieveError(code, String(err.message ?? 'unknown error'), String(err.remedy ?? ''), err.details as Record<string, unknown> | undefined);
  Object.defineProperty(e, 'name', { value: String(err.name ?? 'SieveError') });
  throw e;
}
