// Two tabs of the chat page, each with its own engine, load the same model at once through the browser's model store
// (OPFS, shared by the origin): each file is downloaded once, both engines answer alike, and the stored copy is whole.
import { expect, test, type Page } from '@playwright/test';

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
