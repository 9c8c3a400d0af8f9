// The chat page once the context is full: a question that cannot fit (its max tokens past the context) gets the
// offer to continue under a bounded cache or without the oldest turns; the choice is the conversation's from then on.
import { expect, test } from '@playwright/test';

/** More than any default model's context (sieve-tiny 4,096, stories260K 512): the engine says CONTEXT_FULL at once. */
const PAST_THE_CONTEXT = 100_000;

test('context full: the person picks a bounded cache, and the conversation keeps it', async ({ page }) => {
  await page.goto('/');
  await expect(page.locator('body')).toHaveAttribute('data-model', /stories260K|sieve-tiny/, { timeout: 120_000 });
  await expect(page.getByRole('status')).toContainText('Loaded');
  await page.getByLabel('Max tokens').fill(String(PAST_THE_CONTEXT));
  const box = page.getByRole('textbox', { name: 'Message' });
  const stop = page.getByRole('button', { name: 'Stop' });

  await box.fill('Tell me a story.');
  await box.press('Enter');
  const notice = page.locator('#notice');
  await expect(notice).toContainText('How should this conversation go on?');
  await expect(notice).toContainText(`max_tokens ${PAST_THE_CONTEXT}`);
  await expect(page.locator('.message.assistant')).toHaveCount(0); // failed before its first word: nothing kept

  // The choice answers the question that did not fit, under StreamingLLM (positions go on past the context).
  await notice.getByRole('button', { name: /bounded cache/ }).click();
  await expect(notice).toBeHidden();
  const first = page.locator('.message.assistant').first();
  await expect.poll(async () => ((await first.locator('.message-content').textContent()) ?? '').length, { timeout: 60_000 }).toBeGreaterThan(0);
  await stop.click();
  await expect(first).toHaveAttribute('data-finish', 'abort');

  // The next turn asks nothing: the conversation remembers its choice (after a reload too).
  await page.reload();
  await expect(page.getByRole('status')).toContainText('Loaded', { timeout: 120_000 });
  await page.getByLabel('Max tokens').fill(String(PAST_THE_CONTEXT));
  await box.fill('And then?');
  await box.press('Enter');
  const second = page.locator('.message.assistant').nth(1);
  await expect.poll(async () => ((await second.locator('.message-content').textContent()) ?? '').length, { timeout: 60_000 }).toBeGreaterThan(0);
  await expect(notice).toBeHidden();
  await stop.click();
});
