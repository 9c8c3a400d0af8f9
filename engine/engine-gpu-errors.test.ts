// GPU refusals are typed (issue 13 item 3): on Dawn (Node, SwiftShader), a weight the device cannot allocate fails the
// load with OUT_OF_GPU_MEMORY naming the tensor and its bytes, and a device whose limits the kernels exceed fails it
// with GPU_VALIDATION from pipeline creation; nothing stays allocated, and the engine then loads and answers as before.
// The same for what is made after the load: a policy's buffers and kernels, made at its first step (the request
// fails typed, the next one answers as a fresh run), and GpuWeights.upload's tensors (synchronous, answered later).
// First: puts WebGPU's globals (GPUBufferUsage, ...) in place before the engine's modules read them at import.
import { installNodeNavigatorGpu } from './gpu/node-webgpu.test-helper.ts';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountBuffers, createEngineDevice } from './gpu/index.ts';
import { GpuModel } from './runtime/index.ts';
import { SieveEngine } from './engine.ts';
import { tinyConfig, tinyTensors, writeCheckpoint } from './model/checkpoint.test-helper.ts';
import { expectedTensorShapes, parseHfConfig } from './model/index.ts';
import { loadModelFromPath } from './model/node.ts';
import { ReferenceModel } from './reference/index.ts';

/**
 * SwiftShader's largest allocation: a buffer of the adapter's maxBufferSize (1 GiB) fails in vkAllocateMemory with
 * VK_ERROR_OUT_OF_DEVICE_MEMORY (Dawn pads it past what the driver allocates at once), while the loader's and the
 * writer's limit checks let it through (it is not over the limit). 262,144 x 1,024 f32 is exactly that.
 */
const HUGE_VOCAB = 262_144;
const HUGE_HIDDEN = 1024;
const HUGE_BYTES = HUGE_VOCAB * HUGE_HIDDEN * 4;
/** Zeros streamed for the huge model's data: its first tensor's first pieces arrive, then the load stops. */
const ZERO_CHUNK = new Uint8Array(1 << 20);

let server: Server;
let base = '';
let tiny = '';

/**
 * A safetensors file whose header lists the huge model's tensors (embedding first) and whose data are zeros made as
 * they are sent: the engine allocates the embedding at its first piece, so the file never needs to exist.
 */
function hugeModelHeader(): { config: Record<string, unknown>; header: Buffer; dataBytes: number } {
  const config = tinyConfig('llama', { vocab_size: HUGE_VOCAB, hidden_size: HUGE_HIDDEN, head_dim: HUGE_HIDDEN / 2, intermediate_size: 16, num_hidden_layers: 1 });
  const { required } = expectedTensorShapes(parseHfConfig(config, 'config.json'));
  const names = ['model.embed_tokens.weight', ...[...required.keys()].filter((n) => n !== 'model.embed_tokens.weight')];
  const entries: Record<string, unknown> = {};
  let at = 0;
  for (const name of names) {
    const shape = required.get(name) as number[];
    const bytes = shape.reduce((a, b) => a * b, 1) * 4;
    entries[name] = { dtype: 'F32', shape, data_offsets: [at, at + bytes] };
    at += bytes;
  }
  let json = JSON.stringify(entries);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const header = Buffer.alloc(8 + json.length);
  header.writeBigUInt64LE(BigInt(json.length), 0);
  header.write(json, 8, 'utf8');
  return { config, header, dataBytes: at };
}

beforeAll(async () => {
  tiny = await writeCheckpoint({ config: tinyConfig('llama'), tensors: tinyTensors('llama') });
  const huge = hugeModelHeader();
  server = createServer((req, res) => {
    const [, name, ...rest] = (req.url ?? '').split('/');
    const file = normalize(rest.join('/'));
    if (name === 'huge' && file === 'config.json') {
      res.writeHead(200, { connection: 'close' }).end(JSON.stringify(huge.config));
    } else if (name === 'huge' && file === 'model.safetensors') {
      res.writeHead(200, { 'content-length': huge.header.byteLength + huge.dataBytes, connection: 'close' });
      res.write(huge.header);
      let sent = 0;
      const more = () => {
        while (sent < huge.dataBytes && !res.destroyed) {
          const n = Math.min(ZERO_CHUNK.byteLength, huge.dataBytes - sent);
          sent += n;
          if (!res.write(ZERO_CHUNK.subarray(0, n))) { res.once('drain', more); return; }
        }
        res.end();
      };
      more();
    } else if (name === 'tiny' && !file.startsWith('..')) {
      readFile(join(tiny, file)).then(
        (bytes) => res.writeHead(200, { 'content-length': bytes.byteLength, connection: 'close' }).end(bytes),
        () => res.writeHead(404, { connection: 'close' }).end(),
      );
    } else {
      res.writeHead(404, { connection: 'close' }).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  installNodeNavigatorGpu();
  // The next device made while `defaultLimitsOnce` is set gets WebGPU's default limits, not the adapter's: kernels
  // that bind more storage buffers or workgroup memory than those defaults cannot be made on it.
  const gpu = navigator.gpu;
  const requestAdapter = gpu.requestAdapter.bind(gpu);
  gpu.requestAdapter = (async (options?: GPURequestAdapterOptions) => {
    const adapter = await requestAdapter(options);
    if (!adapter || !defaultLimitsOnce) return adapter;
    defaultLimitsOnce = false;
    const requestDevice = adapter.requestDevice.bind(adapter);
    adapter.requestDevice = ((descriptor?: GPUDeviceDescriptor) => requestDevice({ ...descriptor, requiredLimits: {} })) as GPUAdapter['requestDevice'];
    return adapter;
  }) as GPU['requestAdapter'];
});

let defaultLimitsOnce = false;

afterAll(() => {
  server?.closeAllConnections();
  server?.close();
});

const PROMPT = [1, 5, 9, 3];
const REPLY_TOKENS = 6;

/** The tiny model's greedy ids through the engine. */
async function engineIds(engine: SieveEngine): Promise<number[]> {
  return (await engine.generate({ ids: PROMPT, maxTokens: REPLY_TOKENS, ignoreEos: true })).ids;
}

/** The same from the CPU reference forward (the oracle: a model the engine could not have damaged). */
async function referenceIds(): Promise<number[]> {
  const model = await loadModelFromPath(tiny);
  const reference = new ReferenceModel(model.config, model.weights);
  const vocab = model.config.vocabSize;
  const argmax = (row: Float32Array) => row.reduce((best, v, i) => (v > row[best] ? i : best), 0);
  let next = argmax(reference.prefill(PROMPT).subarray((PROMPT.length - 1) * vocab));
  const ids = [next];
  while (ids.length < REPLY_TOKENS) ids.push(next = argmax(reference.decode(next)));
  return ids;
}

describe('GPU refusals', () => {
  it('a weight the device cannot allocate is OUT_OF_GPU_MEMORY with its bytes; nothing stays, the engine answers as before', async () => {
    const engine = new SieveEngine();
    const failed = engine.load(`${base}/huge`);
    await expect(failed).rejects.toMatchObject({
      name: 'OutOfGpuMemoryError', code: 'OUT_OF_GPU_MEMORY',
      details: { bytes: HUGE_BYTES, what: expect.stringContaining('tensor model.embed_tokens.weight') },
      remedy: expect.stringContaining('smaller or quantized model'),
    });
    await expect(failed).rejects.toThrow(/VK_ERROR_OUT_OF_DEVICE_MEMORY/);
    // The load made the device: it held nothing before, and holds nothing after.
    const device = (engine as unknown as { device: { device: GPUDevice } }).device.device;
    const account = accountBuffers(device);
    expect(account.liveBuffers).toBe(0);
    expect((await engine.stats()).model).toBeNull();

    await engine.load(`${base}/tiny`);
    expect(await engineIds(engine)).toEqual(await referenceIds());
    await engine.unload();
    expect(account.liveBuffers).toBe(0);
  }, 300_000);

  it('kernels a device cannot make are GPU_VALIDATION from pipeline creation, and nothing stays allocated', async () => {
    defaultLimitsOnce = true;
    const engine = new SieveEngine();
    const failed = engine.load(`${base}/tiny`);
    await expect(failed).rejects.toMatchObject({ name: 'GpuValidationError', code: 'GPU_VALIDATION', remedy: expect.stringContaining('engine stays usable') });
    await expect(failed).rejects.toThrow(/kernels and working buffers/);
    // Dawn's own words: the pipeline layout of a kernel binding more storage buffers than the device allows.
    await expect(failed).rejects.toThrow(/The number of storage buffers \(\d+\) in the Compute stage exceeds the maximum per-stage limit \(8\)/);
    const device = (engine as unknown as { device: { device: GPUDevice } }).device.device;
    expect(device.limits.maxStorageBuffersPerShaderStage).toBe(8);
    expect(accountBuffers(device).liveBuffers).toBe(0);
    await expect(engine.completion({ prompt: PROMPT, max_tokens: 2 })).rejects.toMatchObject({ code: 'NOT_LOADED' });
  }, 300_000);

  /**
   * The device is asked for HUGE_BYTES (which SwiftShader refuses: VK_ERROR_OUT_OF_DEVICE_MEMORY) in place of the next
   * buffer labelled `label`: a real refusal by the real device, of a buffer the engine makes where it makes it.
   */
  function refuseNextBuffer(device: GPUDevice, label: string): { refused: () => boolean; restore: () => void } {
    const create = device.createBuffer;
    let refused = false;
    device.createBuffer = ((descriptor: GPUBufferDescriptor) => {
      if (refused || descriptor.label !== label) return create.call(device, descriptor);
      refused = true;
      return create.call(device, { ...descriptor, size: HUGE_BYTES });
    }) as GPUDevice['createBuffer'];
    return { refused: () => refused, restore: () => { device.createBuffer = create; } };
  }

  it("a policy's buffer the device refuses at its first step is OUT_OF_GPU_MEMORY; the next request answers as a fresh run", async () => {
    const engine = new SieveEngine();
    await engine.load(`${base}/tiny`);
    const device = (engine as unknown as { device: { device: GPUDevice } }).device.device;
    const account = accountBuffers(device);
    // An evicting policy (its scores) and a selecting one (Quest's page scores; every layer selects).
    for (const [spec, label] of [['h2o:budget=32', 'h2o-scores'], ['quest:budget=32,dense-layers=0', 'quest-scores']] as const) {
      const request = { ids: PROMPT, maxTokens: REPLY_TOKENS, ignoreEos: true, attention: spec };
      const expected = (await engine.generate(request)).ids;
      // A fresh policy (another spec in between), so the next request makes its state again.
      await engine.generate({ ...request, attention: 'dense' });
      const before = account.liveBuffers;
      const hook = refuseNextBuffer(device, label);
      const failed = engine.generate(request);
      await expect(failed, spec).rejects.toMatchObject({
        code: 'OUT_OF_GPU_MEMORY',
        details: { what: expect.stringMatching(/policy's buffers and kernels/), bytes: expect.any(Number) },
        remedy: expect.stringContaining('smaller or quantized model'),
      });
      await expect(failed).rejects.toThrow(/VK_ERROR_OUT_OF_DEVICE_MEMORY/);
      expect(((await failed.catch((e) => e)) as { details: { bytes: number } }).details.bytes).toBeGreaterThanOrEqual(HUGE_BYTES);
      hook.restore();
      expect(hook.refused()).toBe(true);
      // The refused state was dropped: the same request makes it again and answers as before, holding what it held.
      expect((await engine.generate(request)).ids, spec).toEqual(expected);
      await engine.generate({ ...request, attention: 'dense' });
      expect(account.liveBuffers, spec).toBe(before);
    }
    await engine.unload();
    expect(account.liveBuffers).toBe(0);
  }, 300_000);

  it('GpuWeights.upload (synchronous): a tensor the device refuses fails GpuModel.create typed, with nothing left', async () => {
    const engineDevice = await createEngineDevice();
    const loaded = await loadModelFromPath(tiny);
    const hook = refuseNextBuffer(engineDevice.device, 'model.layers.0.mlp.up_proj.weight');
    await expect(GpuModel.create(engineDevice, loaded)).rejects.toMatchObject({
      code: 'OUT_OF_GPU_MEMORY',
      details: { what: expect.stringContaining('tensor model.layers.0.mlp.up_proj.weight') },
    });
    hook.restore();
    expect(hook.refused()).toBe(true);
    expect(engineDevice.buffers.liveBuffers).toBe(0);
    const model = await GpuModel.create(engineDevice, loaded);
    await model.destroy();
    expect(engineDevice.buffers.liveBuffers).toBe(0);
    engineDevice.device.destroy();
  }, 300_000);
});
