// The segments on ORT Web's webgpu EP (Dawn in Node, SwiftShader) with weights bound as GPU buffers, as the engine
// binds them. Opt-in (SIEVE_ORT_WEBGPU=1): ORT's first webgpu run costs about 100 s of CPU on SwiftShader here.
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web/webgpu';
import { create, globals } from 'webgpu';
import { loadModelFromPath } from '../model/node.ts';
import { buildSegment, SEGMENT_TENSORS, segmentFeedNames, type SegmentKind, type SegmentShape } from './index.ts';
import { embedMath, headMath, layerMath, randomArray, scaledMaxError, seededRandom } from './segment-math.test-helper.ts';

const ENABLED = process.env.SIEVE_ORT_WEBGPU === '1';
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
/** Same bound as the wasm tests: GPU f32 sums differ from f64 ones by a few ulps. */
const SEGMENT_TOLERANCE = 1e-5;
const ORT_FIRST_RUN_TIMEOUT_MS = 600_000;

/**
 * One Dawn instance serves both navigator.gpu (ORT checks it exists) and our device: a second instance in the
 * same process crashed the test worker. dawn.node rejects writeBuffer from SharedArrayBuffer views (ORT's wasm
 * memory), so such writes are copied into a plain buffer first (DESIGN.md, "Where it runs").
 */
async function ortReadyDevice(): Promise<GPUDevice> {
  process.env.VK_ICD_FILENAMES ??= SWIFTSHADER_ICD;
  Object.assign(globalThis, globals);
  const gpu = create([]);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error(`No WebGPU adapter in Node: is libvulkan1 installed and ${SWIFTSHADER_ICD} present?`);
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize, maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    },
  });
  const queue = device.queue;
  const write = queue.writeBuffer.bind(queue);
  queue.writeBuffer = ((buffer: GPUBuffer, offset: number, data: BufferSource | SharedArrayBuffer, dataOffset = 0, size?: number) => {
    const view = ArrayBuffer.isView(data);
    const backing = view ? data.buffer : data;
    if (!(backing instanceof SharedArrayBuffer)) return write(buffer, offset, data as BufferSource, dataOffset, size);
    const element = view ? ((data as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1) : 1;
    const base = view ? data.byteOffset : 0;
    const start = dataOffset * element;
    const length = size !== undefined ? size * element : data.byteLength - start;
    return write(buffer, offset, new Uint8Array(backing, base + start, length).slice());
  }) as GPUQueue['writeBuffer'];
  return device;
}

describe.skipIf(!ENABLED)('segments on the webgpu EP (Dawn, SwiftShader)', () => {
  const sessions: ort.InferenceSession[] = [];
  afterAll(async () => {
    for (const s of sessions) await s.release();
  });

  it('embed, layer (every layer, n = 3 and n = 1) and head match the TypeScript math with GPU-buffer weights', async () => {
    ort.env.wasm.numThreads = 1;
    const device = await ortReadyDevice();
    const model = await loadModelFromPath(fileURLToPath(new URL('../../models/golden/qwen3/', import.meta.url)));
    const cfg = model.config;
    const get = (name: string) => model.weights.get(name);
    const has = (name: string) => model.weights.has(name);

    // Each weight uploaded once, bound by every session that needs it (the design under test).
    const buffers = new Map<string, GPUBuffer>();
    const weightTensor = (name: string): ort.Tensor => {
      const t = get(name);
      let buffer = buffers.get(name);
      if (!buffer) {
        buffer = device.createBuffer({ size: Math.ceil(t.data.byteLength / 16) * 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
        device.queue.writeBuffer(buffer, 0, t.data.buffer as ArrayBuffer, t.data.byteOffset, t.data.byteLength);
        buffers.set(name, buffer);
      }
      return ort.Tensor.fromGpuBuffer(buffer as never, { dataType: 'float32', dims: t.shape });
    };
    const run = async (kind: SegmentKind, shape: SegmentShape, layer: number, n: number, activations: Record<string, ort.Tensor>) => {
      const graph = buildSegment(cfg, kind, shape, has);
      const session = await ort.InferenceSession.create(graph.bytes, {
        executionProviders: [{ name: 'webgpu', device } as ort.InferenceSession.WebGpuExecutionProviderOption],
        graphOptimizationLevel: 'all',
      });
      sessions.push(session);
      const feeds = { ...activations };
      for (const [input, name] of Object.entries(segmentFeedNames(graph, layer))) feeds[input] = weightTensor(name);
      const out = await session.run(feeds);
      return Object.fromEntries(graph.outputs.map((o) => [o, out[o].data as Float32Array]));
    };
    const check = (actual: Float32Array, expected: Float32Array, what: string) => {
      const err = scaledMaxError(actual, expected);
      expect(err, `${what}: ${err}`).toBeLessThan(SEGMENT_TOLERANCE);
    };

    const rand = seededRandom(5);
    const D = cfg.hiddenSize, qDim = cfg.numHeads * cfg.headDim, V = cfg.vocabSize;
    const ids = new Int32Array([5, 17, 300]);
    const embed = await run('embed', {}, 0, 3, { [SEGMENT_TENSORS.ids]: new ort.Tensor('int32', ids, [3]) });
    const wantEmbed = embedMath(cfg, get, has, ids);
    check(embed[SEGMENT_TENSORS.hiddenOut], wantEmbed.hidden, 'embed hidden');
    check(embed[SEGMENT_TENSORS.q], wantEmbed.q, 'embed q');
    check(embed[SEGMENT_TENSORS.k], wantEmbed.k, 'embed k');
    check(embed[SEGMENT_TENSORS.v], wantEmbed.v, 'embed v');

    for (const [shape, layer, n] of [[{}, 1, 3], [{}, 0, 1]] as const) {
      const hidden = randomArray(rand, n * D);
      const attn = randomArray(rand, n * qDim);
      const acts = { [SEGMENT_TENSORS.hiddenIn]: new ort.Tensor('float32', hidden, [n, D]), [SEGMENT_TENSORS.attn]: new ort.Tensor('float32', attn, [n, qDim]) };
      const out = await run('layer', shape, layer, n, acts);
      const want = layerMath(cfg, get, has, layer, hidden, attn, n);
      check(out[SEGMENT_TENSORS.hiddenOut], want.hidden, `layer ${layer} hidden`);
      check(out[SEGMENT_TENSORS.q], want.q, `layer ${layer} q`);
      check(out[SEGMENT_TENSORS.k], want.k, `layer ${layer} k`);
      check(out[SEGMENT_TENSORS.v], want.v, `layer ${layer} v`);
    }

    const hidden = randomArray(rand, 3 * D);
    const attn = randomArray(rand, 3 * qDim);
    const head = await run('head', { lastOnly: true }, cfg.numLayers - 1, 3, {
      [SEGMENT_TENSORS.hiddenIn]: new ort.Tensor('float32', hidden, [3, D]), [SEGMENT_TENSORS.attn]: new ort.Tensor('float32', attn, [3, qDim]),
    });
    check(head[SEGMENT_TENSORS.logits], headMath(cfg, get, has, hidden, attn, 3).subarray(2 * V), 'head lastOnly logits');
  }, ORT_FIRST_RUN_TIMEOUT_MS);
});
