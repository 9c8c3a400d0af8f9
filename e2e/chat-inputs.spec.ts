// The chat page with what a new user types (issue 13 item 7): a message sent while the model loads waits and goes
// once it is ready; a model field that is no model is refused before any request, or said to be a web page; every
// error shows its remedy.
import { expect, test, type Page } from '@playwright/test';

/** The default model's weights answer this much later, so the page is caught mid-load. */
const SLOW_WEIGHTS_MS = 3000;
const REPLY_MAX_TOKENS = '4';

async function expectErrorWithRemedy(page: Page, message: string | RegExp, remedy: RegExp): Promise<void> {
  const notice = page.locator('#notice');
  await expect(notice.locator('.notice-message')).toContainText(message, { timeout: 30_000 });
  await expect(notice.locator('.notice-remedy')).toHaveText(remedy);
}

test('chat page: a message sent while the model loads waits and is answered; bad model fields and settings are refused with their remedy', async ({ page }) => {
  if (process.env.SIEVE_DEBUG) page.on('console', (m) => console.log(`[page] ${m.text()}`));
  const requested: string[] = [];
  page.on('request', (r) => requested.push(r.url()));
  await page.route(/\/models\/sieve-tiny\/model\.safetensors$/, async (route) => {
    await new Promise((r) => setTimeout(r, SLOW_WEIGHTS_MS));
    await route.continue();
  });
  await page.goto('/');
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 60_000 });
  // A new visitor can type at once.
  const box = page.getByRole('textbox', { name: 'Message' });
  await expect(box).toBeFocused();
  await page.getByLabel('Max tokens').fill(REPLY_MAX_TOKENS);

  // Sent with Enter while the model loads: shown as pending with why, the box emptied, then sent once loaded.
  await box.fill('Hello, who are you?');
  await box.press('Enter');
  const pending = page.locator('.message.pending');
  await expect(pending).toContainText('Hello, who are you?');
  await expect(pending).toContainText('Waiting for the model to load');
  await expect(box).toHaveValue('');
  await expect(page.locator('body')).not.toHaveAttribute('data-model', /./);
  await expect(page.locator('body')).toHaveAttribute('data-model', /sieve-tiny/, { timeout: 60_000 });
  await expect(pending).toHaveCount(0);
  await expect(page.locator('.message.user')).toHaveText(/Hello, who are you\?/);
  await expect(page.locator('.message.assistant')).toHaveAttribute('data-finish', /^(stop|length)$/, { timeout: 30_000 });

  // A setting the engine would refuse: named by its field, the message kept in the box, nothing sent.
  await page.getByLabel('Max tokens').fill('0');
  await box.fill('Another one');
  await box.press('Enter');
  await expectErrorWithRemedy(page, 'Max tokens must be a whole number of at least 1; it is "0".', /Change Max tokens in Model and settings/);
  await expect(page.getByLabel('Max tokens')).toHaveAttribute('aria-invalid', 'true');
  await expect(box).toHaveValue('Another one');
  await expect(page.locator('.message.user')).toHaveCount(1);
  await page.getByLabel('Max tokens').fill(REPLY_MAX_TOKENS);

  // Not a URL, a path or a repo id: refused before any request, saying what is accepted; the model stays loaded.
  const field = page.getByLabel('Model', { exact: true });
  await field.fill('not a model');
  await page.getByRole('button', { name: 'Load', exact: true }).click();
  await expectErrorWithRemedy(page, '"not a model" is not a URL, a path or a Hugging Face repo id', /config\.json.*\.gguf.*HuggingFaceTB\/SmolLM2-135M-Instruct/);
  expect(requested.filter((u) => /not(%20| )a(%20| )model/.test(u))).toEqual([]);
  await expect(page.locator('body')).toHaveAttribute('data-model', /sieve-tiny/);
  await expect(page.locator('#model-summary')).toHaveText('· sieve-tiny ready');

  // A path the server answers with its web page: said as such, not as a JSON error. The engine freed the earlier
  // model, so the page says none is loaded; a message waits for one, and "Use sieve-tiny again" brings it back.
  await field.fill('/no/such/folder/');
  await page.getByRole('button', { name: 'Load', exact: true }).click();
  await expectErrorWithRemedy(page, 'not a model folder: the server answered with an HTML page', /^Check the address\. A model is .*config\.json/);
  await expect(page.locator('#notice')).not.toContainText('JSON');
  await expect(page.locator('#model-summary')).toHaveText('· no model loaded');
  await box.fill('Are you back?');
  await box.press('Enter');
  await expect(pending).toContainText('no model is loaded');
  await page.getByRole('button', { name: 'Use sieve-tiny again' }).click();
  await expect(page.locator('body')).toHaveAttribute('data-model', /sieve-tiny/, { timeout: 60_000 });
  await expect(pending).toHaveCount(0);
  // Sent: in the conversation, its reply under way.
  await expect(page.locator('.message.user').nth(1)).toHaveText(/Are you back\?/);
  await expect(page.locator('.message.assistant')).toHaveCount(2);
});
