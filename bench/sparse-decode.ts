// bench/sparse-decode: decode attention and whole decode steps at long contexts on the Llama-3.2-1B shape, dense
// against the selecting policies (Quest, TidalDecode, Double Sparsity) at a budget of 2048, for each KV dtype (issue
// 14's KV targets), in Node on Dawn with random weights and a randomly filled paged cache.
//
// Build: node bench/build-node-bench.mjs; run: node .carry/node-bench/sparse-decode.mjs [--smoke]
//   [--contexts 16384,32768,130048] [--kv f16,f32] [--budget 2048] [--policies dense,quest,tidal,double-sparsity]
//   [--weights f16|f32] [--steps 8] [--rounds 5] [--seconds S] [--out FILE]
//   [--dense-variants serial,splits=64,splits=1024]
// Writes bench/results/sparse-decode.json (or --out), rewritten after every row. Not a test: numbers, no asserts.
//
// Why no prefill: a 128K prefill of the 1B shape is minutes of attention; decode's cost does not depend on the
// values in the cache, so bench/kv-fill.wgsl writes random K/V over the arenas and the sequence's counts are set to
// the context. The policies' metadata (Quest's page bounds, Double Sparsity's labels) of the filled tokens is then
// zero, not what a prefill would leave: their kernels' work is the same, their choices are not meaningful (their
// accuracy is tested against the CPU references elsewhere). Double Sparsity gets a synthetic calibration (channels
// in index order): which channels it reads does not change what it costs.
//
// Per (KV dtype, context), interleaved rounds A B C D, A B C D, ... (the median of --rounds):
//   attention: PagedAttention alone for every layer of a step (dense: encodeDecodeLayer, the decoder's dense path,
//     in one pass; a policy: encodeLayer with its estimator hooks), steps queued back to back; dense's KV bytes
//     per step over that time against the read bandwidth measured in this run (read-bandwidth.wgsl over 1 GiB);
//   step: the whole decode step (WgslDecoder.encodeStep, greedy on the GPU, steps queued as decodeStream runs them).
// ratioToDense of a policy is its time over dense's in the same round; spread = (max - min) / median over rounds.
// Dense attention's kernel candidates (attention only, in the same rounds): 'dense' is the engine's default on this
// adapter (decode-chunk 'lanes' on a GPU, DECODE_TARGET_SPLITS); 'dense[serial]' the CPU adapters' one-slot-per-thread
// split (the kernel of the 2026-12-04 runs, bar its merge), 'dense[splits=N]' the default with N splits per KV head at
// most. Each (KV dtype, context) names its fastest candidate in `denseWinners`.
import { writeFileSync } from 'node:fs';
import { argOf, openNodeBenchDevice } from './node-harness.ts';
import { createPolicy, PagedAttention, parseAttentionSpec, type AttentionPolicy } from '../engine/attention/index.ts';
import { CALIBRATION_FORMAT, CALIBRATION_VERSION, modelIdentity } from '../engine/calibration/index.ts';
import { decodeVariantFor, WgslDecoder } from '../engine/decode/index.ts';
import { KV_PAGE_SIZE, kvPageBytes, PagedKVCache, type KvDtype, KV_DTYPE_BYTES } from '../engine/kv/index.ts';
import { ropeInverseFrequencies, ropeTable, type ModelConfig } from '../engine/model/index.ts';
import kvFillSource from './kv-fill.wgsl?raw';
import { modelShape, uploadRandom } from './random-gpu-weights.ts';
import readBandwidthSource from './read-bandwidth.wgsl?raw';

const SMOKE = process.argv.includes('--smoke');
const LONGEST = 130048;
const CONTEXTS = argOf('--contexts', SMOKE ? '320' : `16384,32768,${LONGEST}`).split(',').map(Number);
const KV_DTYPES = argOf('--kv', 'f16,f32').split(',') as KvDtype[];
const BUDGET = Number(argOf('--budget', SMOKE ? '64' : '2048'));
const POLICIES = argOf('--policies', 'dense,quest,tidal,double-sparsity').split(',').map((p) => p.trim()).filter(Boolean);
const STEPS = Number(argOf('--steps', SMOKE ? '2' : '8'));
const ROUNDS = Number(argOf('--rounds', SMOKE ? '2' : '5'));
const SECONDS = Number(argOf('--seconds', 'Infinity'));
const OUT = argOf('--out', 'bench/results/sparse-decode.json');
/** Dense attention's candidates besides the default: 'serial' (the decode-chunk variant) or 'splits=N' (decodeTargetSplits). */
const DENSE_VARIANTS = argOf('--dense-variants', 'serial,splits=64,splits=1024').split(',').map((v) => v.trim()).filter(Boolean);
/** PagedAttention options of a dense candidate. */
function denseVariantOptions(variant: string): { decodeChunkVariant?: 'serial' | 'lanes'; decodeTargetSplits?: number } {
  if (variant === 'serial' || variant === 'lanes') return { decodeChunkVariant: variant };
  const m = /^splits=(\d+)$/.exec(variant);
  if (m) return { decodeTargetSplits: Number(m[1]) };
  throw new Error(`--dense-variants: unknown candidate ${JSON.stringify(variant)} (serial, lanes or splits=N)`);
}
/** Steps per policy before its rounds: pipeline compilation and first-use buffers (policy state, list kernels). */
const WARMUP_STEPS = 2;
/** Slots past the longest context for the steps the rounds append (policies x rounds x 2 x steps + warmups). */
const HEADROOM = 1024;

const CONFIG: ModelConfig = SMOKE
  ? modelShape('smoke', { vocabSize: 512, hiddenSize: 64, intermediateSize: 128, numLayers: 4, numHeads: 4, numKvHeads: 2, headDim: 16 })[1]
  : modelShape('Llama-3.2-1B', { vocabSize: 128256, hiddenSize: 2048, intermediateSize: 8192, numLayers: 16, numHeads: 32, numKvHeads: 8, ropeTheta: 500_000 })[1];

const now = () => performance.now();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs: number[]) => +((Math.max(...xs) - Math.min(...xs)) / median(xs)).toFixed(3);
const round3 = (x: number) => +x.toFixed(3);

/** GB/s of read-bandwidth.wgsl streaming a buffer (1 GiB; 4 MiB on the smoke run), best of the timed repeats. */
async function readBandwidth(device: GPUDevice): Promise<number> {
  // The smoke run's few workgroups: SwiftShader runs a 256-thread workgroup with a barrier as slow loops.
  const bytes = SMOKE ? 1 << 20 : 1 << 30;
  const workgroups = SMOKE ? 4 : 132 * 16;
  const src = device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE });
  const sink = device.createBuffer({ size: workgroups * 4, usage: GPUBufferUsage.STORAGE });
  const module = device.createShaderModule({ code: readBandwidthSource });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'stream', constants: { WORKGROUPS: workgroups, VEC4S: bytes / 16 } } });
  const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: src } }, { binding: 1, resource: { buffer: sink } }] });
  const run = async (reps: number) => {
    const encoder = device.createCommandEncoder();
    for (let i = 0; i < reps; i++) {
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(workgroups);
      pass.end();
    }
    const t0 = now();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    return (now() - t0) / reps;
  };
  await run(1);
  const ms = SMOKE ? await run(1) : Math.min(await run(10), await run(10));
  src.destroy();
  sink.destroy();
  return bytes / 1e6 / ms;
}

/** Random K/V over every arena (kv-fill.wgsl), and each filled slot's true position. */
function fillCache(device: GPUDevice, cache: PagedKVCache, seq: ReturnType<PagedKVCache['createSequence']>, tokens: number): void {
  const module = device.createShaderModule({ code: kvFillSource });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'fill', constants: { F16: cache.dtype === 'f16' ? 1 : 0 } } });
  const params = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  for (const arena of cache.arenas) {
    const words = arena.pages.size / 4;
    const workgroups = Math.ceil(words / 256);
    const x = Math.min(32768, workgroups);
    device.queue.writeBuffer(params, 0, new Uint32Array([words, x, 0, 0]));
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: arena.pages } }, { binding: 1, resource: { buffer: params } }] }));
    pass.dispatchWorkgroups(x, Math.ceil(workgroups / x));
    pass.end();
    device.queue.submit([encoder.finish()]);
  }
  params.destroy();
  // Each filled slot's position is its index (what a prefill would write): one write per arena.
  const held = cache.tokensHeld(seq);
  if (tokens > held) cache.reserve(seq, tokens - held);
  cache.truncate(seq, tokens); // sets the GPU counts to `tokens`
  const P = cache.pageSize;
  for (const arena of cache.arenas) {
    const positions = new Uint32Array(arena.numPages * P);
    for (let p = 0; p < Math.ceil(tokens / P); p++) {
      for (let l = arena.firstLayer; l < arena.firstLayer + arena.numLayers; l++) {
        for (let g = 0; g < cache.numKvHeads; g++) {
          const id = cache.pageId(seq, p, l, g);
          for (let i = 0; i < P; i++) positions[id * P + i] = p * P + i;
        }
      }
    }
    device.queue.writeBuffer(arena.positions, 0, positions);
  }
}

/** Double Sparsity's calibration for a random model: every head ranks its channels in index order. */
function syntheticCalibration(c: ModelConfig): unknown {
  const cube = (f: (e: number) => number) => Array.from({ length: c.numLayers }, () => Array.from({ length: c.numHeads }, () => Array.from({ length: c.headDim }, (_, e) => f(e))));
  return {
    format: CALIBRATION_FORMAT, version: CALIBRATION_VERSION, method: 'double-sparsity', model: modelIdentity(c, 'bench/sparse-decode random weights'),
    shape: { layers: c.numLayers, heads: c.numHeads, entries: c.headDim }, calibration: { text: 'synthetic: channels in index order', tokens: 1, window: 1 },
    data: { statistic: 'qk', scores: cube((e) => c.headDim - e), ranks: cube((e) => e) },
  };
}

interface Timing {
  attentionMs: number[];
  attentionHostMs: number[];
  stepMs: number[];
  stepHostMs: number[];
}

async function main() {
  const started = now();
  const left = () => SECONDS - (now() - started) / 1000;
  const { engine, adapter } = await openNodeBenchDevice();
  const device = engine.device;
  const c = CONFIG;
  const shaderF16 = device.features.has('shader-f16');
  // f16 weights where the adapter can read them (the engine's default there); they make attention's share larger.
  const weightFormat = argOf('--weights', shaderF16 ? 'f16' : 'f32') as 'f16' | 'f32';
  const result: Record<string, unknown> = {
    date: new Date().toISOString(), adapter, shaderF16, how: HOW, model: c, weights: weightFormat, budget: BUDGET, steps: STEPS, rounds: ROUNDS,
    readGBperS: 0, rows: [] as unknown[], denseWinners: [] as unknown[], errors: [] as string[],
  };
  const save = () => writeFileSync(OUT, JSON.stringify(result, null, 2));
  const readGBperS = await readBandwidth(device);
  result.readGBperS = +readGBperS.toFixed(0);
  console.log(JSON.stringify({ adapter, shaderF16, readGBperS: result.readGBperS, weights: weightFormat }));
  const weights = uploadRandom(device, c, weightFormat);
  const inv = ropeInverseFrequencies(c);
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const align = (n: number) => Math.ceil(n / 64) * 64;
  const kOffset = align(qDim);
  const vOffset = kOffset + align(kvDim);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
  const qkv = device.createBuffer({ size: (vOffset + align(kvDim)) * 4, usage });
  device.queue.writeBuffer(qkv, 0, Float32Array.from({ length: vOffset + align(kvDim) }, (_, i) => Math.sin(i * 0.37)));
  const k = device.createBuffer({ size: kvDim * 4, usage });
  const v = device.createBuffer({ size: kvDim * 4, usage });
  const out = device.createBuffer({ size: qDim * 4, usage });
  const maxTokens = Math.max(...CONTEXTS) + HEADROOM;
  const contextOrder = [...CONTEXTS].sort((a, b) => a - b);

  for (const dtype of KV_DTYPES) {
    if (left() < 10) {
      (result.errors as string[]).push(`kv ${dtype}: skipped, ${left().toFixed(0)} s of the budget left`);
      break;
    }
    let cache: PagedKVCache | null = null;
    let attention: PagedAttention | null = null;
    let decoder: WgslDecoder | null = null;
    const policies = new Map<string, AttentionPolicy>();
    // Dense candidates by row name ('dense[serial]'), each its own PagedAttention over the same cache.
    const denseVariants = new Map<string, PagedAttention>();
    try {
      cache = await PagedKVCache.create(device, {
        numLayers: c.numLayers, numKvHeads: c.numKvHeads, headDim: c.headDim, maxTokensPerSequence: maxTokens, maxSequences: 1, dtype,
        memoryBudgetBytes: c.numLayers * c.numKvHeads * Math.ceil(maxTokens / KV_PAGE_SIZE) * kvPageBytes(c.headDim, KV_PAGE_SIZE, KV_DTYPE_BYTES[dtype]),
      });
      attention = new PagedAttention(device, cache, { numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, ropeLayout: c.ropeLayout, maxPrefillTokens: 1 });
      decoder = new WgslDecoder(device, c, weights, attention, decodeVariantFor(engine.adapterInfo));
      if (POLICIES.includes('dense')) {
        for (const v of DENSE_VARIANTS) {
          denseVariants.set(`dense[${v}]`, new PagedAttention(device, cache, {
            numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, ropeLayout: c.ropeLayout, maxPrefillTokens: 1, ...denseVariantOptions(v),
          }));
        }
      }
      const names = [...POLICIES, ...denseVariants.keys()];
      const calibration = syntheticCalibration(c);
      for (const p of POLICIES) {
        const policy = createPolicy(parseAttentionSpec(p === 'dense' ? 'dense' : `${p}:budget=${BUDGET}`), { config: c, calibration });
        policy.checkModel?.(c);
        policies.set(p, policy);
      }
      const seq = cache.createSequence();
      const a = attention;
      const d = decoder;
      for (const context of contextOrder) {
        if (left() < 8) {
          (result.errors as string[]).push(`kv ${dtype} context ${context}: skipped, ${left().toFixed(0)} s of the budget left`);
          break;
        }
        fillCache(device, cache, seq, context);
        let position = context;
        const begin = (on: PagedAttention) => {
          const { cos, sin } = ropeTable(inv, position, 1);
          on.beginStep(seq, { startPosition: position, numTokens: 1, cos, sin });
          position += 1;
        };
        // Steps queued back to back, then one wait: ms per step (GPU-bound when the host's encode time is less).
        const timeSteps = async (n: number, encodeOne: (encoder: GPUCommandEncoder) => void, on: PagedAttention = a) => {
          let host = 0;
          const t0 = now();
          for (let i = 0; i < n; i++) {
            const h = now();
            begin(on);
            const encoder = device.createCommandEncoder();
            encodeOne(encoder);
            device.queue.submit([encoder.finish()]);
            host += now() - h;
          }
          await device.queue.onSubmittedWorkDone();
          return { ms: (now() - t0) / n, hostMs: host / n };
        };
        const attentionOf = (name: string) => denseVariants.get(name) ?? a;
        const encodeAttention = (policyName: string) => (encoder: GPUCommandEncoder) => {
          if (policyName === 'dense' || denseVariants.has(policyName)) {
            const on = attentionOf(policyName);
            const pass = encoder.beginComputePass({ label: `bench ${policyName} attention` });
            for (let l = 0; l < c.numLayers; l++) on.encodeDecodeLayer(pass, { layer: l, qkv, kOffset, vOffset, out, qkNorm: null });
            pass.end();
            return;
          }
          const policy = policies.get(policyName) as AttentionPolicy;
          for (let l = 0; l < c.numLayers; l++) {
            encoder.copyBufferToBuffer(qkv, kOffset * 4, k, 0, kvDim * 4);
            encoder.copyBufferToBuffer(qkv, vOffset * 4, v, 0, kvDim * 4);
            a.encodeLayer(encoder, { layer: l, q: qkv, k, v, out, numTokens: 1, policy });
          }
        };
        const encodeDecode = (policyName: string) => (encoder: GPUCommandEncoder) => {
          d.encodeStep(encoder, { policy: policyName === 'dense' ? undefined : policies.get(policyName), greedy: true });
        };
        const timings = new Map<string, Timing>(names.map((p) => [p, { attentionMs: [], attentionHostMs: [], stepMs: [], stepHostMs: [] }]));
        d.writeToken(1);
        for (const p of names) {
          await timeSteps(WARMUP_STEPS, encodeAttention(p), attentionOf(p));
          if (!denseVariants.has(p)) await timeSteps(WARMUP_STEPS, encodeDecode(p));
        }
        for (let r = 0; r < ROUNDS; r++) {
          for (const p of names) {
            const t = timings.get(p) as Timing;
            const att = await timeSteps(STEPS, encodeAttention(p), attentionOf(p));
            t.attentionMs.push(att.ms);
            t.attentionHostMs.push(att.hostMs);
            // A dense candidate times attention alone: the decoder runs the engine's default.
            if (denseVariants.has(p)) continue;
            const step = await timeSteps(STEPS, encodeDecode(p));
            t.stepMs.push(step.ms);
            t.stepHostMs.push(step.hostMs);
          }
        }
        const dense = timings.get('dense');
        // The policy's layers that select, against dense on the same layers: its time less what its dense layers
        // (needs.denseLayers: Quest's and Double Sparsity's first two, TidalDecode's up to its selection layer) cost
        // at dense's per-layer time, over dense's time for the rest. This is issue 14's "attention + estimator".
        const selectingShare = (name: string, mine: number[], base: number[] | undefined) => {
          if (denseVariants.has(name)) return {};
          const layers = (policies.get(name) as AttentionPolicy).needs.denseLayers;
          const denseCount = layers === 'all' ? c.numLayers : layers.length;
          if (!base || denseCount >= c.numLayers) return {};
          const share = mine.map((x, i) => (x - base[i] * denseCount / c.numLayers) / (base[i] * (c.numLayers - denseCount) / c.numLayers));
          return { denseLayers: denseCount, selectingLayersRatioToDense: round3(median(share)) };
        };
        // KV bytes dense attention reads per step: K and V of every cached slot of every (layer, KV head).
        const kvBytes = c.numLayers * c.numKvHeads * context * 2 * c.headDim * KV_DTYPE_BYTES[dtype];
        for (const p of names) {
          const t = timings.get(p) as Timing;
          const isDense = p === 'dense' || denseVariants.has(p);
          const ratios = (mine: number[], base: number[] | undefined) => (base ? mine.map((x, i) => x / base[i]) : null);
          const attentionRatios = ratios(t.attentionMs, dense?.attentionMs);
          const stepRatios = ratios(t.stepMs, dense?.stepMs);
          const attentionMs = median(t.attentionMs);
          const row = {
            kv: dtype, context, policy: p, budget: isDense ? null : BUDGET,
            attentionMs: round3(attentionMs), attentionHostMs: round3(median(t.attentionHostMs)), attentionSpread: spread(t.attentionMs),
            ...(t.stepMs.length
              ? { stepMs: round3(median(t.stepMs)), tokensPerS: +(1000 / median(t.stepMs)).toFixed(1), stepHostMs: round3(median(t.stepHostMs)), stepSpread: spread(t.stepMs) }
              : {}),
            ...(isDense
              ? {
                kvGB: +(kvBytes / 1e9).toFixed(3), kvGBperS: +(kvBytes / 1e6 / attentionMs).toFixed(0), ofReadBandwidth: +(kvBytes / 1e6 / attentionMs / readGBperS).toFixed(2),
                ...(p === 'dense' ? {} : { attentionRatioToDense: attentionRatios ? round3(median(attentionRatios)) : null }),
              }
              : {
                attentionRatioToDense: attentionRatios ? round3(median(attentionRatios)) : null,
                ...selectingShare(p, t.attentionMs, dense?.attentionMs),
                stepSpeedupOverDense: stepRatios ? round3(1 / median(stepRatios)) : null,
              }),
          };
          console.log(JSON.stringify(row));
          (result.rows as unknown[]).push(row);
        }
        const denseNames = names.filter((p) => p === 'dense' || denseVariants.has(p));
        if (denseNames.length > 1) {
          const best = denseNames.reduce((x, y) => (median((timings.get(y) as Timing).attentionMs) < median((timings.get(x) as Timing).attentionMs) ? y : x));
          const winner = { kv: dtype, context, winner: best, attentionMs: round3(median((timings.get(best) as Timing).attentionMs)), candidates: denseNames };
          console.log(JSON.stringify(winner));
          (result.denseWinners as unknown[]).push(winner);
        }
        save();
      }
    } catch (e) {
      const error = `kv ${dtype}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
      console.error(error);
      (result.errors as string[]).push(error);
    }
    for (const p of policies.values()) p.destroy?.();
    for (const v of denseVariants.values()) v.destroy();
    decoder?.destroy();
    attention?.destroy();
    cache?.destroy();
    await device.queue.onSubmittedWorkDone();
    save();
  }
  weights.destroy();
  result.seconds = +((now() - started) / 1000).toFixed(1);
  save();
  console.log(`wrote ${OUT}`);
  process.exit(0);
}

const HOW = 'Node on Dawn, bench/sparse-decode.ts: random weights (uploadRandom), the paged cache filled with random K/V (kv-fill.wgsl) to each context, no prefill; per (KV dtype, context) interleaved rounds over the policies and dense attention\'s kernel candidates (dense[...]: attention only; denseWinners names the fastest), each round: attention of all layers alone (dense: encodeDecodeLayer; policies: encodeLayer with their hooks), then whole greedy decode steps (WgslDecoder.encodeStep), each as steps queued back to back and one wait; medians over rounds; ratios per round, then their median; spread = (max - min) / median.';

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
