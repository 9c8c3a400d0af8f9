// The chat page on the remote door: /?remote=<OpenAI-compatible server>/v1&model=NAME loads the server's model and
// streams its replies (an HTTP server on 127.0.0.1 answering as an OpenAI-compatible one does, with CORS); a server
// error shows its typed remedy. (llama.cpp's llama-server is exercised by web/client/remote-engine.test.ts.)
import { createServer, type Server } from 'node:http';
import { expect, test } from '@playwright/test';

let server: Server;
let base = '';
const WORDS = ['Hello', ' from', ' the', ' server', '.'];

test.beforeAll(async () => {
  server = createServer((req, res) => {
    const cors = { 'access-control-allow-origin': '*', 'access-control-allow-headers': 'content-type, authorization' };
    if (req.method === 'OPTIONS') { res.writeHead(204, cors).end(); return; }
    if (req.url === '/v1/models') { res.writeHead(200, { ...cors, 'content-type': 'application/json' }).end(JSON.stringify({ data: [{ id: 'big-model' }] })); return; }
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const request = JSON.parse(body) as { model: string; attention?: unknown; messages: { content: string }[] };
      if (request.messages.at(-1)?.content === 'fail') { res.writeHead(429, { ...cors, 'retry-after': '3' }).end('{"error": {"message": "slow down"}}'); return; }
      res.writeHead(200, { ...cors, 'content-type': 'text/event-stream' });
      const chunk = (delta: object, finish: string | null) => `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: request.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      // The page's `attention: 'dense'` is not sent to a server that does not know the field.
      const words = 'attention' in request ? ['attention was sent'] : WORDS;
      res.write(chunk({ role: 'assistant', content: '' }, null));
      for (const w of words) res.write(chunk({ content: w }, null));
      res.write(chunk({}, 'stop'));
      res.end(`data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: request.model, choices: [], usage: { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 } })}\n\ndata: [DONE]\n\n`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`;
});
test.afterAll(() => new Promise<void>((r) => server.close(() => r())));

test('chat page with ?remote: loads the server model, streams its reply, shows a 429 with its remedy', async ({ page }) => {
  await page.goto(`/?remote=${encodeURIComponent(base)}&model=big-model`);
  await expect(page.locator('body')).toHaveAttribute('data-model', 'big-model', { timeout: 60_000 });
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill('Hi there');
  await box.press('Enter');
  const reply = page.locator('.message.assistant').first();
  await expect(reply).toHaveAttribute('data-finish', 'stop', { timeout: 30_000 });
  await expect(reply.locator('.message-content')).toHaveText(WORDS.join(''));

  await box.fill('fail');
  await box.press('Enter');
  await expect(page.getByRole('alert').or(page.locator('.notice'))).toContainText(/429|slow down/, { timeout: 30_000 });
});
