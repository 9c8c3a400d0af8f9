// Node bench of the WGSL decoder on a real GPU (Dawn, the `webgpu` package): ms/token of whole decode steps on random
// models of real shapes, host encode time, and the bandwidth one large matvec reaches. Bundle it with esbuild (WGSL
// `?raw` as text: bench/build-node-bench.mjs) and run with `node wgsl-decode-shapes.mjs`; the H200 box has no node_modules.
//
// Measured 2026-11-28, one H200, dawn.node 0.6.2 over Vulkan (NVIDIA 580.159), f32 random weights, 640-token context:
//   matvec (GB/s of weights read; us per dispatch)     normed        normedGated (2 matrices)  residual
//     14336 x 4096                                     2211 (106)    3230 (146)                2865 (82)
//     4096 x 4096                                      909 (74)      2256 (60)                 1770 (38)
//     1024 x 4096                                      552 (30)      1087 (31)                 721 (23)
//     128256 x 2048 (an LM head)                       2711 (388)    4225 (497)                3796 (277)
//   whole decode step, ms/token: synchronous (step, read logits, next) / pipelined (no readback between) / host encode
//     SmolLM2-135M shape, 30 layers, 0.54 GB          7.5 / 3.5 / 3.7   (ORT path: 31 runs x ~0.5 ms = ~15.5 ms host)
//     Qwen2.5-0.5B shape, 24 layers, 2.0 GB           7.5 / 4.0 / 2.9
//     Llama-3.2-1B shape, 16 layers, 4.9 GB           6.1 / 3.2 / 2.1   (1.55 TB/s of weights when pipelined)
//     Qwen3-1.7B shape, 28 layers, 6.9 GB             10.9 / 6.1 / 3.4
// Host encoding in dawn.node (~20 us per dispatch with its passes and attention's bind-group lookups) bounds the
// small models; Chromium's WebGPU calls are cheaper, so these are upper bounds on host cost.
import { create, globals } from 'webgpu';
import { PagedAttention } from '../engine/attention/index.ts';
import { createEngineDevice } from '../engine/gpu/index.ts';
import { PagedKVCache } from '../engine/kv/index.ts';
import { layerWeight, ropeInverseFrequencies, ropeTable, type ModelConfig } from '../engine/model/index.ts';
import { DecodeKernels, encodeDispatch } from '../engine/decode/index.ts';
import { WgslDecoder } from '../engine/decode/index.ts';

Object.assign(globalThis, globals);
const gpu = create([]);

/** Weight uploads as f32 (what GpuWeights does), without holding a CPU copy of a multi-GB model. */
function uploadRandom(device: GPUDevice, config: ModelConfig, oBias: boolean) {
  const c = config;
  const map = new Map<string, { buffer: GPUBuffer; shape: number[] }>();
  const block = new Float32Array(1 << 20);
  for (let i = 0; i < block.length; i++) block[i] = (Math.sin(i * 12.9898) * 43758.5453 % 1) * 0.05;
  let bytes = 0;
  const add = (name: string, shape: number[], offset = 0) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const buffer = device.createBuffer({ label: name, size: Math.ceil(n / 4) * 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    const src = offset ? block.map((v) => v + offset) : block;
    for (let at = 0; at < n; at += block.length) {
      const len = Math.min(block.length, n - at);
      device.queue.writeBuffer(buffer, at * 4, src, 0, len);
    }
    map.set(name, { buffer, shape });
    bytes += n * 4;
  };
  const D = c.hiddenSize;
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  add('model.embed_tokens.weight', [c.vocabSize, D]);
  add('model.norm.weight', [D], 1);
  if (!c.tieWordEmbeddings) add('lm_head.weight', [c.vocabSize, D]);
  for (let l = 0; l < c.numLayers; l++) {
    const w = (s: string, shape: number[], offset = 0) => add(layerWeight(l, s), shape, offset);
    w('input_layernorm.weight', [D], 1);
    w('post_attention_layernorm.weight', [D], 1);
    w('self_attn.q_proj.weight', [qDim, D]);
    w('self_attn.k_proj.weight', [kvDim, D]);
    w('self_attn.v_proj.weight', [kvDim, D]);
    w('self_attn.o_proj.weight', [D, qDim]);
    if (c.attentionBias) for (const [p, n] of [['q', qDim], ['k', kvDim], ['v', kvDim]] as const) w(`self_attn.${p}_proj.bias`, [n]);
    if (oBias) w('self_attn.o_proj.bias', [D]);
    if (c.qkNorm) for (const p of ['q', 'k']) w(`self_attn.${p}_norm.weight`, [c.headDim], 1);
    w('mlp.gate_proj.weight', [c.intermediateSize, D]);
    w('mlp.up_proj.weight', [c.intermediateSize, D]);
    w('mlp.down_proj.weight', [D, c.intermediateSize]);
  }
  // Bytes a decode step reads: every weight once, the embedding row aside (lm_head reads it whole when tied).
  const streamed = bytes - c.vocabSize * D * 4 * (c.tieWordEmbeddings ? 0 : 1);
  return {
    get: (n: string) => map.get(n)!, has: (n: string) => map.has(n), bytes: streamed,
    destroy: () => { for (const w of map.values()) w.buffer.destroy(); },
  };
}

function shape(name: string, o: Partial<ModelConfig>): [string, ModelConfig] {
  return [name, {
    architecture: 'llama', vocabSize: 0, hiddenSize: 0, intermediateSize: 0, numLayers: 0, numHeads: 0, numKvHeads: 0, headDim: 64,
    rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: null, ropeLayout: 'half', maxPositionEmbeddings: 4096, tieWordEmbeddings: true,
    attentionBias: false, qkNorm: false, bosTokenId: null, eosTokenIds: [], ...o,
  }];
}

const SHAPES: [string, ModelConfig][] = [
  shape('SmolLM2-135M', { vocabSize: 49152, hiddenSize: 576, intermediateSize: 1536, numLayers: 30, numHeads: 9, numKvHeads: 3 }),
  shape('Qwen2.5-0.5B', { architecture: 'qwen2', vocabSize: 151936, hiddenSize: 896, intermediateSize: 4864, numLayers: 24, numHeads: 14, numKvHeads: 2, attentionBias: true, rmsNormEps: 1e-6 }),
  shape('Llama-3.2-1B', { vocabSize: 128256, hiddenSize: 2048, intermediateSize: 8192, numLayers: 16, numHeads: 32, numKvHeads: 8 }),
  shape('Qwen3-1.7B', { architecture: 'qwen3', vocabSize: 151936, hiddenSize: 2048, intermediateSize: 6144, numLayers: 28, numHeads: 16, numKvHeads: 8, headDim: 128, qkNorm: true }),
];

const now = () => performance.now();

async function benchModel(device: GPUDevice, name: string, c: ModelConfig, steps: number, contextBefore: number) {
  const weights = uploadRandom(device, c, false);
  const maxTokens = contextBefore + steps + 64;
  const cache = new PagedKVCache(device, {
    numLayers: c.numLayers, numKvHeads: c.numKvHeads, headDim: c.headDim, maxTokensPerSequence: maxTokens,
    memoryBudgetBytes: 2 * c.numLayers * c.numKvHeads * c.headDim * 8 * (maxTokens + 64),
  });
  const attention = new PagedAttention(device, cache, { numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, ropeLayout: 'half', maxPrefillTokens: 1 });
  const decoder = new WgslDecoder(device, c, weights, attention);
  const staging = device.createBuffer({ size: c.vocabSize * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const inv = ropeInverseFrequencies(c);
  const seq = cache.createSequence();
  let position = 0;
  let encodeMs = 0;
  const encodeStep = (id: number) => {
    const t = now();
    const { cos, sin } = ropeTable(inv, position, 1);
    attention.beginStep(seq, { startPosition: position, numTokens: 1, cos, sin });
    decoder.writeToken(id);
    const encoder = device.createCommandEncoder();
    decoder.encodeStep(encoder);
    encoder.copyBufferToBuffer(decoder.logits, 0, staging, 0, c.vocabSize * 4);
    device.queue.submit([encoder.finish()]);
    encodeMs += now() - t;
    position += 1;
  };
  const readback = async () => {
    await staging.mapAsync(GPUMapMode.READ);
    const l = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    return l;
  };
  // Context: decode steps without readback (the GPU queues them), then one readback.
  for (let i = 0; i < contextBefore; i++) encodeStep(i % 100);
  await readback();
  // Synchronous steps, as generation runs them: step, read logits, next.
  encodeMs = 0;
  let t0 = now();
  for (let i = 0; i < steps; i++) {
    encodeStep(i % 100);
    const l = await readback();
    if (!Number.isFinite(l[0])) throw new Error('non-finite logits');
  }
  const syncMs = (now() - t0) / steps;
  const hostEncodeMs = encodeMs / steps;
  // Pipelined steps: no readback between them, so the GPU time per token shows (the queue keeps it busy).
  t0 = now();
  for (let i = 0; i < steps; i++) encodeStep(i % 100);
  await readback();
  const pipelinedMs = (now() - t0) / steps;
  const dispatches = 2 + c.numLayers * (5 + (c.qkNorm ? 1 : 0));
  const row = {
    model: name, layers: c.numLayers, weightGB: +(weights.bytes / 1e9).toFixed(3), context: position,
    msPerTokenSync: +syncMs.toFixed(3), msPerTokenPipelined: +pipelinedMs.toFixed(3), hostEncodeMsPerToken: +hostEncodeMs.toFixed(3),
    ownDispatchesPerToken: dispatches, weightGBperS: +(weights.bytes / 1e6 / pipelinedMs).toFixed(0),
  };
  console.log(JSON.stringify(row));
  decoder.destroy();
  staging.destroy();
  weights.destroy();
  return row;
}

async function benchMatvec(device: GPUDevice, out: number, inF: number, reps: number) {
  const kernels = new DecodeKernels(device, 1e-5);
  const mk = (floats: number) => device.createBuffer({ size: Math.ceil(floats / 4) * 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  const x = mk(inF);
  device.queue.writeBuffer(x, 0, new Float32Array(inF).fill(0.5));
  const norm = mk(inF);
  device.queue.writeBuffer(norm, 0, new Float32Array(inF).fill(1));
  const a = { buffer: mk(out * inF), shape: [out, inF] };
  const b = { buffer: mk(out * inF), shape: [out, inF] };
  const y = mk(out);
  const rows: Record<string, number> = {};
  for (const entry of ['normed', 'normedGated', 'residual'] as const) {
    const d = kernels.matvec(entry, entry, { x, norm, a, b, outA: y });
    const run = async (n: number) => {
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      for (let i = 0; i < n; i++) encodeDispatch(pass, d);
      pass.end();
      device.queue.submit([encoder.finish()]);
      const st = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      const e2 = device.createCommandEncoder();
      e2.copyBufferToBuffer(y, 0, st, 0, 16);
      device.queue.submit([e2.finish()]);
      await st.mapAsync(GPUMapMode.READ);
      st.destroy();
    };
    await run(3);
    const t0 = now();
    await run(reps);
    const ms = (now() - t0) / reps;
    const bytes = out * inF * 4 * (entry === 'normedGated' ? 2 : 1);
    rows[`${entry}GBperS`] = +(bytes / 1e6 / ms).toFixed(0);
    rows[`${entry}Us`] = +(ms * 1000).toFixed(1);
  }
  const row = { matvec: `${out}x${inF}`, ...rows };
  console.log(JSON.stringify(row));
  a.buffer.destroy();
  b.buffer.destroy();
  kernels.destroy();
  return row;
}

async function main() {
  const engine = await createEngineDevice(gpu as unknown as GPU);
  const device = engine.device;
  const info = engine.adapterInfo;
  console.log(`adapter: ${[info.vendor, info.architecture, info.description].filter(Boolean).join(' ')}`);
  const only = process.argv[2] ?? '';
  for (const [o, i] of [[14336, 4096], [4096, 4096], [1024, 4096], [128256, 2048]]) await benchMatvec(device, o, i, 50);
  for (const [name, c] of SHAPES) {
    if (only && !name.startsWith(only)) continue;
    await benchModel(device, name, c, 64, 512);
  }
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
