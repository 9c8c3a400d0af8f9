// The script tag as a site owner uses it: Sieve's build on one port, a plain page on another under a strict CSP.
import { expect, test, type Page } from '@playwright/test';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { build, preview, type PreviewServer } from 'vite';
import { EMBED_SCRIPT_NAME, FRAME_CSP, FRAME_PATH, hostDirectives } from '../web/embed/index.ts';
import { REPO_ROOT } from './host.ts';

/** The shared test model, served by Sieve's preview under /shared-models/ (relative URLs resolve on Sieve's origin). */
const MODEL = '/shared-models/stories260K/stories260K.gguf';
/** stories260K decodes hundreds of tokens a second even here: the reply needs room to be watched and stopped. */
const WIDGET_MAX_TOKENS = 400;
/** The origin the second build allows: not the host page's, so that build refuses it. */
const OTHER_SITE = 'https://shop.example';

/** The page's own stylesheet, and the aggressive one that must not reach into the widget. */
const HOST_CSS = 'body { font-family: Georgia, serif; margin: 24px; } p { line-height: 1.6; } button { padding: 6px 12px; }';
const AGGRESSIVE_CSS = `* { color: red !important; font-size: 40px !important; font-family: monospace !important;
  line-height: 3 !important; background: yellow !important; border: 3px dotted blue !important;
  padding: 9px !important; margin: 7px !important; box-sizing: content-box !important; letter-spacing: 4px !important;
  text-transform: uppercase !important; display: block !important; }`;

/** The host page's own script (external, as its CSP requires): a UI of its own on window.Sieve.createEngine(). */
const HOST_APP_JS = `
const out = document.getElementById('app-result');
async function collect(stream, onChunk) {
  const r = { text: '', finish: null, usage: null, chunks: 0 };
  for await (const c of stream) {
    r.chunks += 1;
    const choice = c.choices[0];
    const piece = choice ? (choice.delta ? choice.delta.content : choice.text) : '';
    if (piece) { r.text += piece; if (onChunk) onChunk(); }
    if (choice && choice.finish_reason) r.finish = choice.finish_reason;
    if (c.usage) r.usage = c.usage;
  }
  return r;
}
async function run() {
  const engine = window.Sieve.createEngine();
  const policies = await engine.listPolicies();
  const info = await engine.load(${JSON.stringify(MODEL)});
  const messages = [{ role: 'user', content: 'Tell me a story.' }];
  const whole = await engine.chat.completions.create({ messages, max_tokens: 8, temperature: 0 });
  const streamed = await collect(await engine.chat.completions.create({ messages, max_tokens: 8, temperature: 0, stream: true }));
  const controller = new AbortController();
  const aborted = await collect(await engine.chat.completions.create({ messages, max_tokens: 300, stream: true }, { signal: controller.signal }), () => controller.abort());
  const interrupted = await collect(await engine.completions.create({ prompt: 'Once upon a time', max_tokens: 300, stream: true }), () => engine.interrupt());
  await engine.unload();
  let afterUnload = null;
  try { await engine.chat.completions.create({ messages, max_tokens: 2 }); } catch (e) { afterUnload = { name: e.name, code: e.code }; }
  engine.terminate();
  return { policies, info, whole, streamed, aborted, interrupted, afterUnload };
}
run().then(
  (r) => { out.textContent = JSON.stringify(r); out.dataset.state = 'done'; },
  (e) => { out.textContent = JSON.stringify({ name: e.name, code: e.code, message: e.message, remedy: e.remedy, details: e.details }); out.dataset.state = 'error'; },
);
`;

interface Sieve { dir: string; server: PreviewServer; origin: string }
let sieve: Sieve;
let refusing: Sieve;
let host: Server;
let hostOrigin: string;

/** Builds Sieve as `npm start` does (vite build with the project's config) and serves it with vite preview. */
async function buildAndServe(env: Record<string, string> = {}): Promise<Sieve> {
  const dir = mkdtempSync(join(tmpdir(), 'sieve-embed-'));
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    await build({ root: REPO_ROOT, logLevel: 'warn', build: { outDir: dir, emptyOutDir: true } });
  } finally {
    for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
  }
  const server = await preview({ root: REPO_ROOT, logLevel: 'warn', build: { outDir: dir }, preview: { host: '127.0.0.1', port: 0, open: false } });
  const origin = new URL(server.resolvedUrls?.local[0] ?? '').origin;
  return { dir, server, origin };
}

/** The host's CSP: its own resources, plus exactly the two directives the README documents for Sieve. */
function hostCsp(sieveOrigin: string, withFrameSrc = true): string {
  const d = hostDirectives(sieveOrigin);
  return [`default-src 'self'`, `script-src 'self' ${d['script-src']}`, ...(withFrameSrc ? [`frame-src ${d['frame-src']}`] : [])].join('; ');
}

/** A plain page: ?widget=1 adds the script tag with data-model, ?app=1 the API-only tag and the page's own script. */
function hostPage(q: URLSearchParams): string {
  const sieveOrigin = q.get('sieve') ?? sieve.origin;
  const src = `${sieveOrigin}/${EMBED_SCRIPT_NAME}`;
  const tags: string[] = [];
  if (q.get('widget') === '1') {
    tags.push(`<script src="${src}" data-model="${MODEL}" data-attention="${q.get('attention') ?? 'dense'}" data-max-tokens="${WIDGET_MAX_TOKENS}" data-title="Ask the shop"></script>`);
  }
  if (q.get('app') === '1') tags.push(`<script src="${src}"></script>`, '<output id="app-result" data-state="running"></output>', '<script src="/host-app.js"></script>');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A shop</title>
<link rel="stylesheet" href="/host.css">${q.get('aggressive') === '1' ? '<link rel="stylesheet" href="/aggressive.css">' : ''}</head>
<body><h1 id="host-title">A shop</h1><p id="host-text">Plain text of the host page.</p><button id="host-button" type="button">Buy</button>
${tags.join('\n')}
</body></html>`;
}

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  sieve = await buildAndServe();
  refusing = await buildAndServe({ VITE_SIEVE_EMBED_ORIGINS: OTHER_SITE });
  host = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://host');
    const send = (type: string, body: string) => { res.setHeader('Content-Type', type); res.end(body); };
    if (url.pathname === '/host.css') return send('text/css', HOST_CSS);
    if (url.pathname === '/aggressive.css') return send('text/css', AGGRESSIVE_CSS);
    if (url.pathname === '/host-app.js') return send('text/javascript', HOST_APP_JS);
    if (url.pathname === '/page.html') {
      const sieveOrigin = url.searchParams.get('sieve') ?? sieve.origin;
      res.setHeader('Content-Security-Policy', hostCsp(sieveOrigin, url.searchParams.get('noframe') !== '1'));
      return send('text/html', hostPage(url.searchParams));
    }
    res.statusCode = 404;
    res.end('not found');
  });
  await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
  hostOrigin = `http://127.0.0.1:${(host.address() as AddressInfo).port}`;
});

test.afterAll(async () => {
  await new Promise<void>((resolve) => host?.close(() => resolve()));
  for (const s of [sieve, refusing]) {
    if (!s) continue;
    await new Promise<void>((resolve) => s.server.httpServer.close(() => resolve()));
    rmSync(s.dir, { recursive: true, force: true });
  }
});

/** Every CSP violation any frame of the page reports, and every console line about one (workers included). */
function watchCsp(page: Page): string[] {
  const seen: string[] = [];
  page.on('console', (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) seen.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => { if (/Content Security Policy/i.test(e.message)) seen.push(`pageerror: ${e.message}`); });
  void page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`Content Security Policy violation: ${e.effectiveDirective} blocked ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
  return seen;
}

const WIDGET_PARTS = ['.sieve', '.bar', '.title', '.log', '.status', 'textarea', 'button.send'];
const STYLE_PROPS = ['color', 'font-size', 'font-family', 'font-weight', 'line-height', 'letter-spacing', 'text-transform',
  'background-color', 'padding-top', 'padding-left', 'margin-top', 'border-top-width', 'border-top-style', 'border-top-color',
  'box-sizing', 'display'];
/** The widget's boxes too; the page's body grows by the widget's height, which is layout, not a style leak. */
const WIDGET_PROPS = [...STYLE_PROPS, 'width', 'height'];

/** Computed styles of `selectors` inside the widget's shadow root (or in the page when `root` is 'page'). */
async function computed(page: Page, selectors: string[], root: 'widget' | 'page'): Promise<Record<string, Record<string, string>>> {
  const props = root === 'widget' ? WIDGET_PROPS : STYLE_PROPS;
  return page.evaluate(([sels, props, where]) => {
    const scope: ParentNode = where === 'widget' ? (document.querySelector('sieve-chat') as HTMLElement).shadowRoot as ShadowRoot : document;
    const out: Record<string, Record<string, string>> = {};
    for (const s of sels) {
      const el = scope.querySelector(s);
      if (!el) throw new Error(`no ${s}`);
      const cs = getComputedStyle(el);
      out[s] = Object.fromEntries(props.map((p) => [p, cs.getPropertyValue(p)]));
    }
    return out;
  }, [selectors, props, root] as const);
}

async function widgetReady(page: Page): Promise<void> {
  await expect(page.locator('sieve-chat .sieve')).toHaveAttribute('data-state', 'ready', { timeout: 120_000 });
  await expect(page.locator('sieve-chat .status')).toHaveText('Ready');
}

test('build: sieve.embed.js is one classic script beside the app, the frame and its worker run under their own CSP', async ({ request }) => {
  const script = await request.get(`${sieve.origin}/${EMBED_SCRIPT_NAME}`);
  expect(script.ok()).toBe(true);
  const code = await script.text();
  // A classic script: no import/export statements, and none of the engine (the worker and ORT stay in the frame).
  expect(code).not.toMatch(/^\s*(import|export)\s/m);
  expect(code).not.toContain('onnxruntime');
  expect(code.length).toBeLessThan(100_000);
  const frame = await request.get(`${sieve.origin}/${FRAME_PATH}`);
  expect(frame.headers()['content-security-policy']).toBe(FRAME_CSP);
  expect(FRAME_CSP).toContain("'wasm-unsafe-eval'");
  expect(FRAME_CSP).not.toContain("'unsafe-eval'");
  expect(FRAME_CSP).not.toContain("'unsafe-inline'");
  // Sieve's own chat page keeps the server's defaults.
  expect((await request.get(`${sieve.origin}/`)).headers()['content-security-policy']).toBeUndefined();
});

test('widget: a reply streams in under the host CSP; the page CSS and the widget CSS do not touch each other', async ({ page }) => {
  // Three page loads and up to 400 + 400 decoded tokens on a software adapter shared with other work.
  test.setTimeout(480_000);
  const violations = watchCsp(page);
  // The page alone, then with the widget: the page's own elements look the same.
  await page.goto(`${hostOrigin}/page.html`);
  const bare = await computed(page, ['body', '#host-title', '#host-text', '#host-button'], 'page');
  const bareSheets = await page.evaluate(() => document.styleSheets.length);

  const workerScript = page.waitForResponse((r) => r.url().startsWith(`${sieve.origin}/assets/engine.worker`));
  await page.goto(`${hostOrigin}/page.html?widget=1`);
  await widgetReady(page);
  // The frame's engine worker runs under the frame's CSP too: that is where ORT compiles its wasm.
  expect((await workerScript).headers()['content-security-policy']).toBe(FRAME_CSP);
  expect(await computed(page, ['body', '#host-title', '#host-text', '#host-button'], 'page')).toEqual(bare);
  expect(await page.evaluate(() => ({ sheets: document.styleSheets.length, adopted: document.adoptedStyleSheets.length, styles: document.querySelectorAll('style, [style]').length })))
    .toEqual({ sheets: bareSheets, adopted: 0, styles: 0 });
  // The engine frame is served by Sieve's origin, not the page's.
  const engineFrame = page.frames().find((f) => f.url().startsWith(`${sieve.origin}/${FRAME_PATH}`));
  expect(engineFrame, 'the engine frame').toBeDefined();
  const plainWidget = await computed(page, WIDGET_PARTS, 'widget');

  // Chat: the reply streams in (its text grows while Stop shows), is stopped midway, then a second one runs to its end.
  const input = page.getByRole('textbox', { name: 'Message' });
  await input.fill('Tell me a story about a cat.');
  await input.press('Enter');
  const reply = page.locator('sieve-chat .msg.assistant').first();
  const content = reply.locator('.content');
  await expect(page.locator('sieve-chat button.stop')).toBeVisible();
  await expect.poll(async () => ((await content.textContent()) ?? '').length, { timeout: 60_000 }).toBeGreaterThan(0);
  const early = (await content.textContent()) ?? '';
  await expect.poll(async () => ((await content.textContent()) ?? '').length, { timeout: 60_000 }).toBeGreaterThan(early.length);
  await page.locator('sieve-chat button.stop').click();
  await expect(reply).toHaveAttribute('data-finish', 'abort');
  await expect(reply).toContainText('Stopped');
  await input.fill('And then?');
  await page.locator('sieve-chat button.send').click();
  const second = page.locator('sieve-chat .msg.assistant').nth(1);
  await expect(second).toHaveAttribute('data-finish', /^(stop|length)$/, { timeout: 240_000 });
  expect(((await second.locator('.content').textContent()) ?? '').length).toBeGreaterThan(0);
  await expect(page.locator('sieve-chat .msg.user')).toHaveCount(2);

  // The same page under aggressive global CSS: it reaches the page's elements, not the widget.
  await page.goto(`${hostOrigin}/page.html?widget=1&aggressive=1`);
  const hostText = await computed(page, ['#host-text'], 'page');
  expect(hostText['#host-text'].color).toBe('rgb(255, 0, 0)');
  expect(hostText['#host-text']['font-size']).toBe('40px');
  await widgetReady(page);
  expect(await computed(page, WIDGET_PARTS, 'widget')).toEqual(plainWidget);

  expect(violations).toEqual([]);
  // Both policies are really in force: eval, outside DevTools' own evaluation (a timer), is refused on the page and in
  // the engine frame, where the model ran all along.
  const evalInTimer = () => new Promise<string>((resolve) => setTimeout(() => {
    try { resolve(String(eval('1 + 1'))); } catch (e) { resolve((e as Error).name); }
  }));
  expect(await page.evaluate(evalInTimer)).toBe('EvalError');
  const frame = page.frames().find((f) => f.url().startsWith(`${sieve.origin}/${FRAME_PATH}`));
  expect(await frame!.evaluate(evalInTimer)).toBe('EvalError');
});

test("window.Sieve.createEngine() from the host page's own script: load, stream, abort, interrupt, unload", async ({ page }) => {
  const violations = watchCsp(page);
  await page.goto(`${hostOrigin}/page.html?app=1`);
  const out = page.locator('#app-result');
  await expect(out).not.toHaveAttribute('data-state', 'running', { timeout: 180_000 });
  const text = (await out.textContent()) ?? '';
  expect(await out.getAttribute('data-state'), text).toBe('done');
  const r = JSON.parse(text);
  expect(r.policies).toContain('dense');
  // The relative model URL resolved on Sieve's origin, where the worker fetched it.
  expect(r.info.source).toContain(`${sieve.origin}${MODEL}`);
  expect(r.whole.object).toBe('chat.completion');
  // Greedy: the stream carries exactly the whole completion's text, in more than one chunk, then usage.
  expect(r.streamed.text).toBe(r.whole.choices[0].message.content);
  expect(r.streamed.chunks).toBeGreaterThan(2);
  expect(r.streamed.usage.completion_tokens).toBe(r.whole.usage.completion_tokens);
  expect(r.aborted.finish).toBe('abort');
  expect(r.aborted.usage.completion_tokens).toBeLessThan(300);
  expect(r.interrupted.finish).toBe('abort');
  expect(r.afterUnload).toEqual({ name: 'NotLoadedError', code: 'NOT_LOADED' });
  expect(violations).toEqual([]);
});

test('typed errors: a build that does not allow this site refuses it; a page CSP without frame-src is named', async ({ page }) => {
  await page.goto(`${hostOrigin}/page.html?app=1&sieve=${encodeURIComponent(refusing.origin)}`);
  const out = page.locator('#app-result');
  await expect(out).toHaveAttribute('data-state', 'error', { timeout: 60_000 });
  const refused = JSON.parse((await out.textContent()) ?? '');
  expect(refused).toMatchObject({ name: 'EmbedOriginRefusedError', code: 'EMBED_ORIGIN_REFUSED', details: { origin: hostOrigin } });
  expect(refused.details.reason).toContain(OTHER_SITE);

  // data-attention reaches the engine, which names a policy it does not have; the widget shows its typed error.
  await page.goto(`${hostOrigin}/page.html?widget=1&attention=no-such-policy`);
  await widgetReady(page);
  await page.getByRole('textbox', { name: 'Message' }).fill('Hello');
  await page.locator('sieve-chat button.send').click();
  await expect(page.locator('sieve-chat .msg.assistant')).toHaveAttribute('data-finish', 'error');
  await expect(page.locator('sieve-chat .status')).toHaveAttribute('data-kind', 'error');
  await expect(page.locator('sieve-chat .status')).toContainText('no-such-policy');

  await page.goto(`${hostOrigin}/page.html?app=1&noframe=1`);
  await expect(out).toHaveAttribute('data-state', 'error', { timeout: 60_000 });
  const blocked = JSON.parse((await out.textContent()) ?? '');
  expect(blocked).toMatchObject({ name: 'EmbedFrameUnavailableError', code: 'EMBED_FRAME_UNAVAILABLE' });
  expect(blocked.remedy).toContain(`frame-src ${sieve.origin}`);

  // The frame loads but its engine worker cannot start (here: its script is gone): the calls fail, they do not hang.
  await page.route((url) => url.href.startsWith(`${sieve.origin}/assets/engine.worker`), (route) => route.fulfill({ status: 404, body: 'gone' }));
  await page.goto(`${hostOrigin}/page.html?app=1`);
  await expect(out).toHaveAttribute('data-state', 'error', { timeout: 60_000 });
  const noWorker = JSON.parse((await out.textContent()) ?? '');
  expect(noWorker).toMatchObject({ name: 'EmbedFrameUnavailableError', code: 'EMBED_FRAME_UNAVAILABLE' });
  expect(noWorker.message).toContain('engine worker failed to start');
});
