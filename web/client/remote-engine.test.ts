// The remote door: RemoteEngine against an HTTP server on 127.0.0.1 that answers as servers fail (401, 429, 5xx,
// 400, a stream that drops before [DONE], a stream aborted by its caller), the `attention` field refused before
// anything is sent, and, when scripts/build-llama-cpp.mjs has built it, llama.cpp's llama-server serving
// stories260K: its greedy text (streamed and not) equals Sieve's CPU reference, and a wrong API key is 401.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReferenceBackend } from '../../engine/cli/reference-runner.ts';
import { generateIds, completionRequestOf } from '../../engine/api/index.ts';
import { loadModelFromPath } from '../../engine/model/node.ts';
import { createChatTemplate, loadTokenizer } from '../../engine/tokenizer/index.ts';
// @ts-expect-error a plain .mjs script without types
import { llamaCppBinDir, llamaCppToolsBuilt } from '../../scripts/build-llama-cpp.mjs';
import type { EngineClient } from './engine-client.ts';
import { RemoteEngine } from './remote-engine.ts';

// A RemoteEngine is an EngineClient: the chat page holds either.
const asClient = (r: RemoteEngine): EngineClient => r;

async function collect(stream: AsyncIterable<{ choices: { delta: { content?: string } }[] }>): Promise<string> {
  let text = '';
  for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
  return text;
}

const chunk = (content: string, finish: string | null = null) => ({
  id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: finish }],
});

describe('RemoteEngine: typed errors from what servers answer', () => {
  let server: Server;
  let base = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      const path = req.url ?? '';
      if (path === '/v1/models') { res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: [{ id: 'm' }] })); return; }
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        const model = (JSON.parse(body || '{}') as { model?: string }).model;
        if (model === 'auth') res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'Invalid API key' } }));
        else if (model === 'busy') res.writeHead(429, { 'retry-after': '7' }).end('slow down');
        else if (model === 'broken') res.writeHead(503).end(JSON.stringify({ error: { message: 'Loading model' } }));
        else if (model === 'unknown') res.writeHead(400).end(JSON.stringify({ error: { message: 'unknown field top_z' } }));
        else if (model === 'drop') {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write(`data: ${JSON.stringify(chunk('Hel'))}\n\n`);
          setTimeout(() => res.destroy(), 50);
        } else if (model === 'slow') {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          let n = 0;
          const t = setInterval(() => { res.write(`data: ${JSON.stringify(chunk(`w${n++} `))}\n\n`); if (n > 200) { clearInterval(t); res.end('data: [DONE]\n\n'); } }, 10);
          res.on('close', () => clearInterval(t));
        } else {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.end(`data: ${JSON.stringify(chunk('Hello'))}\n\ndata: ${JSON.stringify(chunk('', 'stop'))}\n\ndata: [DONE]\n\n`);
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const ask = (engine: RemoteEngine, model: string, stream = true) =>
    engine.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }], stream } as never) as Promise<AsyncIterable<{ choices: { delta: { content?: string }; finish_reason: string | null }[] }>>;

  it('maps 401, 429 (Retry-After), 5xx, 400 and an unreachable server to typed errors with remedies', async () => {
    const engine = new RemoteEngine({ remote: base, apiKey: 'k' });
    asClient(engine);
    await expect(ask(engine, 'auth')).rejects.toMatchObject({ code: 'REMOTE_UNAUTHORIZED', details: { status: 401, serverMessage: 'Invalid API key' } });
    await expect(ask(engine, 'busy')).rejects.toMatchObject({ code: 'REMOTE_RATE_LIMITED', details: { retryAfterSeconds: 7 } });
    await expect(ask(engine, 'broken', false)).rejects.toMatchObject({ code: 'REMOTE_SERVER_ERROR', details: { status: 503, serverMessage: 'Loading model' } });
    await expect(ask(engine, 'unknown')).rejects.toMatchObject({ code: 'REMOTE_REJECTED', details: { status: 400 } });
    const e = await ask(new RemoteEngine({ remote: 'http://127.0.0.1:9/v1' }), 'm').catch((x) => x);
    expect(e).toMatchObject({ code: 'REMOTE_UNREACHABLE' });
    expect(e.remedy).toMatch(/CORS/);
    await expect(engine.load('nope')).rejects.toMatchObject({ code: 'REMOTE_REJECTED' });
    expect((await engine.load('m')).adapter).toBe(`remote: ${base}`);
  });

  it('a stream that drops before [DONE] is REMOTE_UNREACHABLE after its text; an aborted one ends with finish_reason abort', async () => {
    const engine = new RemoteEngine({ remote: base });
    let text = '';
    const dropped = await (async () => { for await (const c of await ask(engine, 'drop')) text += c.choices[0]?.delta.content ?? ''; })().catch((x) => x);
    expect(text).toBe('Hel');
    expect(dropped).toMatchObject({ code: 'REMOTE_UNREACHABLE' });
    expect(dropped.message).toMatch(/stream stopped before its end/);

    const stop = new AbortController();
    const seen: (string | null)[] = [];
    for await (const c of await engine.chat.completions.create({ model: 'slow', messages: [{ role: 'user', content: 'hi' }], stream: true }, { signal: stop.signal })) {
      seen.push(c.choices[0]?.finish_reason ?? null);
      if (seen.length === 3) stop.abort();
    }
    expect(seen.length).toBeLessThan(10);
    expect(seen[seen.length - 1]).toBe('abort');
  });

  it('refuses `attention` before sending (a server that does not know it would ignore it), unless told it knows it', async () => {
    const engine = new RemoteEngine({ remote: base });
    await expect(engine.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], attention: 'h2o:budget=64' }))
      .rejects.toMatchObject({ code: 'UNSUPPORTED_PARAMETER', details: { parameters: ['attention'] } });
    // Dense is what the server does anyway: not sent, not refused (the chat page always names a policy).
    expect(await collect(await engine.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], attention: 'dense', stream: true }))).toBe('Hello');
    const knowing = new RemoteEngine({ remote: base, serverKnows: ['attention'] });
    expect(await collect(await knowing.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], attention: 'h2o:budget=64', stream: true }))).toBe('Hello');
    expect(() => new RemoteEngine({ remote: 'ftp://x/v1' })).toThrow(TypeError);
  });
});

// llama.cpp's llama-server, built by scripts/build-llama-cpp.mjs (~25 min of both cores, once per machine); without
// the build this part is skipped. It serves stories260K on a port of 127.0.0.1.
const STORIES = fileURLToPath(new URL('../../../shared/models/stories260K/stories260K.gguf', import.meta.url));
const SERVER = join(llamaCppBinDir() as string, 'llama-server');
const haveServer = (llamaCppToolsBuilt() as boolean) && existsSync(STORIES);

describe.skipIf(!haveServer)("RemoteEngine against llama.cpp's llama-server", () => {
  let child: ChildProcess;
  const port = 5218;
  const remote = `http://127.0.0.1:${port}/v1`;
  beforeAll(async () => {
    child = spawn(SERVER, ['-m', STORIES, '--host', '127.0.0.1', '--port', String(port), '--api-key', 'sieve-test', '-c', '512', '-t', '1'], { stdio: 'ignore' });
    for (let i = 0; i < 300; i++) {
      const ok = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
      if (ok) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('llama-server did not start');
  }, 40_000);
  afterAll(() => { child?.kill('SIGTERM'); });

  it("greedy text equals Sieve's CPU reference, streamed and not; a wrong key is REMOTE_UNAUTHORIZED", async () => {
    const engine = new RemoteEngine({ remote, apiKey: 'sieve-test' });
    const models = await (await fetch(`${remote}/models`, { headers: { authorization: 'Bearer sieve-test' } })).json() as { data: { id: string }[] };
    await engine.load(models.data[0].id);
    const request = { prompt: 'Once upon a time', max_tokens: 24, temperature: 0 };
    const whole = await engine.completions.create(request);
    let streamed = '';
    for await (const c of await engine.completions.create({ ...request, stream: true })) streamed += c.choices[0]?.text ?? '';
    const loaded = await loadModelFromPath(STORIES);
    const reference = await generateIds(new ReferenceBackend(loaded), loadTokenizer(loaded), createChatTemplate(null), completionRequestOf({ prompt: request.prompt, maxTokens: 24, ignoreEos: true }), false);
    expect(whole.choices[0].text).toBe(reference.text);
    expect(streamed).toBe(reference.text);
    await expect(new RemoteEngine({ remote, apiKey: 'wrong' }).completions.create({ ...request, model: models.data[0].id }))
      .rejects.toMatchObject({ code: 'REMOTE_UNAUTHORIZED', details: { status: 401 } });
  });
});
