// Nothing leaks: the engine on Dawn (Node, SwiftShader) counts every GPU buffer its device holds, ORT's included,
// and after unload, a model switch, a failed load and policy changes the count is back at its value before the first load.
// First: puts WebGPU's globals (GPUBufferUsage, ...) in place before the engine's modules read them at import.
import { installNodeNavigatorGpu } from './gpu/node-webgpu.test-helper.ts';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountBuffers } from './gpu/index.ts';
import { SieveEngine } from './engine.ts';
import { tinyConfig, tinyTensors, writeCheckpoint } from './model/checkpoint.test-helper.ts';


let server: Server;
let base = '';
const dirs: Record<string, string> = {};

/** Serves the test checkpoints over http, as a page's engine fetches them. */
async function serve(): Promise<void> {
  server = createServer((req, res) => {
    const [, name, ...rest] = (req.url ?? '').split('/');
    const dir = dirs[name];
    const file = normalize(rest.join('/'));
    if (!dir || file.startsWith('..')) { res.writeHead(404, { connection: 'close' }).end(); return; }
    readFile(join(dir, file)).then(
      // No keep-alive: the test blocks the event loop for seconds (SwiftShader), and a kept connection the server
      // timed out meanwhile resets the next fetch.
      (bytes) => res.writeHead(200, { 'content-length': bytes.byteLength, connection: 'close' }).end(bytes),
      () => res.writeHead(404, { connection: 'close' }).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

beforeAll(async () => {
  dirs.llama = await writeCheckpoint({ config: tinyConfig('llama'), tensors: tinyTensors('llama') });
  dirs.qwen3 = await writeCheckpoint({ config: tinyConfig('qwen3', { tie_word_embeddings: true }), tensors: tinyTensors('qwen3', { tied: true }) });
  // The last tensor in the file has the wrong shape: the load fails after the tensors before it reached the GPU.
  const broken = tinyTensors('llama');
  const last = broken[broken.length - 1];
  broken[broken.length - 1] = { ...last, shape: [last.shape[0] / 2, last.shape[1] * 2] };
  dirs.broken = await writeCheckpoint({ config: tinyConfig('llama'), tensors: broken });
  await serve();
  // One Dawn instance for ORT (navigator.gpu) and the engine; its device counts buffers from the first one made.
  installNodeNavigatorGpu();
});

afterAll(() => server?.close());

// A hang guard, not a timing: these load models on Dawn's software adapter, which took 166 s at a load average of 25
// on this 2-core machine (76 s alone); the other Dawn tests that load a model allow 300 s too.
const LOADS_A_MODEL_MS = 300_000;

describe('GPU memory across the engine\'s life', () => {
  it('unload, switch, failed load and policy changes free every buffer and session', async () => {
    const engine = new SieveEngine();
    const gen = (policy: string) => engine.completion({ prompt: [1, 5, 9, 3], max_tokens: 6, temperature: 0, attention: policy as never });

    await engine.load(`${base}/llama`);
    const device = (engine as unknown as { device: { device: GPUDevice } }).device.device;
    const account = accountBuffers(device);
    const stats = await engine.stats();
    // The first load made the device, so before it the device held nothing: every count goes back to 0.
    await engine.unload();
    expect(account.liveBuffers).toBe(0);
    expect(stats.model?.weightBytes).toBeGreaterThan(0);
    expect(stats.model?.kvPoolBytes).toBeGreaterThan(0);
    expect(stats.model?.kvInUseBytes).toBe(0);
    expect(stats.limits?.maxStorageBufferBindingSize).toBeGreaterThan(0);

    await engine.load(`${base}/llama`);
    expect(account.liveBuffers).toBeGreaterThan(0);
    for (const policy of ['dense', 'h2o:budget=8,recent=4', 'quest:budget=8', 'dense']) await gen(policy);
    const used = await engine.stats();
    expect(used.model?.kvPeakBytes).toBeGreaterThan(0);
    expect(used.gpu?.peakBytes).toBeGreaterThanOrEqual(used.gpu?.liveBytes ?? Infinity);

    // A switch frees the old model before the new one is built: the peak of the switch never holds both.
    const before = account.liveBytes;
    account.resetPeak();
    await engine.load(`${base}/qwen3`);
    expect(account.peakBytes).toBeLessThan(before + account.liveBytes);
    await gen('dense');
    await expect(engine.load(`${base}/broken`)).rejects.toMatchObject({ code: 'BAD_MODEL_FILE' });
    expect(account.liveBuffers).toBe(0);
    expect((await engine.stats()).model).toBeNull();

    await engine.load(`${base}/llama`);
    await gen('h2o:budget=8,recent=4');
    await engine.unload();
    expect(account.liveBuffers).toBe(0);
    expect(account.liveBytes).toBe(0);
  }, LOADS_A_MODEL_MS);

  it('the context is what kvMemory holds: CONTEXT_FULL before prefill, length when a reply fills it; the pool grows as it fills', async () => {
    const engine = new SieveEngine();
    await expect(engine.load(`${base}/llama`, undefined, { kvMemory: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    // The tiny model: 2 layers, 1 KV head of 4 dims, pages of 16 tokens: 576 bytes a page, 72 per token. 2304 bytes
    // hold 32 of its 128 trained positions. Growth steps of 1152 bytes: one page per layer, 16 tokens.
    await engine.load(`${base}/llama`, undefined, { kvMemory: 2304 + 500, kvGrowthBytes: 1152 });
    const stats = await engine.stats();
    // Honest from the start: the context is what kvMemory holds, the pool is what is allocated (one step).
    expect(stats.model).toMatchObject({ kvDtype: 'f32', contextLength: 32, kvPoolBytes: 1152, kvPoolLimitBytes: 2304, kvBytesPerToken: 72 });
    const prompt = [1, 5, 9, 3];
    await expect(engine.completion({ prompt, max_tokens: 40 })).rejects.toMatchObject({
      code: 'CONTEXT_FULL', details: { needed: 44, limit: 32 },
      message: expect.stringMatching(/max_tokens 40; what 2304 bytes of KV memory hold at 72 bytes per token; the model was trained for 128/),
    });
    // A reply outgrows the first step: the pool grows mid-decode under quest (its page bounds grow with it), then
    // dense decodes in the grown pool.
    const replies = async () => ({
      quest: (await engine.generate({ ids: [2, 7], maxTokens: 24, ignoreEos: true, attention: 'quest:budget=8' })).ids,
      dense: (await engine.generate({ ids: prompt, maxTokens: 28, ignoreEos: true })).ids,
    });
    const grown = await replies();
    expect(grown.quest).toHaveLength(24);
    expect((await engine.stats()).model).toMatchObject({ kvPoolBytes: 2304, kvPoolLimitBytes: 2304 });
    const full = await engine.completion({ prompt, temperature: 0, ignore_eos: true });
    expect(full?.choices[0].finish_reason).toBe('length');
    expect(full?.usage.completion_tokens).toBe(28);
    expect(full?.usage.context_length).toBe(32);
    // Nothing was lost: the engine goes on.
    const next = await engine.completion({ prompt, max_tokens: 3, temperature: 0 });
    expect(next?.usage.completion_tokens).toBeGreaterThan(0);

    // The same replies from a pool allocated whole at load: growth copied every cached byte.
    await engine.load(`${base}/llama`, undefined, { kvMemory: 2304 + 500 });
    expect((await engine.stats()).model?.kvPoolBytes).toBe(2304);
    expect(await replies()).toEqual(grown);

    // f16 K/V in the same kvMemory: 320 bytes a page (256 of K/V, 64 of positions), 40 per token, so 4 pages per
    // layer hold 64 positions, twice f32's 32; a reply that fills them ends with 'length' there.
    await expect(engine.load(`${base}/llama`, undefined, { kvDtype: 'bf16' as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/kvDtype/) });
    await engine.load(`${base}/llama`, undefined, { kvMemory: 2304 + 500, kvDtype: 'f16' });
    expect((await engine.stats()).model).toMatchObject({ kvDtype: 'f16', contextLength: 64, kvPoolLimitBytes: 2560, kvBytesPerToken: 40 });
    const f16Full = await engine.completion({ prompt, temperature: 0, ignore_eos: true });
    expect(f16Full?.choices[0].finish_reason).toBe('length');
    expect(f16Full?.usage.completion_tokens).toBe(60);
    await engine.unload();
  }, LOADS_A_MODEL_MS);
});
