// Two tabs of the chat page, each with its own engine, load the same model at once through the browser's model store
// (OPFS, shared by the origin): each file is downloaded once, both engines answer alike, and the stored copy is whole.
// And a delete in one tab while another loads the model from the store: it waits for that load (issue 13 item 8).
import { expect, test, type Page } from '@playwright/test';
import { hostCall, hostOk, openHost } from './host.ts';

/** The weights answer this much later: the second tab asks for them while the first is still downloading. */
const SLOW_WEIGHTS_MS = 2500;
const MODEL_FILES = ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];

async function ask(page: Page, text: string): Promise<string> {
  await page.getByLabel('Max tokens').fill('6');
  await page.getByLabel('Temperature').fill('0');
  await page.getByRole('textbox', { name: 'Message' }).fill(text);
  await page.getByRole('textbox', { name: 'Message' }).press('Enter');
  const reply = page.locator('.message.assistant').last();
  await expect(reply).toHaveAttribute('data-finish', /^(stop|length)$/, { timeout: 60_000 });
  return (await reply.locator('.message-content').textContent()) ?? '';
}

test('two tabs load one model at once through the shared model store: one download of each file, both answer alike', async ({ context }) => {
  const gets = new Map<string, number>();
  await context.route(/\/models\/sieve-tiny\/[^/]+$/, async (route) => {
    const request = route.request();
    if (request.method() === 'GET') {
      const file = new URL(request.url()).pathname.split('/').pop() ?? '';
      gets.set(file, (gets.get(file) ?? 0) + 1);
      if (file === 'model.safetensors') await new Promise((r) => setTimeout(r, SLOW_WEIGHTS_MS));
    }
    await route.continue();
  });
  const first = await context.newPage();
  const second = await context.newPage();
  // Both tabs open together: each finds nothing stored and loads the default model into the store.
  await Promise.all([first.goto('/'), second.goto('/')]);
  await Promise.all([first, second].map((page) => expect(page.locator('body')).toHaveAttribute('data-model', /sieve-tiny/, { timeout: 120_000 })));

  expect(Object.fromEntries([...gets].sort())).toEqual(Object.fromEntries(MODEL_FILES.map((f) => [f, 1])));
  // One tab downloaded; the other read the stored files (the progress it showed said so).
  const statuses = await Promise.all([first, second].map((page) => page.locator('#load-text').textContent()));
  expect(statuses.every((s) => s?.startsWith('Loaded'))).toBe(true);

  // Both engines have the whole model (one from the network, one from the stored copy): the same greedy reply.
  const [a, b] = [await ask(first, 'Once upon a time'), await ask(second, 'Once upon a time')];
  expect(a.length).toBeGreaterThan(0);
  expect(b).toBe(a);
});

test('a delete in one tab waits for the load reading the model in another, which loads whole from the store', async ({ context, baseURL }) => {
  test.setTimeout(300_000);
  // The smallest model in the hub layout (2 layers, 240 KB): the loads are the slow part here.
  const url = `${baseURL}/models/golden/llama3-rope/`;
  const gets: string[] = [];
  await context.route(/\/models\/golden\/llama3-rope\/[^/]+$/, async (route) => {
    if (route.request().method() === 'GET') gets.push(new URL(route.request().url()).pathname);
    await route.continue();
  });
  const reader = await context.newPage();
  const deleter = await context.newPage();
  await Promise.all([openHost(reader), openHost(deleter)]);
  await hostOk(reader, 'load', { url, cache: true });
  const request = { ids: [1, 403, 407, 261, 378, 316], maxTokens: 8, ignoreEos: true };
  const before = (await hostOk(reader, 'generate', request)).result as { ids: number[] };
  gets.length = 0;

  // The second load reads every file from the store; once it holds the model's lock, the other tab deletes the model.
  const loading = hostCall(reader, 'load', { url, cache: true });
  const lockName = `sieve-model:${url.replace(/\/+$/, '')}`;
  const locks = (page: Page) => page.evaluate(async () => {
    const q = await navigator.locks.query();
    return { held: (q.held ?? []).map((l) => `${l.name} ${l.mode}`), pending: (q.pending ?? []).map((l) => `${l.name} ${l.mode}`) };
  });
  await expect.poll(async () => (await locks(deleter)).held, { intervals: [20] }).toContain(`${lockName} shared`);
  const deleting = hostCall(deleter, 'deleteCachedModel', url);
  // The delete waits for the load: its request is pending while the load holds the model.
  await expect.poll(async () => (await locks(deleter)).pending, { intervals: [20] }).toContain(`${lockName} exclusive`);
  expect((await locks(deleter)).held).toContain(`${lockName} shared`);
  const loaded = await loading;
  expect(loaded.error, JSON.stringify(loaded.error)).toBeUndefined();
  expect(gets).toEqual([]); // the load had the whole model from the store
  const deleted = await deleting as { error?: unknown; askedAt: number; doneAt: number };
  expect(deleted.error, JSON.stringify(deleted.error)).toBeUndefined();
  expect((await hostOk(reader, 'generate', request)).result).toMatchObject({ ids: before.ids });
  console.log(JSON.stringify({ deleteWaitedMs: deleted.doneAt - deleted.askedAt }));

  // Deleted for both tabs: the next load downloads again.
  expect(await hostOk(deleter, 'isModelCached', url)).toMatchObject({ cached: false });
  await hostOk(deleter, 'load', { url, cache: true });
  expect(gets.length).toBeGreaterThan(0);
});
