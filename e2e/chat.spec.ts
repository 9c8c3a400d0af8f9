// The chat page as a person uses it: type a message, watch the reply stream in, stop it, send another, reload.
import { expect, test, type Locator } from '@playwright/test';

/** stories260K decodes hundreds of tokens a second even here: the first reply needs room to be stopped midway. */
const FIRST_REPLY_MAX_TOKENS = 400;
const SECOND_REPLY_MAX_TOKENS = 12;

async function replyText(reply: Locator): Promise<string> {
  return (await reply.locator('.message-content').textContent()) ?? '';
}

test('chat page: streaming reply, stop, second message, history after reload', async ({ page }) => {
  if (process.env.SIEVE_DEBUG) page.on('console', (m) => console.log(`[page] ${m.text()}`));
  await page.goto('/');

  // The default model (stories260K while the project has none of its own) loads by itself.
  await expect(page.locator('body')).toHaveAttribute('data-model', /stories260K|sieve-tiny/, { timeout: 120_000 });
  await expect(page.getByRole('status')).toContainText('Loaded');
  await expect(page.getByLabel('Attention policy')).toContainText('dense');
  const send = page.getByRole('button', { name: 'Send' });
  await expect(send).toBeEnabled();

  // First message: the reply streams in (its text grows while the Stop button shows), then we stop it.
  await page.getByLabel('Max tokens').fill(String(FIRST_REPLY_MAX_TOKENS));
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill('Tell me a story about a cat.');
  await box.press('Enter');
  const first = page.locator('.message.assistant').first();
  const stop = page.getByRole('button', { name: 'Stop' });
  await expect(stop).toBeVisible();
  await expect.poll(async () => (await replyText(first)).length, { timeout: 60_000 }).toBeGreaterThan(0);
  const early = await replyText(first);
  await expect.poll(async () => (await replyText(first)).length, { timeout: 60_000 }).toBeGreaterThan(early.length);
  await stop.click();
  await expect(first).toHaveAttribute('data-finish', 'abort');
  await expect(first).toContainText('Stopped');
  await expect(send).toBeVisible();
  const stopped = await replyText(first);
  expect(stopped.length).toBeGreaterThan(early.length);
  // The engine's usage came with the aborted reply: fewer tokens than allowed, and live statistics.
  const context = Number(await page.locator('#stat-context').textContent());
  expect(context).toBeGreaterThan(0);
  await expect(page.locator('#stat-kv')).toContainText('B');
  await expect(page.locator('#stat-decode')).toContainText('tok/s');
  await expect(page.locator('#stat-prefill')).toContainText('tok/s');

  // Second message: a short reply that runs to its end.
  await page.getByLabel('Max tokens').fill(String(SECOND_REPLY_MAX_TOKENS));
  await box.fill('And then?');
  await send.click();
  const second = page.locator('.message.assistant').nth(1);
  await expect(second).toHaveAttribute('data-finish', /^(stop|length)$/, { timeout: 60_000 });
  const secondText = await replyText(second);
  // The second turn's context holds the whole conversation, more than the first turn's.
  await expect.poll(async () => Number(await page.locator('#stat-context').textContent())).toBeGreaterThan(context);

  // Reload: the conversation comes back from IndexedDB, in order, with the stopped reply marked.
  await page.reload();
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true');
  await expect(page.getByRole('button', { name: 'Tell me a story about a cat.', exact: true })).toBeVisible();
  const messages = page.locator('#messages .message');
  await expect(messages).toHaveCount(4);
  await expect(messages.nth(0)).toHaveText(/Tell me a story about a cat\./);
  expect(await replyText(messages.nth(1))).toBe(stopped);
  await expect(messages.nth(1)).toHaveAttribute('data-finish', 'abort');
  await expect(messages.nth(2)).toHaveText(/And then\?/);
  expect(await replyText(messages.nth(3))).toBe(secondText);

  // A new conversation starts empty; the old one stays listed.
  await page.getByRole('button', { name: 'New chat' }).click();
  await expect(messages).toHaveCount(0);
  await page.getByRole('button', { name: 'Tell me a story about a cat.', exact: true }).click();
  await expect(messages).toHaveCount(4);
});
