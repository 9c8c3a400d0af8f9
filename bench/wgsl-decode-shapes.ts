// Node bench of the WGSL decoder on a real GPU (Dawn, the `webgpu` package): ms/token of whole decode steps on random
// models of real shapes, host encode time, and the bandwidth one large matvec reaches. Bundle it with esbuild (WGSL
// `?raw` as text: bench/build-node-bench.mjs) and run with `node wgsl-decode-shapes.mjs`; the H200 box has no node_modules.
//
// Usage: node wgsl-decode-shapes.mjs [model prefix | smoke] [f32,int8,int4] [out.json]. Measured figures (H200):
// bench/results/wgsl-decode-shapes-h200.json and the README's speed section. Host encoding in dawn.node (~10 us per
// dispatch with its passes and attention's bind-group lookups) bounds the small models; Chromium's WebGPU calls are
// cheaper, so these are upper bounds on host cost.
import { create, globals } from 'webgpu';
import { PagedAttention } from '../engine/attention/index.ts';
import { createEngineDevice } from '../engine/gpu/index.ts';
import { PagedKVCache } from '../engine/kv/index.ts';
import { layerWeight, ropeInverseFrequencies, ropeTable, type ModelConfig } from '../engine/model/index.ts';
import { countingEncoder, DecodeKernels, encodeDispatch, WgslDecoder, type DispatchCounts, type MatrixBuffer } from '../engine/decode/index.ts';

Object.assign(globalThis, globals);
const gpu = create([]);

type Format = 'f32' | 'int8' | 'int4';

/**
 * Weight uploads as f32 (what GpuWeights does), or as random symmetric block-32 codes in engine/quant's layout
 * (int8/int4: the matrices only, norms stay f32), without holding a CPU copy of a multi-GB model.
 */
function uploadRandom(device: GPUDevice, config: ModelConfig, oBias: boolean, format: Format = 'f32') {
  const c = config;
  const map = new Map<string, MatrixBuffer>();
  const block = new Float32Array(1 << 20);
  for (let i = 0; i < block.length; i++) block[i] = (Math.sin(i * 12.9898) * 43758.5453 % 1) * 0.05;
  const codeBlock = new Uint8Array(1 << 22);
  for (let i = 0; i < codeBlock.length; i++) codeBlock[i] = Math.floor(Math.abs(Math.sin(i * 78.233) * 43758.5453 % 1) * 256);
  const scaleBlock = new Float32Array(1 << 20).fill(0.004);
  let bytes = 0;
  const fill = (buffer: GPUBuffer, src: Float32Array<ArrayBuffer> | Uint8Array<ArrayBuffer>, count: number) => {
    for (let at = 0; at < count; at += src.length) device.queue.writeBuffer(buffer, at * src.BYTES_PER_ELEMENT, src, 0, Math.min(src.length, count - at));
  };
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const add = (name: string, shape: number[], offset = 0) => {
    const n = shape.reduce((a, b) => a * b, 1);
    if (format !== 'f32' && shape.length === 2) {
      const bits = format === 'int4' ? 4 : 8;
      const blocksPerRow = Math.ceil(shape[1] / 32);
      const codeBytes = shape[0] * blocksPerRow * 32 * bits / 8;
      const codes = device.createBuffer({ label: name, size: Math.ceil(codeBytes / 16) * 16, usage });
      fill(codes, codeBlock, codeBytes);
      const scales = device.createBuffer({ label: `${name} scales`, size: Math.ceil(shape[0] * blocksPerRow / 4) * 16, usage });
      fill(scales, scaleBlock, shape[0] * blocksPerRow);
      map.set(name, { buffer: codes, shape, quantized: { scales, zeroPoints: null, bits, blockSize: 32, blocksPerRow } });
      bytes += codeBytes + shape[0] * blocksPerRow * 4;
      return;
    }
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
  const embedBytes = format === 'f32' ? c.vocabSize * D * 4 : c.vocabSize * Math.ceil(D / 32) * (32 * (format === 'int4' ? 4 : 8) / 8 + 4);
  const streamed = bytes - embedBytes * (c.tieWordEmbeddings ? 0 : 1);
  return {
    get: (n: string) => map.get(n)!, has: (n: string) => map.has(n), bytes: streamed,
    destroy: () => { for (const w of map.values()) { w.buffer.destroy(); w.quantized?.scales.destroy(); } },
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
  shape('smoke', { vocabSize: 512, hiddenSize: 64, intermediateSize: 128, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16 }),
  shape('SmolLM2-135M', { vocabSize: 49152, hiddenSize: 576, intermediateSize: 1536, numLayers: 30, numHeads: 9, numKvHeads: 3 }),
  shape('Qwen2.5-0.5B', { architecture: 'qwen2', vocabSize: 151936, hiddenSize: 896, intermediateSize: 4864, numLayers: 24, numHeads: 14, numKvHeads: 2, attentionBias: true, rmsNormEps: 1e-6 }),
  shape('Llama-3.2-1B', { vocabSize: 128256, hiddenSize: 2048, intermediateSize: 8192, numLayers: 16, numHeads: 32, numKvHeads: 8 }),
  shape('Qwen3-1.7B', { architecture: 'qwen3', vocabSize: 151936, hiddenSize: 2048, intermediateSize: 6144, numLayers: 28, numHeads: 16, numKvHeads: 8, headDim: 128, qkNorm: true }),
];

const now = () => performance.now();

async function benchModel(device: GPUDevice, name: string, c: ModelConfig, steps: number, contextBefore: number, format: Format, rounds = 5) {
  const weights = uploadRandom(device, c, false, format);
  const maxTokens = contextBefore + 3 * steps * rounds + 64;
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
  const counts: DispatchCounts = { dispatches: 0, passes: 0 };
  // greedy: the id is chosen on the GPU and the next step embeds it (GpuModel.decodeGreedy's steps); only 8 bytes
  // would come back per step, so the readback is left out here.
  const encodeStep = (id: number, greedy: boolean) => {
    const t = now();
    const { cos, sin } = ropeTable(inv, position, 1);
    attention.beginStep(seq, { startPosition: position, numTokens: 1, cos, sin });
    if (!greedy) decoder.writeToken(id);
    counts.dispatches = 0;
    counts.passes = 0;
    const encoder = countingEncoder(device.createCommandEncoder(), counts);
    decoder.encodeStep(encoder, { greedy });
    if (!greedy) encoder.copyBufferToBuffer(decoder.logits, 0, staging, 0, c.vocabSize * 4);
    device.queue.submit([encoder.finish()]);
    encodeMs += now() - t;
    position += 1;
  };
  const readback = async () => {
    const encoder = device.createCommandEncoder();
    encoder.copyBufferToBuffer(decoder.logits, 0, staging, 0, c.vocabSize * 4);
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const l = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    return l;
  };
  // Context: decode steps without readback (the GPU queues them), then one readback.
  for (let i = 0; i < contextBefore; i++) encodeStep(i % 100, false);
  await readback();
  // Interleaved rounds (A B C, A B C, ...): synchronous steps as step-by-step generation runs them (step, read
  // logits, next); pipelined steps without readback (the GPU time per token); greedy on the GPU as decodeGreedy runs
  // (the id chosen by the argmax kernel, the queue kept full by encoding ahead).
  const syncs: number[] = [];
  const encodes: number[] = [];
  const pipes: number[] = [];
  const greedies: number[] = [];
  const greedyEncodes: number[] = [];
  for (let r = 0; r < rounds; r++) {
    encodeMs = 0;
    let t0 = now();
    for (let i = 0; i < steps; i++) {
      encodeStep(i % 100, false);
      const l = await readback();
      if (!Number.isFinite(l[0])) throw new Error('non-finite logits');
    }
    syncs.push((now() - t0) / steps);
    encodes.push(encodeMs / steps);
    t0 = now();
    for (let i = 0; i < steps; i++) encodeStep(i % 100, false);
    await readback();
    pipes.push((now() - t0) / steps);
    decoder.writeToken(1);
    encodeMs = 0;
    t0 = now();
    for (let i = 0; i < steps; i++) encodeStep(0, true);
    const l = await readback();
    greedies.push((now() - t0) / steps);
    greedyEncodes.push(encodeMs / steps);
    if (!Number.isFinite(l[0])) throw new Error('non-finite logits');
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const spread = (xs: number[]) => +((Math.max(...xs) - Math.min(...xs)) / median(xs)).toFixed(3);
  const syncMs = median(syncs);
  const hostEncodeMs = median(encodes);
  const pipelinedMs = median(pipes);
  const greedyMs = median(greedies);
  const greedyEncodeMs = median(greedyEncodes);
  const row = {
    model: name, format, layers: c.numLayers, weightGB: +(weights.bytes / 1e9).toFixed(3), context: position,
    msPerTokenSync: +syncMs.toFixed(3), msPerTokenPipelined: +pipelinedMs.toFixed(3), msPerTokenGpuGreedy: +greedyMs.toFixed(3),
    tokensPerSGpuGreedy: +(1000 / greedyMs).toFixed(0), hostEncodeMsPerToken: +hostEncodeMs.toFixed(3), greedyHostEncodeMsPerToken: +greedyEncodeMs.toFixed(3),
    rounds, syncSpread: spread(syncs), greedySpread: spread(greedies), greedyOverSync: +(syncMs / greedyMs).toFixed(2),
    dispatchesPerToken: counts.dispatches, passesPerToken: counts.passes, weightGBperSGreedy: +(weights.bytes / 1e6 / greedyMs).toFixed(0),
  };
  console.log(JSON.stringify(row));
  decoder.destroy();
  staging.destroy();
  weights.destroy();
  (cache as unknown as { destroy?: () => void }).destroy?.();
  return row;
}

/** GB/s of one quantized matvec (normed), codes + scales read once per dispatch. */
async function benchQuantMatvec(device: GPUDevice, out: number, inF: number, format: 'int8' | 'int4', reps: number) {
  const kernels = new DecodeKernels(device, 1e-5);
  const mk = (floats: number) => device.createBuffer({ size: Math.ceil(floats / 4) * 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  const x = mk(inF);
  device.queue.writeBuffer(x, 0, new Float32Array(inF).fill(0.5));
  const norm = mk(inF);
  device.queue.writeBuffer(norm, 0, new Float32Array(inF).fill(1));
  const bits = format === 'int4' ? 4 : 8;
  const blocksPerRow = Math.ceil(inF / 32);
  const codeBytes = out * blocksPerRow * 32 * bits / 8;
  const a: MatrixBuffer = { buffer: mk(codeBytes / 4), shape: [out, inF], quantized: { scales: mk(out * blocksPerRow), zeroPoints: null, bits: bits as 4 | 8, blockSize: 32, blocksPerRow } };
  const y = mk(out);
  const d = kernels.quantMatvec('q', 'normed', { x, norm, a, out: y });
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
  const bytes = codeBytes + out * blocksPerRow * 4;
  const row = { matvec: `${out}x${inF}`, format, GBperS: +(bytes / 1e6 / ms).toFixed(0), us: +(ms * 1000).toFixed(1) };
  console.log(JSON.stringify(row));
  a.buffer.destroy();
  a.quantized?.scales.destroy();
  kernels.destroy();
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
  const adapter = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ');
  console.log(`adapter: ${adapter}`);
  const only = process.argv[2] ?? '';
  const formats = (process.argv[3] ?? 'f32').split(',') as Format[];
  const rows: unknown[] = [];
  // A 'smoke' run (argv[2]) checks the bench on a software adapter: a tiny model, no large matvecs.
  if (only !== 'smoke') {
    for (const [o, i] of [[14336, 4096], [4096, 4096], [1024, 4096], [128256, 2048]]) rows.push(await benchMatvec(device, o, i, 50));
    for (const [o, i] of [[14336, 4096], [128256, 2048]]) for (const f of ['int8', 'int4'] as const) rows.push(await benchQuantMatvec(device, o, i, f, 50));
  }
  for (const [name, c] of SHAPES) {
    if (only ? !name.startsWith(only) : name === 'smoke') continue;
    for (const format of formats) rows.push(name === 'smoke' ? await benchModel(device, name, c, 3, 4, format) : await benchModel(device, name, c, 64, 512, format));
  }
  const out = process.argv[4];
  if (out) (await import('node:fs')).writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), adapter, rows }, null, 2));
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
