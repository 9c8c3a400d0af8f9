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

test('chat page without a default model says how to load one', async ({ page }) => {
  await page.route(/\/(shared-models\/stories260K\/|models\/sieve-tiny\/)/, (route) => route.fulfill({ status: 404, body: 'not found' }));
  await page.goto('/');
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true');
  await expect(page.locator('#notice')).toContainText('No default model');
  await expect(page.locator('#notice')).toContainText('Hugging Face repo id');
  // A message sent now waits for a model, saying so (it was: a disabled Send button and no reason).
  await page.getByRole('textbox', { name: 'Message' }).fill('Hello?');
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(page.locator('.message.pending')).toContainText('no model is loaded');
});

/** The client API itself (createEngine from web/client), driven from its harness page. */
test('client: OpenAI-shaped results, streamed chunks with usage, abort by signal (running and queued), interrupt', async ({ page }) => {
  await page.goto('/web/client/harness/index.html');
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true');
  const r = await page.evaluate(async () => {
    type Client = typeof import('../web/client/index.ts');
    const { createEngine } = (window as unknown as { sieveClient: Client }).sieveClient;
    const engine = createEngine();
    const policies = await engine.listPolicies();
    await engine.load(new URL('/shared-models/stories260K/stories260K.gguf', location.href).href);
    const messages = [{ role: 'user' as const, content: 'Tell me a story.' }];

    const whole = await engine.chat.completions.create({ messages, max_tokens: 6, temperature: 0 });

    const chunks = [];
    for await (const c of await engine.chat.completions.create({ messages, max_tokens: 6, temperature: 0, stream: true })) chunks.push(c);
    const streamed = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');

    // Abort a running stream after its first text, and abort a request still queued behind it.
    const running = new AbortController();
    const queued = new AbortController();
    const first = await engine.chat.completions.create({ messages, max_tokens: 200, stream: true }, { signal: running.signal });
    const secondPromise = engine.completions.create({ prompt: 'Once upon a time', max_tokens: 50, stream: false }, { signal: queued.signal });
    queued.abort();
    let firstFinish: string | null = null;
    let firstTokens = -1;
    for await (const c of first) {
      if (c.choices[0]?.delta.content) running.abort();
      if (c.choices[0]?.finish_reason) firstFinish = c.choices[0].finish_reason;
      if (c.usage) firstTokens = c.usage.completion_tokens;
    }
    const second = await secondPromise;

    // interrupt() stops what runs now; a reader that breaks early stops generation too.
    const third = await engine.completions.create({ prompt: 'Once upon a time', max_tokens: 200, stream: true });
    let thirdFinish: string | null = null;
    for await (const c of third) {
      if (c.choices[0]?.text) engine.interrupt();
      if (c.choices[0]?.finish_reason) thirdFinish = c.choices[0].finish_reason;
    }
    const fourth = await engine.completions.create({ prompt: 'Once upon a time', max_tokens: 200, stream: true });
    for await (const c of fourth) if (c.choices[0]?.text) break;
    const after = await engine.completions.create({ prompt: 'Once upon a time', max_tokens: 4, temperature: 0 });

    let badParam: unknown = null;
    try {
      await engine.chat.completions.create({ messages, max_tokens: 4, temperature: 7, stream: true });
    } catch (e) {
      badParam = { code: (e as { code?: string }).code, message: (e as Error).message };
    }
    return {
      policies, whole, streamed, lastChunk: chunks[chunks.length - 1], firstChunk: chunks[0],
      firstFinish, firstTokens, second, thirdFinish, after, badParam,
    };
  });

  expect(r.policies).toContain('dense');
  expect(r.whole.object).toBe('chat.completion');
  expect(r.whole.choices[0].finish_reason).toMatch(/^(stop|length)$/);
  expect(r.whole.usage.completion_tokens).toBeLessThanOrEqual(6);
  for (const key of ['prompt_tokens', 'prefill_tokens_per_s', 'decode_tokens_per_s', 'kv_bytes', 'tokens_in_cache'] as const) {
    expect(r.whole.usage[key]).toBeGreaterThan(0);
  }
  // Greedy: the stream carries exactly the text of the whole completion, then a usage chunk with no choices.
  expect(r.streamed).toBe(r.whole.choices[0].message.content);
  expect(r.firstChunk.object).toBe('chat.completion.chunk');
  expect(r.firstChunk.choices[0].delta.role).toBe('assistant');
  expect(r.lastChunk.choices).toEqual([]);
  expect(r.lastChunk.usage?.completion_tokens).toBe(r.whole.usage.completion_tokens);

  expect(r.firstFinish).toBe('abort');
  expect(r.firstTokens).toBeGreaterThan(0);
  expect(r.firstTokens).toBeLessThan(200);
  expect(r.second.choices[0].finish_reason).toBe('abort');
  expect(r.second.usage.completion_tokens).toBe(0);
  expect(r.thirdFinish).toBe('abort');
  // After aborts and an early break, the next request is answered normally.
  expect(r.after.choices[0].finish_reason).toMatch(/^(stop|length)$/);
  expect(r.after.usage.completion_tokens).toBeGreaterThan(0);
  expect(r.badParam).toMatchObject({ code: 'INVALID_ARGUMENT' });
  expect((r.badParam as { message: string }).message).toContain('temperature');
});
