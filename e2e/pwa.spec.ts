// The offline app, as a person uses it: `npm start`'s build (service worker, manifest, icons), one online visit that
// chats, then the network off, a reload, and the chat still working; Chromium's installability check on the manifest.
import { chromium, expect, test, type BrowserContext, type Page } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { CHROMIUM_PATH, chromiumArgs } from './browser.ts';
import { REPO_ROOT } from './host.ts';

/** `npm start` builds first (vite build, vite-plugin-pwa's Workbox step): about 15 s here, more on a busy machine. */
const START_TIMEOUT_MS = 240_000;
const REPLY_MAX_TOKENS = 8;

let app: ChildProcess | null = null;
let appUrl = '';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => { const p = (srv.address() as { port: number }).port; srv.close(() => resolve(p)); });
  });
}

/** Runs `npm start`'s script as the README says (the build, then the preview server) and waits for the URL it prints. */
test.beforeAll(async () => {
  test.setTimeout(START_TIMEOUT_MS + 10_000);
  const port = await freePort();
  app = spawn(process.execPath, ['scripts/start.mjs'], { cwd: REPO_ROOT, env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  appUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start printed no URL in ${START_TIMEOUT_MS} ms:\n${log}`)), START_TIMEOUT_MS);
    const onData = (b: Buffer) => {
      log += b.toString();
      const m = /\[sieve\] chat page: (\S+)/.exec(log);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    };
    app!.stdout!.on('data', onData);
    app!.stderr!.on('data', onData);
    app!.on('exit', (code) => { clearTimeout(timer); reject(new Error(`npm start exited (${code}):\n${log}`)); });
  });
});

test.afterAll(() => {
  app?.kill('SIGTERM');
});

async function chat(page: Page, text: string, nth: number): Promise<string> {
  await page.getByLabel('Max tokens').fill(String(REPLY_MAX_TOKENS));
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
  const reply = page.locator('.message.assistant').nth(nth);
  await expect(reply).toHaveAttribute('data-finish', /^(stop|length)$/, { timeout: 120_000 });
  return (await reply.locator('.message-content').textContent()) ?? '';
}

test('after one online visit the chat works offline; the manifest passes Chromium installability checks', async () => {
  // A profile on disk, as a person's browser: Chromium never offers to install from an incognito context, which is
  // what Playwright's default contexts are (its installability check then reports only "in-incognito").
  const profile = mkdtempSync(`${tmpdir()}/sieve-pwa-profile-`);
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM_PATH, args: chromiumArgs() });
  try {
    await offlineVisit(context);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
});

async function offlineVisit(context: BrowserContext): Promise<void> {
  const page = context.pages()[0] ?? await context.newPage();
  if (process.env.SIEVE_DEBUG) page.on('console', (m) => console.log(`[page] ${m.text()}`));
  await page.goto(appUrl);

  // First visit, online: the default model downloads into the model store and the service worker caches the shell.
  await expect(page.locator('body')).toHaveAttribute('data-model', /sieve-tiny|stories260K/, { timeout: 180_000 });
  await expect(page.locator('body')).toHaveAttribute('data-offline-ready', 'true', { timeout: 120_000 });
  const online = await chat(page, 'Once upon a time', 0);
  expect(online.length).toBeGreaterThan(0);

  // Installable: the manifest parses and Chromium finds nothing that stops installation (icons, start URL, display).
  const cdp = await context.newCDPSession(page);
  const manifest = await cdp.send('Page.getAppManifest') as { url: string; errors: unknown[]; data?: string };
  expect(manifest.url).toMatch(/\/manifest\.webmanifest$/);
  expect(manifest.errors).toEqual([]);
  expect(JSON.parse(manifest.data ?? '{}')).toMatchObject({ name: 'Sieve chat', display: 'standalone', start_url: '/' });
  const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
  expect(installabilityErrors).toEqual([]);

  // The network goes away; the reload is answered by the service worker, the model by the model store.
  const failed: string[] = [];
  context.on('requestfailed', (r) => failed.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  await context.setOffline(true);
  await page.reload();
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 60_000 });
  expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
  await expect(page.locator('body')).toHaveAttribute('data-model', /sieve-tiny|stories260K/, { timeout: 180_000 });
  await expect(page.getByRole('status')).toContainText('Loaded');
  // The conversation came back from IndexedDB; a second message gets a reply with no network at all.
  await expect(page.locator('.message.assistant')).toHaveCount(1);
  const offline = await chat(page, 'The little dog', 1);
  expect(offline.length).toBeGreaterThan(0);
  // Nothing tried the network: a request that did would have failed here.
  expect(failed).toEqual([]);
  await context.setOffline(false);
}
