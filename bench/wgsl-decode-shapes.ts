// Node bench of the WGSL decoder on a real GPU (Dawn, the `webgpu` package): ms/token of whole decode steps on random
// models of real shapes in every weight format, host encode time, dispatches and passes per token, the bandwidth
// the matvecs reach against a plain WGSL read of a large buffer, the floor of a step and its ratio to it, and f16's
// correctness on the golden checkpoints against transformers (through the engine's own f16 load path). f16 weights are
// packed pairs read with core WGSL (engine/quant/f16.ts), so every row runs on every adapter, shader-f16 or not. Bundle it with esbuild (WGSL `?raw` as text:
// bench/build-node-bench.mjs) and run with `node wgsl-decode-shapes.mjs`; the H200 box has no node_modules.
//
// Usage: node wgsl-decode-shapes.mjs [model prefix | smoke] [f32,f16,int8,int4] [out.json] [budget seconds].
// The JSON is rewritten after every row, so a run stopped by its budget keeps what it measured. Measured figures
// (H200): bench/results/wgsl-decode-shapes-h200.json and the README's decode section.
//
// floor = max(host encode time, dispatches x an empty dispatch's time) + bytes read / read bandwidth, each measured
// in this run: what a step would cost if every dispatch were free of anything but its launch and its bytes.
// First: WebGPU's globals (GPUBufferUsage, ...) before engine/runtime reads them at load time (and Dawn's flags).
import { nodeGpu } from './node-webgpu-globals.ts';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PagedAttention } from '../engine/attention/index.ts';
import { createEngineDevice } from '../engine/gpu/index.ts';
import { PagedKVCache } from '../engine/kv/index.ts';
import { ropeInverseFrequencies, ropeTable, type ModelConfig } from '../engine/model/index.ts';
import { loadModelFromPath } from '../engine/model/node.ts';
import { GpuWeights } from '../engine/runtime/index.ts';
import { countingEncoder, DecodeKernels, encodeDispatch, WgslDecoder, type DispatchCounts, type MatrixBuffer, type StepTimestamps } from '../engine/decode/index.ts';
import readBandwidthSource from './read-bandwidth.wgsl?raw';
import { blockFormatOf, modelShape as shape, uploadRandom, type Format } from './random-gpu-weights.ts';

const gpu = nodeGpu;

const SHAPES: [string, ModelConfig][] = [
  shape('smoke', { vocabSize: 512, hiddenSize: 64, intermediateSize: 128, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16 }),
  shape('SmolLM2-135M', { vocabSize: 49152, hiddenSize: 576, intermediateSize: 1536, numLayers: 30, numHeads: 9, numKvHeads: 3 }),
  shape('Qwen2.5-0.5B', { architecture: 'qwen2', vocabSize: 151936, hiddenSize: 896, intermediateSize: 4864, numLayers: 24, numHeads: 14, numKvHeads: 2, attentionBias: true, rmsNormEps: 1e-6 }),
  shape('Llama-3.2-1B', { vocabSize: 128256, hiddenSize: 2048, intermediateSize: 8192, numLayers: 16, numHeads: 32, numKvHeads: 8 }),
  shape('Qwen3-1.7B', { architecture: 'qwen3', vocabSize: 151936, hiddenSize: 2048, intermediateSize: 6144, numLayers: 28, numHeads: 16, numKvHeads: 8, headDim: 128, qkNorm: true }),
];

const now = () => performance.now();

/** What the floor needs, measured once per run. */
interface Yardstick {
  /** GB/s of read-bandwidth.wgsl streaming a 1 GiB buffer. */
  readGBperS: number;
  /** GB/s of copyBufferToBuffer (bytes copied per second) over the same size. */
  copyGBperS: number;
  /** ms of one empty dispatch, from 4,000 in one pass. */
  emptyDispatchMs: number;
}

async function gpuMs(device: GPUDevice, encode: (encoder: GPUCommandEncoder) => void, reps: number): Promise<number> {
  const once = async (n: number) => {
    const encoder = device.createCommandEncoder();
    for (let i = 0; i < n; i++) encode(encoder);
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
  };
  await once(2);
  const t0 = now();
  await once(reps);
  return (now() - t0) / reps;
}

async function yardstick(device: GPUDevice, smoke: boolean): Promise<Yardstick> {
  const bytes = smoke ? 1 << 22 : 1 << 30;
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const src = device.createBuffer({ size: bytes, usage });
  const dst = device.createBuffer({ size: bytes, usage });
  const workgroups = 132 * 16;
  const sink = device.createBuffer({ size: workgroups * 4, usage });
  const module = device.createShaderModule({ code: readBandwidthSource });
  const read = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'stream', constants: { WORKGROUPS: workgroups, VEC4S: bytes / 16 } } });
  const empty = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'empty', constants: { WORKGROUPS: 1, VEC4S: 1 } } });
  const group = device.createBindGroup({ layout: read.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: src } }, { binding: 1, resource: { buffer: sink } }] });
  const emptyGroup = device.createBindGroup({ layout: empty.getBindGroupLayout(0), entries: [] });
  const reps = smoke ? 2 : 20;
  const readMs = await gpuMs(device, (e) => {
    const pass = e.beginComputePass();
    pass.setPipeline(read);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(workgroups);
    pass.end();
  }, reps);
  const copyMs = await gpuMs(device, (e) => e.copyBufferToBuffer(src, 0, dst, 0, bytes), reps);
  const n = smoke ? 50 : 4000;
  const emptyMs = await gpuMs(device, (e) => {
    const pass = e.beginComputePass();
    pass.setPipeline(empty);
    pass.setBindGroup(0, emptyGroup);
    for (let i = 0; i < n; i++) pass.dispatchWorkgroups(1);
    pass.end();
  }, 2) / n;
  for (const b of [src, dst, sink]) b.destroy();
  const row = { readGBperS: +(bytes / 1e6 / readMs).toFixed(0), copyGBperS: +(bytes / 1e6 / copyMs).toFixed(0), emptyDispatchMs: +emptyMs.toFixed(5) };
  console.log(JSON.stringify({ yardstick: row }));
  return row;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs: number[]) => +((Math.max(...xs) - Math.min(...xs)) / median(xs)).toFixed(3);

async function benchModel(device: GPUDevice, name: string, c: ModelConfig, steps: number, contextBefore: number, format: Format, ys: Yardstick, rounds = 5) {
  const weights = uploadRandom(device, c, format);
  const maxTokens = contextBefore + 2 * steps * rounds + 64;
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
  // greedy: the id is chosen on the GPU and the next step embeds it (GpuModel.decodeStream's steps); only 8 bytes
  // would come back per step, so the readback is left out here.
  const encodeStepWith = (id: number, greedy: boolean, after?: (encoder: GPUCommandEncoder) => void, timestamps?: StepTimestamps) => {
    const t = now();
    const { cos, sin } = ropeTable(inv, position, 1);
    attention.beginStep(seq, { startPosition: position, numTokens: 1, cos, sin });
    if (!greedy) decoder.writeToken(id);
    counts.dispatches = 0;
    counts.passes = 0;
    const encoder = countingEncoder(device.createCommandEncoder(), counts);
    decoder.encodeStep(encoder, { greedy, timestamps });
    after?.(encoder);
    device.queue.submit([encoder.finish()]);
    encodeMs += now() - t;
    position += 1;
  };
  const encodeStep = (id: number, greedy: boolean) => encodeStepWith(id, greedy);
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
  // Interleaved rounds (A B, A B, ...): A greedy on the GPU as decodeStream runs it (the id chosen by the argmax
  // kernel, the queue kept full by encoding ahead); B synchronous steps as step-by-step generation runs them.
  const syncs: number[] = [];
  const encodes: number[] = [];
  const greedies: number[] = [];
  const greedyEncodes: number[] = [];
  for (let r = 0; r < rounds; r++) {
    decoder.writeToken(1);
    encodeMs = 0;
    let t0 = now();
    for (let i = 0; i < steps; i++) encodeStep(0, true);
    const l = await readback();
    greedies.push((now() - t0) / steps);
    greedyEncodes.push(encodeMs / steps);
    if (!Number.isFinite(l[0])) throw new Error('non-finite logits');
    encodeMs = 0;
    t0 = now();
    for (let i = 0; i < steps; i++) {
      encodeStep(i % 100, false);
      const l2 = await readback();
      if (!Number.isFinite(l2[0])) throw new Error('non-finite logits');
    }
    syncs.push((now() - t0) / steps);
    encodes.push(encodeMs / steps);
  }
  // The counts of an ordinary step (the profiled ones below have a pass per kernel).
  const stepCounts = { ...counts };
  const gpu = device.features.has('timestamp-query') ? await profileSteps(device, decoder, encodeStepWith, rounds > 2 ? rounds : 1) : null;
  const syncMs = median(syncs);
  const greedyMs = median(greedies);
  const hostMs = median(greedyEncodes);
  const readMs = ys.readGBperS > 0 ? weights.bytes / 1e6 / ys.readGBperS : 0;
  const floorMs = Math.max(hostMs, stepCounts.dispatches * ys.emptyDispatchMs) + readMs;
  const row = {
    model: name, format, layers: c.numLayers, weightGB: +(weights.bytes / 1e9).toFixed(3), context: position,
    msPerTokenGpuGreedy: +greedyMs.toFixed(3), tokensPerSGpuGreedy: +(1000 / greedyMs).toFixed(0), msPerTokenSync: +syncMs.toFixed(3),
    greedyOverSync: +(syncMs / greedyMs).toFixed(2), rounds, stepsPerRound: steps, greedySpread: spread(greedies), syncSpread: spread(syncs),
    dispatchesPerToken: stepCounts.dispatches, passesPerToken: stepCounts.passes, hostEncodeMsPerToken: +hostMs.toFixed(3),
    hostEncodeUsPerDispatch: +(hostMs * 1000 / stepCounts.dispatches).toFixed(2), syncHostEncodeMsPerToken: +median(encodes).toFixed(3),
    weightGBperSGreedy: +(weights.bytes / 1e6 / greedyMs).toFixed(0), weightReadMsAtBandwidth: +readMs.toFixed(3),
    floorMs: +floorMs.toFixed(3), overFloor: +(greedyMs / floorMs).toFixed(2),
    gpu,
  };
  console.log(JSON.stringify(row));
  decoder.destroy();
  staging.destroy();
  weights.destroy();
  (cache as unknown as { destroy?: () => void }).destroy?.();
  return row;
}

/**
 * Where a step's GPU time goes (timestamp-query): per round, one greedy step timed as its one pass (what a step costs
 * the GPU) and one with every kernel in a timed pass of its own (WgslDecoder's profiled steps); medians over rounds of
 * the one-pass time, of each kind's total per step (qkv over all layers, ...) and of the kernels' sum. The one pass
 * against the kernels' sum says how much the barriers between dependent dispatches hide or add; the kernels' kinds
 * say which dispatches a step's time sits in (the attention at short context, small matvecs short of workgroups).
 */
async function profileSteps(device: GPUDevice, decoder: WgslDecoder, encodeStepWith: (id: number, greedy: boolean, after?: (encoder: GPUCommandEncoder) => void, timestamps?: StepTimestamps) => void, rounds: number) {
  const c = decoder.config;
  const passes = 1 + 5 * c.numLayers + 2; // embed, 5 a layer, head, argmax
  const count = 2 * (passes + c.numLayers); // room for q apart from k/v (a device short of storage bindings)
  const querySet = device.createQuerySet({ type: 'timestamp', count });
  const resolve = device.createBuffer({ size: count * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const read = device.createBuffer({ size: count * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const timed = async (perKernel: boolean) => {
    const t: StepTimestamps = { querySet, perKernel, kinds: [] };
    let n = 2;
    encodeStepWith(0, true, (encoder) => {
      if (perKernel) n = 2 * t.kinds.length;
      encoder.resolveQuerySet(querySet, 0, n, resolve, 0);
      encoder.copyBufferToBuffer(resolve, 0, read, 0, n * 8);
    }, t);
    await read.mapAsync(GPUMapMode.READ, 0, n * 8);
    const ticks = new BigUint64Array(read.getMappedRange(0, n * 8).slice(0));
    read.unmap();
    const us = (i: number) => Number(ticks[2 * i + 1] - ticks[2 * i]) / 1000;
    return { kinds: t.kinds, us: perKernel ? t.kinds.map((_, i) => us(i)) : [us(0)] };
  };
  if (rounds > 1) await timed(true); // the profiled passes' pipelines are the step's, but warm the query path once (not on a smoke run)
  const whole: number[] = [];
  const sums: number[] = [];
  const byKind = new Map<string, { us: number[]; count: number }>();
  for (let r = 0; r < rounds; r++) {
    whole.push((await timed(false)).us[0]);
    const k = await timed(true);
    const perStep = new Map<string, number>();
    k.kinds.forEach((kind, i) => perStep.set(kind, (perStep.get(kind) ?? 0) + k.us[i]));
    for (const [kind, us] of perStep) {
      const e = byKind.get(kind) ?? { us: [], count: k.kinds.filter((x) => x === kind).length };
      e.us.push(us);
      byKind.set(kind, e);
    }
    sums.push(k.us.reduce((a, b) => a + b, 0));
  }
  querySet.destroy();
  resolve.destroy();
  read.destroy();
  const kernels = Object.fromEntries([...byKind].map(([kind, e]) => [kind, { usPerStep: +median(e.us).toFixed(1), perStep: e.count, usEach: +(median(e.us) / e.count).toFixed(2) }]));
  return { stepOnePassUs: +median(whole).toFixed(1), kernelPassesSumUs: +median(sums).toFixed(1), kernels };
}

/** GB/s of one matvec (normed, or gated for two matrices), weights (codes + scales) read once per dispatch. */
async function benchMatvec(device: GPUDevice, out: number, inF: number, format: Format, mode: 'normed' | 'gated', reps: number, ys: Yardstick) {
  const kernels = new DecodeKernels(device, 1e-5);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const mk = (bytes: number) => device.createBuffer({ size: Math.ceil(bytes / 16) * 16, usage });
  const x = mk(inF * 4);
  device.queue.writeBuffer(x, 0, new Float32Array(inF).fill(0.5));
  const norm = mk(inF * 4);
  device.queue.writeBuffer(norm, 0, new Float32Array(inF).fill(1));
  const matrix = (): { m: MatrixBuffer; bytes: number } => {
    const blocks = blockFormatOf(format, 'model.layers.1.mlp.up_proj.weight', 16);
    if (blocks) {
      const { bits, blockSize, mins } = blocks;
      const blocksPerRow = Math.ceil(inF / blockSize);
      const codeBytes = out * blocksPerRow * blockSize * bits / 8;
      const scaleBytes = out * blocksPerRow * 4 * (mins ? 2 : 1);
      return { m: { buffer: mk(codeBytes), shape: [out, inF], quantized: { scales: mk(scaleBytes), mins, bits, blockSize, blocksPerRow } }, bytes: codeBytes + scaleBytes };
    }
    const bytes = out * inF * (format === 'f16' ? 2 : 4);
    return { m: { buffer: mk(bytes), shape: [out, inF], f16: format === 'f16' }, bytes };
  };
  const mats = mode === 'gated' ? [matrix(), matrix()] : [matrix()];
  const y = mk(out * 4);
  const d = kernels.matvec(mode, mode, { x, norm, matrices: mats.map((m) => m.m), out: y });
  const ms = await gpuMs(device, (e) => {
    const pass = e.beginComputePass();
    encodeDispatch(pass, d);
    pass.end();
  }, reps);
  // One pass per dispatch above; the same dispatches in one pass, as a decode step encodes them.
  const inPassMs = await gpuMs(device, (e) => {
    const pass = e.beginComputePass();
    for (let i = 0; i < 10; i++) encodeDispatch(pass, d);
    pass.end();
  }, Math.max(1, reps / 10)) / 10;
  const bytes = mats.reduce((n, m) => n + m.bytes, 0);
  const best = Math.min(ms, inPassMs);
  const row = {
    matvec: `${out}x${inF}`, format, mode, us: +(best * 1000).toFixed(1), GBperS: +(bytes / 1e6 / best).toFixed(0),
    ofReadBandwidth: ys.readGBperS > 0 ? +(bytes / 1e6 / best / ys.readGBperS).toFixed(2) : null,
  };
  console.log(JSON.stringify(row));
  for (const m of mats) {
    m.m.buffer.destroy();
    m.m.quantized?.scales.destroy();
  }
  for (const b of [x, norm, y]) b.destroy();
  kernels.destroy();
  return row;
}

/**
 * f16 weights on a golden checkpoint, uploaded by the engine's writer (GpuWeights.upload, the streaming load's
 * converter): max |logit - transformers'| of f16 and f32 weights over `positions` decode steps, and f16 against f32.
 */
async function f16Correctness(device: GPUDevice, name: string, positions: number) {
  // The golden checkpoints (models/golden/<name>, random weights) and sieve-tiny (trained; its golden beside it).
  const folder = name === 'sieve-tiny' ? join(GOLDEN_DIR, '../sieve-tiny') : join(GOLDEN_DIR, name);
  const goldenFolder = name === 'sieve-tiny' ? join(folder, 'golden') : folder;
  const loaded = await loadModelFromPath(folder);
  const c = loaded.config;
  const ids = (JSON.parse(readFileSync(join(goldenFolder, 'ids.json'), 'utf8')) as number[]).slice(0, positions);
  // Transformers' logits where the carried tree has them (the device's copy left sieve-tiny's out in run 1): without
  // them the row compares f16 with f32 only.
  const goldenPath = join(goldenFolder, 'logits.f32');
  const raw = existsSync(goldenPath) ? readFileSync(goldenPath) : null;
  const golden = raw ? new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)) : null;
  const run = async (f16: boolean) => {
    const weights = GpuWeights.upload(device, loaded, undefined, f16 ? 'f16' : 'f32');
    const cache = new PagedKVCache(device, {
      numLayers: c.numLayers, numKvHeads: c.numKvHeads, headDim: c.headDim, maxTokensPerSequence: positions + 16,
      memoryBudgetBytes: 2 * c.numLayers * c.numKvHeads * c.headDim * 8 * (positions + 80),
    });
    const attention = new PagedAttention(device, cache, { numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, ropeLayout: c.ropeLayout, maxPrefillTokens: 1 });
    const decoder = new WgslDecoder(device, c, weights, attention);
    const staging = device.createBuffer({ size: c.vocabSize * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const inv = ropeInverseFrequencies(c);
    const seq = cache.createSequence();
    const all = new Float32Array(positions * c.vocabSize);
    for (let t = 0; t < positions; t++) {
      const { cos, sin } = ropeTable(inv, t, 1);
      attention.beginStep(seq, { startPosition: t, numTokens: 1, cos, sin });
      decoder.writeToken(ids[t]);
      const encoder = device.createCommandEncoder();
      decoder.encodeStep(encoder);
      encoder.copyBufferToBuffer(decoder.logits, 0, staging, 0, c.vocabSize * 4);
      device.queue.submit([encoder.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      all.set(new Float32Array(staging.getMappedRange()), t * c.vocabSize);
      staging.unmap();
    }
    decoder.destroy();
    staging.destroy();
    weights.destroy();
    return all;
  };
  const maxDiff = (a: Float32Array, b: Float32Array) => {
    let m = 0;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
    return m;
  };
  // Perplexity of the ids' next tokens, and argmax agreement with `ref` (transformers, or f32 without its logits).
  const quality = (l: Float32Array, ref: Float32Array) => {
    let nll = 0;
    let agree = 0;
    const V = c.vocabSize;
    for (let t = 0; t + 1 < positions; t++) {
      let max = -Infinity;
      let arg = 0;
      let gArg = 0;
      for (let i = 0; i < V; i++) {
        if (l[t * V + i] > max) { max = l[t * V + i]; arg = i; }
        if (ref[t * V + i] > ref[t * V + gArg]) gArg = i;
      }
      let sum = 0;
      for (let i = 0; i < V; i++) sum += Math.exp(l[t * V + i] - max);
      nll += Math.log(sum) + max - l[t * V + ids[t + 1]];
      if (arg === gArg) agree++;
    }
    return { perplexity: +Math.exp(nll / (positions - 1)).toFixed(4), argmaxAgreement: +(agree / (positions - 1)).toFixed(3) };
  };
  const f32 = await run(false);
  const f16 = await run(true);
  const row = {
    golden: name, positions, argmaxAgainst: golden ? 'transformers' : 'f32 (no transformers logits here)',
    f16: quality(f16, golden ?? f32), f32: quality(f32, golden ?? f32), transformers: golden ? quality(golden, golden) : null,
    f32VsTransformers: golden ? +maxDiff(f32, golden).toExponential(2) : null, f16VsTransformers: golden ? +maxDiff(f16, golden).toExponential(2) : null,
    f16VsF32: +maxDiff(f16, f32).toExponential(2), bound: F16_GOLDEN_BOUND, withinBound: maxDiff(f16, golden ?? f32) <= F16_GOLDEN_BOUND,
  };
  console.log(JSON.stringify(row));
  return row;
}

/**
 * Max |logit - transformers'| allowed with f16 weights on the golden checkpoints, as engine/decode/wgsl-decoder.test.ts
 * allows on SwiftShader (where it measured 2.4e-3 to 3.9e-3): f16 keeps 11 significant bits, so each weight moves by
 * up to 2^-12 of itself, ~1e-3 of logits of magnitude ~1 over the goldens' 2-4 layers; 1e-2 flags a kernel that
 * reads the wrong halves (errors ~1).
 */
const F16_GOLDEN_BOUND = 1e-2;
// From the repo root (where bench/h200 runs its segments), not beside the bundle.
const GOLDEN_DIR = process.env.SIEVE_GOLDEN_DIR ?? join(process.cwd(), 'models/golden');

async function main() {
  const started = now();
  const engine = await createEngineDevice(gpu as unknown as GPU);
  const device = engine.device;
  const info = engine.adapterInfo;
  const adapter = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ');
  console.log(`adapter: ${adapter}`);
  const only = process.argv[2] ?? '';
  const smoke = only === 'smoke';
  const hasF16 = device.features.has('shader-f16');
  const formats = (process.argv[3] ?? 'f32').split(',') as Format[];
  const outPath = process.argv[4];
  const budgetS = Number(process.argv[5] ?? Infinity);
  const left = () => budgetS - (now() - started) / 1000;
  const result: Record<string, unknown> = {
    date: new Date().toISOString(), adapter, how: HOW, shaderF16: hasF16,
    limits: { maxStorageBuffersPerShaderStage: device.limits.maxStorageBuffersPerShaderStage, maxComputeWorkgroupStorageSize: device.limits.maxComputeWorkgroupStorageSize },
    yardstick: null, matvec: [] as unknown[], models: [] as unknown[], f16Golden: [] as unknown[], errors: [] as string[],
  };
  const save = () => { if (outPath) writeFileSync(outPath, JSON.stringify(result, null, 2)); };
  const attempt = async (what: string, f: () => Promise<unknown>, list?: unknown[], needS = 0) => {
    if (left() < needS) {
      (result.errors as string[]).push(`${what}: skipped, ${left().toFixed(0)} s of the budget left`);
      save();
      return;
    }
    try {
      const row = await f();
      if (list) list.push(row);
    } catch (e) {
      (result.errors as string[]).push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
      console.error(what, e);
    }
    save();
  };
  const ys = await yardstick(device, smoke);
  result.yardstick = ys;
  save();
  // The shapes in the order the issue's targets need them: the models first, then f16's goldens, then the matvecs.
  const models = SHAPES.filter(([name]) => (smoke ? name === 'smoke' : only ? name.startsWith(only) : name === 'SmolLM2-135M' || name === 'Llama-3.2-1B'));
  const order: Format[] = ['f16', 'int4', 'f32', 'int8', 'q4km'];
  for (const [name, c] of models) {
    for (const format of order.filter((f) => formats.includes(f))) {
      await attempt(`${name} ${format}`, () => (smoke ? benchModel(device, name, c, 3, 4, format, ys, 2) : benchModel(device, name, c, 32, 256, format, ys)), result.models as unknown[], smoke ? 0 : 6);
    }
  }
  // f16's goldens before the matvecs: correctness first if the budget runs out.
  // sieve-tiny (trained, an f16 checkpoint: f16 storage keeps its weights exactly) over its 128-token golden prompt.
  const goldens: [string, number][] = smoke ? [['llama-gqa-untied', 4], ['sieve-tiny', 4]]
    : [['llama-gqa-untied', 40], ['llama3-rope', 40], ['qwen2', 40], ['qwen3', 40], ['sieve-tiny', 128]];
  if (formats.includes('f16')) for (const [g, n] of goldens) await attempt(`f16 golden ${g}`, () => f16Correctness(device, g, n), result.f16Golden as unknown[], 2);
  const matvecs: [number, number][] = smoke ? [[64, 128]] : [[14336, 4096], [128256, 2048]];
  for (const [o, i] of matvecs) {
    for (const format of formats.filter((f) => f !== 'q4km')) await attempt(`matvec ${o}x${i} ${format}`, () => benchMatvec(device, o, i, format, 'normed', smoke ? 2 : 50, ys), result.matvec as unknown[], 1);
  }
  if (!smoke) for (const format of formats.filter((f) => f !== 'q4km')) await attempt(`matvec 8192x2048 gated ${format}`, () => benchMatvec(device, 8192, 2048, format, 'gated', 50, ys), result.matvec as unknown[], 1);
  result.seconds = +((now() - started) / 1000).toFixed(1);
  save();
  process.exit(0);
}

const HOW = 'Node on Dawn (webgpu 0.6.2), bench/wgsl-decode-shapes.ts: random weights (f32, f16 as packed pairs, or random block codes: symmetric int8/int4 blocks of 32, the K-quant forms int4m/int8m (with mins) and int8b16, q4km their Q4_K_M mix), 256 decode steps of context first, then 5 interleaved rounds of 32 steps: A gpu-greedy (the argmax kernel chooses the id, the next step embeds it, the queue kept full), B sync (step, read logits back, next); medians, spread = (max - min) / median over the rounds of the same kind. floor = max(host encode, dispatches x empty dispatch) + weight bytes / read bandwidth (read-bandwidth.wgsl over 1 GiB), all from this run. matvec: the best of one dispatch per pass and ten in one pass, weights read once per dispatch.';

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
