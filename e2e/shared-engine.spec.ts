// One engine for every tab (createEngine({ shared: true })): two pages of one Chromium context share the SharedWorker's
// engine: one download (counted at this test's model server), both chat with the greedy text of a dedicated worker,
// one page's abort leaves the other's request alone, a page closed mid-request frees the engine for the other, and a
// page without SharedWorker falls back to a dedicated worker and says so; another model is refused while one is held.
// A frozen page holds the other up no longer than the ack bound: its waiting request keeps its place until it resumes,
// its running one is stopped with TAB_UNRESPONSIVE. The freeze is made as Chrome makes one (the freeze event, then no
// task of the page runs until the resume event) because CDP's Page.setWebLifecycleState freezes nothing in this
// headless Chromium 156 (its timers and messages ran on, and no freeze event fired): the page dispatches freeze, then
// blocks in a synchronous request to the test's server until the test lets it go, then dispatches resume.
import { expect, test, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SHARED_MODELS } from './host.ts';

const HARNESS = '/web/client/harness/index.html';
const MODEL_FILE = 'stories260K.gguf';
/** A request long enough to be running while the other page acts (stories260K holds 512 positions). */
const LONG_TOKENS = 300;
const SHORT_TOKENS = 24;
const PROMPTS = { a: 'Tell me about a cat.', b: 'Tell me about a dog.', long: 'Once upon a time' };

interface Reply { text: string; finish: string | null; tokens: number | null }

/** Opens the client harness and gives the page `ask(id, prompt, maxTokens)` (greedy, streamed), `abort(id)`, `first(id)`. */
async function openHarness(page: Page): Promise<void> {
  if (process.env.SIEVE_DEBUG) page.on('console', (m) => console.log(`[page] ${m.text()}`));
  await page.goto(HARNESS);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true');
  await page.evaluate(() => {
    const w = window as unknown as Record<string, unknown> & { engine: { chat: { completions: { create: Function } } } };
    const controllers = new Map<string, AbortController>();
    const ended = new Set<string>();
    w.ended = (id: string) => ended.has(id);
    const firsts = new Map<string, Promise<void>>();
    w.ask = (id: string, prompt: string, maxTokens: number) => {
      const controller = new AbortController();
      controllers.set(id, controller);
      let first!: () => void;
      firsts.set(id, new Promise<void>((resolve) => { first = resolve; }));
      return (async () => {
        const stream = await w.engine.chat.completions.create({
          messages: [{ role: 'user', content: prompt }], stream: true, max_tokens: maxTokens, temperature: 0, ignore_eos: true,
        }, { signal: controller.signal }) as AsyncIterable<{ choices: { delta: { content?: string }; finish_reason: string | null }[]; usage?: { completion_tokens: number } }>;
        let text = '';
        let finish: string | null = null;
        let tokens: number | null = null;
        for await (const chunk of stream) {
          text += chunk.choices[0]?.delta.content ?? '';
          finish = chunk.choices[0]?.finish_reason ?? finish;
          tokens = chunk.usage?.completion_tokens ?? tokens;
          if (text) first();
        }
        first();
        ended.add(id);
        return { text, finish, tokens };
      })();
    };
    w.abort = (id: string) => controllers.get(id)?.abort();
    w.first = (id: string) => firsts.get(id);
  });
}

async function startEngine(page: Page, url: string): Promise<{ worker: string; fallbackReason?: string }> {
  return page.evaluate(async (modelUrl) => {
    const w = window as unknown as { sieveClient: { createEngine(o: object): { load(u: string): Promise<unknown>; info: object } }; engine: unknown };
    const engine = w.sieveClient.createEngine({ shared: true });
    w.engine = engine;
    await engine.load(modelUrl);
    return engine.info as { worker: string; fallbackReason?: string };
  }, url);
}

/** Starts `ask` in the page without waiting for it; `reply` then waits for its end. */
function ask(page: Page, id: string, prompt: string, maxTokens: number): Promise<void> {
  return page.evaluate(([i, p, n]) => {
    const w = window as unknown as { ask: (...a: unknown[]) => Promise<unknown>; replies?: Record<string, Promise<unknown>> };
    (w.replies ??= {})[i as string] = w.ask(i, p, n);
  }, [id, prompt, maxTokens] as const);
}

function reply(page: Page, id: string): Promise<Reply> {
  return page.evaluate((i) => (window as unknown as { replies: Record<string, Promise<Reply>> }).replies[i], id);
}

/** The error code a reply ended with (null when it did not fail). */
function failure(page: Page, id: string): Promise<string | null> {
  return page.evaluate((i) => (window as unknown as { replies: Record<string, Promise<Reply>> }).replies[i].then(() => null, (e: { code?: string }) => e.code ?? String(e)), id);
}

/** Freezes `page` until `thaw` is called: freeze event, no task runs (a synchronous request held open), resume event. */
async function freeze(page: Page, holdUrl: string): Promise<void> {
  await page.evaluate((url) => {
    setTimeout(() => {
      document.dispatchEvent(new Event('freeze'));
      const held = new XMLHttpRequest();
      held.open('GET', url, false);
      held.send();
      document.dispatchEvent(new Event('resume'));
    }, 0);
  }, holdUrl);
}

const firstText = (page: Page, id: string) => page.evaluate((i) => (window as unknown as { first: (i: string) => Promise<void> }).first(i), id);

test('two pages share one engine: one download, fair turns, aborts and a closed page stay their own; no SharedWorker falls back', async ({ context }) => {
  const model = readFileSync(`${SHARED_MODELS}stories260K/${MODEL_FILE}`);
  let downloads = 0;
  const holds: Array<() => void> = [];
  const thaw = () => { for (const end of holds.splice(0)) end(); };
  const server: Server = createServer((req, res) => {
    const cors = { 'access-control-allow-origin': '*' };
    if (req.url === '/hold') { holds.push(() => res.writeHead(200, cors).end()); return; }
    if (req.url?.split('?')[0] !== `/${MODEL_FILE}`) { res.writeHead(404, cors).end(); return; }
    if (req.method === 'GET') downloads++;
    res.writeHead(200, { ...cors, 'content-type': 'application/octet-stream', 'content-length': String(model.length) }).end(model);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const url = `${origin}/${MODEL_FILE}`;
  try {
    const [a, b] = [await context.newPage(), await context.newPage()];
    await Promise.all([openHarness(a), openHarness(b)]);
    // Both load at once: the second joins the first's load in the shared worker.
    const infos = await Promise.all([startEngine(a, url), startEngine(b, url)]);
    expect(infos).toEqual([{ worker: 'shared' }, { worker: 'shared' }]);
    expect(downloads).toBe(1);

    // Both chat at once (their requests take turns in the one engine).
    await Promise.all([ask(a, 'a1', PROMPTS.a, SHORT_TOKENS), ask(b, 'b1', PROMPTS.b, SHORT_TOKENS)]);
    const [a1, b1] = await Promise.all([reply(a, 'a1'), reply(b, 'b1')]);
    expect(a1).toMatchObject({ finish: 'length', tokens: SHORT_TOKENS });
    expect(b1).toMatchObject({ finish: 'length', tokens: SHORT_TOKENS });

    // B's long request runs; A's, queued behind it, is aborted: only A's ends, B's runs to its last token.
    await ask(b, 'b2', PROMPTS.long, LONG_TOKENS);
    await firstText(b, 'b2');
    await ask(a, 'a2', PROMPTS.a, SHORT_TOKENS);
    await a.evaluate(() => (window as unknown as { abort: (i: string) => void }).abort('a2'));
    expect(await reply(a, 'a2')).toEqual({ text: '', finish: 'abort', tokens: 0 });
    const b2 = await reply(b, 'b2');
    expect(b2).toMatchObject({ finish: 'length', tokens: LONG_TOKENS });

    // A's request waits behind B's and A's page freezes: B's next one goes first; A's runs where it waited once A resumes.
    await ask(b, 'b4', PROMPTS.long, SHORT_TOKENS * 4);
    await firstText(b, 'b4');
    await ask(a, 'a4', PROMPTS.a, SHORT_TOKENS);
    await freeze(a, `${origin}/hold`);
    await ask(b, 'b5', PROMPTS.b, SHORT_TOKENS);
    expect(await reply(b, 'b5')).toEqual(b1);
    thaw();
    expect(await reply(a, 'a4')).toEqual(a1); // paused, not started into a page that could not read it
    // A's page freezes while its request runs: B is served after the ack bound; A, resumed, hears TAB_UNRESPONSIVE.
    await ask(a, 'a5', PROMPTS.long, LONG_TOKENS);
    await firstText(a, 'a5');
    await freeze(a, `${origin}/hold`);
    await ask(b, 'b6', PROMPTS.b, SHORT_TOKENS);
    expect(await reply(b, 'b6')).toEqual(b1);
    thaw();
    expect(await failure(a, 'a5')).toBe('TAB_UNRESPONSIVE');

    // A's long request runs, B's waits behind it, and A's page closes: B is served.
    await ask(a, 'a3', PROMPTS.long, LONG_TOKENS);
    await firstText(a, 'a3');
    await ask(b, 'b3', PROMPTS.b, SHORT_TOKENS);
    // Still running as it closes (else B would be served anyway, and this would show nothing).
    expect(await a.evaluate(() => (window as unknown as { ended: (i: string) => boolean }).ended('a3'))).toBe(false);
    await a.close();
    const b3 = await reply(b, 'b3');
    expect(b3).toEqual(b1);

    // Another model while B holds this one: a typed refusal in the asking page, before any download.
    const d = await context.newPage();
    await openHarness(d);
    const refused = await d.evaluate(async (other) => {
      const w = window as unknown as { sieveClient: { createEngine(o: object): { load(u: string): Promise<unknown> } } };
      return w.sieveClient.createEngine({ shared: true }).load(other).then(() => null, (e: { code: string; details: unknown }) => ({ code: e.code, details: e.details }));
    }, `${url}?another`);
    expect(refused).toEqual({ code: 'MODEL_IN_USE', details: { asked: `${url}?another`, loaded: url, tabs: 1 } });
    expect(downloads).toBe(1);

    // A page without SharedWorker: a dedicated worker, said in engine.info; its greedy text is the shared engine's.
    const c = await context.newPage();
    await c.addInitScript(() => { delete (window as unknown as { SharedWorker?: unknown }).SharedWorker; });
    await openHarness(c);
    const info = await startEngine(c, url);
    expect(info.worker).toBe('dedicated');
    expect(info.fallbackReason).toContain('SharedWorker');
    expect(downloads).toBe(2); // its own copy
    await ask(c, 'a1', PROMPTS.a, SHORT_TOKENS);
    expect(await reply(c, 'a1')).toEqual(a1);
    await ask(c, 'b1', PROMPTS.b, SHORT_TOKENS);
    expect(await reply(c, 'b1')).toEqual(b1);
    await ask(c, 'long', PROMPTS.long, LONG_TOKENS);
    expect(await reply(c, 'long')).toEqual(b2);
  } finally {
    thaw();
    server.close();
  }
});

test("the model store where only writable streams exist (a shared worker's, a page's) keeps each full segment of a cut-off download", async ({ page }) => {
  await page.goto(HARNESS);
  const MIB = 2 ** 20;
  /** Appends MiB number `from` up to `to` (each filled with its number) to a stored file; closes the appender or not. */
  const append = (from: number, to: number, close: boolean) => page.evaluate(async ([hubPath, a, b, closing]) => {
    const hub = await import(hubPath as string) as typeof import('../engine/hub/index.ts');
    const root = await (await navigator.storage.getDirectory()).getDirectoryHandle('sieve-test-segments', { create: true });
    const store = await new hub.OpfsModelStorage(root).open('http://127.0.0.1/segments/');
    const appender = await store.openAppender('w.bin', a === 0);
    const kept = appender.size;
    for (let i = a as number; i < (b as number); i++) await appender.append(new Uint8Array(2 ** 20).fill(i));
    if (closing) await appender.close();
    const sync = 'createSyncAccessHandle' in FileSystemFileHandle.prototype;
    return { kept, segment: hub.SEGMENT_BYTES, sync };
  }, ['/engine/hub/index.ts', from, to, close] as const);
  // 40 MiB written and never closed, then the page goes away (as a closed last tab takes its shared worker).
  expect(await append(0, 40, false)).toEqual({ kept: 0, segment: 16 * MIB, sync: false });
  await page.reload();
  // The two full segments were kept: the download goes on from 32 MiB, and the file reads back whole and in order.
  expect((await append(32, 48, true)).kept).toBe(32 * MIB);
  const read = await page.evaluate(async (hubPath) => {
    const hub = await import(hubPath) as typeof import('../engine/hub/index.ts');
    const root = await (await navigator.storage.getDirectory()).getDirectoryHandle('sieve-test-segments');
    const store = await new hub.OpfsModelStorage(root).open('http://127.0.0.1/segments/');
    const all = await store.readAll('w.bin');
    const firstOfEach = Array.from({ length: all.byteLength / 2 ** 20 }, (_, i) => all[i * 2 ** 20]);
    const wrong = firstOfEach.findIndex((v, i) => v !== i || all[i * 2 ** 20 + 2 ** 20 - 1] !== i);
    let from20 = -1;
    for await (const chunk of store.readChunks('w.bin', 20 * 2 ** 20 + 5)) { from20 = chunk[0]; break; }
    await store.remove('w.bin');
    return { bytes: all.byteLength, wrong, from20, after: await store.size('w.bin') };
  }, '/engine/hub/index.ts');
  expect(read).toEqual({ bytes: 48 * MIB, wrong: -1, from20: 20, after: 0 });
});
