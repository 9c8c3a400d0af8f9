// A model address answered with a web page (a dev server's index.html for a path it lacks, a login page) fails with
// NotAModelError, in the loader and in the cached hub source alike; a real model on such a server still loads.
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryModelStorage, openCachedModelSource } from '../hub/index.ts';
import { loadModel, loadFromSource, urlSource } from './index.ts';

const GOLDEN_QWEN2 = fileURLToPath(new URL('../../models/golden/qwen2/', import.meta.url));
const APP_PAGE = '<!doctype html>\n<html lang="en"><head><title>Sieve chat</title></head><body></body></html>\n';
const HTML_MESSAGE = /not a model folder: the server answered with an HTML page/;

let server: Server;
let origin = '';
const served: string[] = [];

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    served.push(path);
    // A page saved as config.json, sent without a content type that says so.
    if (path === '/saved/config.json') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(`\uFEFF  ${APP_PAGE}`);
      return;
    }
    const real = /^\/real\/([^/]+)$/.exec(path);
    if (real) {
      try {
        const body = await readFile(join(GOLDEN_QWEN2, real[1]));
        res.writeHead(200, { 'content-type': real[1].endsWith('.json') ? 'application/json' : 'application/octet-stream' }).end(body);
        return;
      } catch {
        // absent: answered like every unknown path below
      }
    }
    // What a single-page app's server does with any path it does not have.
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(APP_PAGE);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((done) => server.close(() => done()));
});

describe('an address answered with an HTML page', () => {
  it('is NOT_A_MODEL naming the folder, with what a model is, before any weight is asked for', async () => {
    served.length = 0;
    const failed = loadModel(`${origin}/not%20a%20model/`);
    await expect(failed).rejects.toMatchObject({ name: 'NotAModelError', code: 'NOT_A_MODEL', details: { kind: 'folder', file: 'config.json' } });
    await expect(failed).rejects.toThrow(HTML_MESSAGE);
    await expect(failed).rejects.toMatchObject({ remedy: expect.stringMatching(/config\.json.*\.gguf.*repo id/) });
    expect(served).toEqual(['/not a model/config.json']);
  });

  it('is NOT_A_MODEL when the page comes without an HTML content type', async () => {
    await expect(loadFromSource(urlSource(`${origin}/saved`))).rejects.toThrow(HTML_MESSAGE);
  });

  it('is "not a model file" for a .gguf URL', async () => {
    await expect(loadModel(`${origin}/models/missing.gguf`)).rejects.toMatchObject({
      code: 'NOT_A_MODEL', message: expect.stringContaining('missing.gguf: not a model file: the server answered with an HTML page'),
    });
  });

  it('counts optional files answered with the page as absent: a real sharded checkpoint on that server loads', async () => {
    served.length = 0;
    const model = await loadModel(`${origin}/real/`);
    expect(model.config.architecture).toBe('qwen2');
    // model.safetensors, tokenizer.json and tokenizer_config.json came back as the page: the shards were read instead.
    expect(served).toContain('/real/model-00003-of-00003.safetensors');
  });

  it('through the browser model store: NOT_A_MODEL, and the page is not stored as config.json', async () => {
    const storage = new MemoryModelStorage();
    const url = `${origin}/not-here/resolve/main/`;
    const source = await openCachedModelSource(url, { storage, retryDelayMs: 1 });
    await expect(loadFromSource(source)).rejects.toThrow(HTML_MESSAGE);
    const store = await storage.open(url.replace(/\/$/, ''));
    expect(await store.getMeta('config.json')).toBeNull();
    expect(await store.size('config.json')).toBe(0);
  });
});
