// Tests of the URL sources against a real local HTTP server laid out like the Hugging Face hub (/<org>/<repo>/resolve/main/<file>).
import { createServer, type Server } from 'node:http';
import { readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelFetchError } from '../errors/index.ts';
import { tinyConfig, tinyTensors, writeCheckpoint } from './checkpoint.test-helper.ts';
import { huggingFaceSource, loadModel, urlFileSource, urlSource, type LoadProgress } from './index.ts';
import { fileNameOfUrl } from './sources.ts';

let server: Server;
let origin = '';
let folder = '';
const requests: string[] = [];
const tensors = tinyTensors('qwen3', { dtype: 'BF16' });
const STORIES_GGUF = fileURLToPath(new URL('../../../shared/models/stories260K/stories260K.gguf', import.meta.url));

beforeAll(async () => {
  folder = await writeCheckpoint({
    config: tinyConfig('qwen3', { tie_word_embeddings: true }),
    tensors: tensors.filter((t) => t.name !== 'lm_head.weight'),
    shards: 2,
    extra: { 'tokenizer_config.json': JSON.stringify({ eos_token: '<|im_end|>' }) },
  });
  server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(path);
    if (path === '/org/broken/resolve/main/config.json') {
      res.writeHead(500).end('oops');
      return;
    }
    if (path === '/org/cut/resolve/main/config.json') {
      // Promise 1000 bytes, send 10, then drop the connection.
      res.writeHead(200, { 'content-length': '1000' });
      res.write('{"model_ty');
      setTimeout(() => res.socket?.destroy(), 20);
      return;
    }
    if (path === '/org/stories/resolve/main/stories260K.gguf') {
      const body = await readFile(STORIES_GGUF);
      res.writeHead(200, { 'content-length': String(body.byteLength) }).end(body);
      return;
    }
    const match = /^\/org\/tiny\/resolve\/main\/([^/]+)$/.exec(path);
    let body: Buffer;
    try {
      if (!match) throw new Error('no route');
      body = await readFile(join(folder, match[1]));
    } catch {
      res.writeHead(404).end('Entry not found');
      return;
    }
    if (match[1] === 'tokenizer_config.json') {
      // Chunked, no content-length: the total is unknown until the end.
      res.writeHead(200);
      res.write(body.subarray(0, 5));
      res.end(body.subarray(5));
      return;
    }
    res.writeHead(200, { 'content-length': String(body.byteLength), 'content-type': 'application/octet-stream' });
    // Several writes, so the client sees the bytes arrive in pieces.
    const step = Math.ceil(body.byteLength / 4);
    for (let i = 0; i < body.byteLength; i += step) res.write(body.subarray(i, i + step));
    res.end();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((done) => server.close(() => done()));
  await rm(folder, { recursive: true, force: true });
});

describe('urlSource', () => {
  it('loads a sharded bf16 checkpoint over HTTP, with absent optional files as 404s', async () => {
    requests.length = 0;
    const events: LoadProgress[] = [];
    const m = await loadModel(`${origin}/org/tiny/resolve/main/`, { onProgress: (p) => events.push(p) });
    expect(m.source).toBe(`${origin}/org/tiny/resolve/main`);
    expect(m.config.architecture).toBe('qwen3');
    expect(m.config.tieWordEmbeddings).toBe(true);
    for (const t of tensors.filter((t) => t.name !== 'lm_head.weight')) {
      expect(Array.from(m.weights.get(t.name).data), t.name).toEqual(t.values);
    }
    expect(m.tokenizerFiles.tokenizerJson).toBeNull();
    expect(m.tokenizerFiles.generationConfig).toBeNull();
    expect(m.tokenizerFiles.tokenizerConfig).toEqual({ eos_token: '<|im_end|>' });
    // Asked for, answered 404, loaded anyway.
    expect(requests).toContain('/org/tiny/resolve/main/tokenizer.json');
    expect(requests).toContain('/org/tiny/resolve/main/model.safetensors');
    const shard = events.filter((p) => p.phase === 'fetch' && p.file === 'model-00002-of-00002.safetensors');
    const size = (await readFile(join(folder, 'model-00002-of-00002.safetensors'))).byteLength;
    expect(shard.every((p) => p.totalBytes === size)).toBe(true);
    expect(shard.at(-1)!.loadedBytes).toBe(size);
    const chunked = events.filter((p) => p.phase === 'fetch' && p.file === 'tokenizer_config.json');
    expect(chunked[0].totalBytes).toBe(0);
    expect(chunked.at(-1)!.loadedBytes).toBe(chunked.at(-1)!.totalBytes);
  });

  it('reads absent files as null and reports loaded/total bytes', async () => {
    const source = urlSource(`${origin}/org/tiny/resolve/main`);
    expect(await source.read('generation_config.json')).toBeNull();
    const seen: [number, number][] = [];
    const bytes = await source.read('config.json', (l, t) => seen.push([l, t]));
    expect(JSON.parse(new TextDecoder().decode(bytes!)).model_type).toBe('qwen3');
    expect(seen[0]).toEqual([0, bytes!.byteLength]);
    expect(seen.at(-1)).toEqual([bytes!.byteLength, bytes!.byteLength]);
  });

  it('throws ModelFetchError on server errors, cut downloads and unreachable hosts', async () => {
    await expect(urlSource(`${origin}/org/broken/resolve/main`).read('config.json')).rejects.toThrow(ModelFetchError);
    await expect(urlSource(`${origin}/org/broken/resolve/main`).read('config.json')).rejects.toThrow(/HTTP 500/);
    await expect(loadModel(`${origin}/org/cut/resolve/main`)).rejects.toThrow(ModelFetchError);
    await expect(loadModel(`${origin}/org/missing/resolve/main`)).rejects.toThrow(/config\.json: not found/);
    // Port 9 (discard) on loopback: nothing listens there in the test machine.
    await expect(urlSource('http://127.0.0.1:9/org/x/resolve/main').read('config.json')).rejects.toThrow(ModelFetchError);
  });

  it('urlFileSource serves only its own file, named from the URL', async () => {
    const url = `${origin}/org/tiny/resolve/main/config.json?download=true`;
    const single = urlFileSource(url);
    expect(single.file).toBe('config.json');
    expect(fileNameOfUrl('https://h/o/r/resolve/main/stories%20260K.gguf#x')).toBe('stories 260K.gguf');
    expect(await single.read('tokenizer.json')).toBeNull();
    expect((await single.read('config.json'))!.byteLength).toBeGreaterThan(0);
  });

  it('loads a single .gguf by URL', async () => {
    const url = `${origin}/org/stories/resolve/main/stories260K.gguf`;
    const m = await loadModel(url);
    expect(m.format).toBe('gguf');
    expect(m.source).toBe(url);
    expect(m.config.numLayers).toBe(5);
    expect(m.ggufVocabulary?.tokens.length).toBe(512);
  });

  it('huggingFaceSource reads <origin>/<org>/<repo>/resolve/<revision>/<file>', async () => {
    const hub = huggingFaceSource('org/tiny', 'main', origin);
    expect(hub.description).toBe(`${origin}/org/tiny/resolve/main`);
    expect(huggingFaceSource('Qwen/Qwen3-0.6B').description).toBe('https://huggingface.co/Qwen/Qwen3-0.6B/resolve/main');
    expect(JSON.parse(new TextDecoder().decode((await hub.read('config.json'))!)).model_type).toBe('qwen3');
    expect(() => huggingFaceSource('not a repo')).toThrow(/<org>\/<name>/);
  });

  it('resolves relative URL strings against the location, as a page or worker does', async () => {
    const g = globalThis as { location?: unknown };
    expect(g.location).toBeUndefined();
    g.location = new URL(`${origin}/org/chat/index.html`);
    try {
      const m = await loadModel('../stories/resolve/main/stories260K.gguf');
      expect(m.source).toBe(`${origin}/org/stories/resolve/main/stories260K.gguf`);
      expect((await loadModel('/org/tiny/resolve/main')).config.architecture).toBe('qwen3');
    } finally {
      delete g.location;
    }
  });
});
