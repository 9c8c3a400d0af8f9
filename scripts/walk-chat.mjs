// Walks the chat page as a new user would and screenshots each step (docs/papercuts/ keeps the before/after pairs).
// Usage: node scripts/walk-chat.mjs <base URL, e.g. http://127.0.0.1:5173> <out folder> [scene...]
// Screenshots are reduced to palette PNGs with pngquant when it is there (the repo travels under a size limit).
import { chromium } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CHROMIUM_PATH, chromiumArgs } from '../e2e/browser.ts';

const [base = 'http://127.0.0.1:5173', out = 'walk-out', ...only] = process.argv.slice(2);
mkdirSync(out, { recursive: true });
const VIEWPORT = { width: 960, height: 640 };
/** Model files answer this much later while a scene needs to catch the page mid-load. */
const SLOW_LOAD_MS = 4000;

async function shot(page, name) {
  const raw = join(out, `${name}.raw.png`);
  await page.screenshot({ path: raw });
  try {
    execFileSync('pngquant', ['--force', '--quality', '40-80', '--output', join(out, `${name}.png`), raw]);
    rmSync(raw);
  } catch {
    renameSync(raw, join(out, `${name}.png`));
  }
  console.log(`${name}.png`);
}

async function fresh(browser, options = {}) {
  const context = await browser.newContext({ viewport: VIEWPORT, ...options });
  const page = await context.newPage();
  page.on('console', (m) => { if (process.env.SIEVE_DEBUG) console.log(`[page] ${m.text()}`); });
  return { context, page };
}

async function slowModelFiles(page, ms = SLOW_LOAD_MS) {
  await page.route(/\/(models|shared-models)\/.*\.(safetensors|gguf)$/, async (route) => {
    await new Promise((r) => setTimeout(r, ms));
    await route.continue();
  });
}

const loaded = (page) => page.waitForSelector('body[data-model]', { timeout: 120_000 });

const scenes = {
  /** A first visit: the default model is loading. */
  async 'first-visit'(browser) {
    const { context, page } = await fresh(browser);
    await slowModelFiles(page);
    await page.goto(`${base}/`);
    await page.waitForSelector('body[data-ready]');
    await page.waitForTimeout(500);
    await shot(page, 'first-visit');
    await context.close();
  },
  /** A message typed and sent with Enter while the model loads. */
  async 'send-while-loading'(browser) {
    const { context, page } = await fresh(browser);
    await slowModelFiles(page);
    await page.goto(`${base}/`);
    await page.waitForSelector('body[data-ready]');
    await page.getByRole('textbox', { name: 'Message' }).fill('Hello there, who are you?');
    await page.getByRole('textbox', { name: 'Message' }).press('Enter');
    await page.waitForTimeout(400);
    await shot(page, 'send-while-loading');
    await loaded(page);
    await page.waitForTimeout(3000);
    await shot(page, 'send-while-loading-after');
    await context.close();
  },
  /** A download stopped with the Load button, which reads Cancel while a model loads. */
  async 'cancel-load'(browser) {
    const { context, page } = await fresh(browser);
    await slowModelFiles(page);
    await page.goto(`${base}/`);
    await page.waitForSelector('body[data-ready]');
    await page.waitForTimeout(500);
    await page.locator('#load-button').click();
    await page.waitForFunction(() => document.querySelector('#load-button')?.textContent === 'Load', null, { timeout: 30_000 });
    await shot(page, 'cancel-load');
    await context.close();
  },
  /** Loaded, and one short reply. */
  async 'reply'(browser) {
    const { context, page } = await fresh(browser);
    await page.goto(`${base}/`);
    await loaded(page);
    await shot(page, 'loaded');
    await page.getByLabel('Max tokens').fill('24');
    await page.getByRole('textbox', { name: 'Message' }).fill('Tell me a story about a cat.');
    await page.getByRole('textbox', { name: 'Message' }).press('Enter');
    await page.waitForSelector('.message.assistant[data-finish]', { timeout: 60_000 });
    await shot(page, 'reply');
    await context.close();
  },
  /** A second message sent with Enter while the first reply still streams. */
  async 'send-while-replying'(browser) {
    const { context, page } = await fresh(browser);
    await page.goto(`${base}/`);
    await loaded(page);
    await page.getByLabel('Max tokens').fill('200');
    const box = page.getByRole('textbox', { name: 'Message' });
    await box.fill('Tell me a long story.');
    await box.press('Enter');
    await page.waitForSelector('.message.assistant[aria-busy="true"]');
    await box.fill('And make it about a dog.');
    await box.press('Enter');
    await page.waitForTimeout(300);
    await shot(page, 'send-while-replying');
    await page.waitForFunction(() => document.querySelectorAll('.message.assistant[data-finish]').length >= 2, null, { timeout: 90_000 }).catch(() => undefined);
    await shot(page, 'send-while-replying-after');
    await context.close();
  },
  /** Settings a person might get wrong. */
  async 'bad-settings'(browser) {
    const { context, page } = await fresh(browser);
    await page.goto(`${base}/`);
    await loaded(page);
    await page.getByLabel('Max tokens').fill('0');
    await page.getByLabel('Temperature').fill('-1');
    const box = page.getByRole('textbox', { name: 'Message' });
    await box.fill('Hi');
    await box.press('Enter');
    await page.waitForTimeout(1500);
    await shot(page, 'bad-settings');
    await context.close();
  },
  /** Mistyped model fields. */
  async 'bad-models'(browser) {
    const { context, page } = await fresh(browser);
    await page.goto(`${base}/`);
    await loaded(page);
    const field = page.getByLabel('Model', { exact: true });
    for (const [name, text] of [['not-a-model', 'not a model'], ['html-page', '/no/such/folder/'], ['empty-model', ''], ['ftp-url', 'ftp://example.org/m/'], ['missing-folder', '/models/nothing-here/']]) {
      await field.fill(text);
      await page.getByRole('button', { name: 'Load' }).click();
      await page.waitForTimeout(300);
      await page.waitForFunction(() => !document.querySelector('#load-button')?.hasAttribute('disabled'), null, { timeout: 60_000 });
      await shot(page, name);
    }
    // The failed load freed the model loaded before it: what does a message do now?
    const box = page.getByRole('textbox', { name: 'Message' });
    await box.fill('Hello?');
    await box.press('Enter');
    await page.waitForTimeout(1500);
    await shot(page, 'message-after-failed-load');
    await context.close();
  },
  /** A phone-sized window. */
  async 'narrow'(browser) {
    const { context, page } = await fresh(browser, { viewport: { width: 390, height: 760 } });
    await page.goto(`${base}/`);
    await loaded(page);
    await shot(page, 'narrow');
    await context.close();
  },
  /** Dark mode. */
  async 'dark'(browser) {
    const { context, page } = await fresh(browser, { colorScheme: 'dark' });
    await page.goto(`${base}/`);
    await loaded(page);
    await shot(page, 'dark');
    await context.close();
  },
};

const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: chromiumArgs() });
try {
  for (const [name, scene] of Object.entries(scenes)) {
    if (only.length > 0 && !only.includes(name)) continue;
    await scene(browser);
  }
} finally {
  await browser.close();
}
