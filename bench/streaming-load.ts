// bench/streaming-load: JS memory above the pre-load baseline while a checkpoint loads into the GPU, in Node on Dawn.
// "streaming" is the engine's path (streamModel into a GpuWeightWriter, then GpuModel.build); "whole" is the CPU
// path the engine used before (every tensor parsed to f32 on the CPU and kept, then uploaded), measured in the same
// run for the ratio. Memory is process.memoryUsage() heapUsed + arrayBuffers (what the issue bounds; run node with
// --expose-gc for a clean baseline) and rss, sampled after every piece of weights and every load event.
// loadMs is the whole load (weights, then building the model: kernels, ORT sessions, the KV pool); weightsMs its
// weights part. --shape small (a 4-layer model of 40 MB), smollm2 (the default) or llama1b (Llama-3.2-1B's shape, 2.5 GB
// of bf16: the H200's q4 cold-load cell), --quantization f32|f16|int8|int4.
// Build: node bench/build-node-bench.mjs; run: node --expose-gc .carry/node-bench/streaming-load.mjs --model DIR.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { argOf as arg, openNodeBenchDevice } from './node-harness.ts';
import { folderSource, loadModelFromPath, streamModel, type WeightSink } from '../engine/model/node.ts';
import { GpuModel, GpuWeightWriter, quantizeOnFor, type QuantizeOn } from '../engine/runtime/index.ts';
import { generateGreedy } from '../engine/generation/index.ts';
import { parseQuantization } from '../engine/quant/index.ts';
import { LLAMA_3_2_1B_SHAPE, SMOLLM2_135M_SHAPE, writeRandomCheckpoint, type LlamaShape } from './random-checkpoint.ts';

const MODEL = arg('--model', '');
const OUT = arg('--out', 'bench-streaming-load.json');
const QUANTIZATION = parseQuantization(arg('--quantization', 'f32'));
const TOKENS = Number(arg('--tokens', '16'));
const PATHS = arg('--paths', 'streaming,whole').split(',');
const MiB = 1024 * 1024;
/** --shape small: a 4-layer model with a 32K vocabulary (a 40 MB f16 file) for the software adapter here. */
const SMALL_SHAPE = { ...SMOLLM2_135M_SHAPE, hiddenSize: 256, intermediateSize: 768, numLayers: 4, numHeads: 4, numKvHeads: 2, vocabSize: 32000, maxPositionEmbeddings: 1024 };

interface Sample { js: number; rss: number }
const gc = (globalThis as { gc?: () => void }).gc;
const sample = (): Sample => {
  const m = process.memoryUsage();
  return { js: m.heapUsed + m.arrayBuffers, rss: m.rss };
};

class Meter {
  peak: Sample = { js: 0, rss: 0 };
  constructor(readonly base: Sample) {}
  take(): Sample {
    const s = sample();
    this.peak = { js: Math.max(this.peak.js, s.js), rss: Math.max(this.peak.rss, s.rss) };
    return s;
  }
  above(s: Sample) {
    return { jsMiB: (s.js - this.base.js) / MiB, rssMiB: (s.rss - this.base.rss) / MiB };
  }
}

async function settle(): Promise<Sample> {
  for (let i = 0; i < 3; i++) { gc?.(); await new Promise((r) => setTimeout(r, 20)); }
  return sample();
}

async function main() {
  const { engine, adapter } = await openNodeBenchDevice();
  const shapeName = arg('--shape', 'smollm2');
  const shapes: Record<string, LlamaShape> = { small: SMALL_SHAPE, smollm2: SMOLLM2_135M_SHAPE, llama1b: LLAMA_3_2_1B_SHAPE };
  if (!shapes[shapeName]) throw new Error(`--shape ${shapeName}: one of ${Object.keys(shapes).join(', ')}`);
  const dir = MODEL || writeRandomCheckpoint(join(arg('--scratch', tmpdir()), `sieve-bench-${shapeName}-shape`), shapes[shapeName]);
  const quantization = QUANTIZATION;
  const rows: Record<string, unknown>[] = [];
  const write = () => writeFileSync(OUT, JSON.stringify({
    date: new Date().toISOString(), adapter, model: dir, quantization: QUANTIZATION, gcExposed: gc !== undefined,
    note: 'GPU figures from Dawn in Node; memory = process.memoryUsage() heapUsed + arrayBuffers above the baseline taken before the load', rows,
  }, null, 2));
  for (const path of PATHS) {
    const meter = new Meter(await settle());
    const t0 = performance.now();
    let model: GpuModel;
    let afterWeights: Sample;
    // Streaming: until the weights are on the GPU and accepted (parse, conversion or quantization, upload); whole:
    // until the CPU holds every tensor as f32 (its upload is inside GpuModel.create, counted in loadMs only).
    let weightsMs = 0;
    let quantizeOnUsed: string | null = null;
    if (path === 'streaming') {
      // As the engine makes it: int4 / int8 quantized on the GPU, or on the CPU on a CPU adapter (--quantize-on overrides).
      const quantizeOn = arg('--quantize-on', quantizeOnFor(engine.adapterInfo)) as QuantizeOn;
      quantizeOnUsed = quantizeOn;
      const writer = new GpuWeightWriter(engine.device, dir, quantization, () => meter.take(), undefined, quantizeOn);
      // The engine's sink (engine.ts streams into the writer itself): stored bytes where the writer takes them (f16
      // kept as f16, f32/f16/bf16 quantized on the GPU), f32 pieces otherwise; memory sampled after each.
      const sink: WeightSink = {
        piece(name, shape, rowStart, n, data) {
          const r = writer.piece(name, shape, rowStart, n, data);
          meter.take();
          return r;
        },
        takesBlocks: (name, dtype, shape) => writer.takesBlocks(name, dtype, shape),
        blocks(name, shape, rowStart, n, dtype, stored) {
          const r = writer.blocks(name, shape, rowStart, n, dtype, stored);
          meter.take();
          return r;
        },
      };
      const files = await streamModel(folderSource(dir), sink, { onProgress: () => meter.take() });
      const weights = writer.finish();
      await weights.accepted;
      afterWeights = meter.take();
      weightsMs = performance.now() - t0;
      model = await GpuModel.build(engine, files.config, weights, () => meter.take(), { quantization: QUANTIZATION });
    } else {
      const loaded = await loadModelFromPath(dir, { onProgress: () => meter.take() });
      afterWeights = meter.take();
      weightsMs = performance.now() - t0;
      model = await GpuModel.create(engine, loaded, () => meter.take(), { quantization: QUANTIZATION });
    }
    const loadMs = performance.now() - t0;
    const afterBuild = meter.take();
    const r = await generateGreedy(model, { ids: [1, 5, 9, 13, 17, 21, 25, 29], maxTokens: TOKENS, eosTokenIds: [], ignoreEos: true });
    const afterGenerate = meter.take();
    const held = await settle();
    const stats = model.memoryStats();
    const row = {
      path, quantizeOn: quantizeOnUsed, loadMs, weightsMs, weightBytes: stats.weightBytes, kvPoolBytes: stats.kvPoolBytes,
      peakAboveBaseline: meter.above(meter.peak),
      afterWeights: meter.above(afterWeights),
      // What building the model (ORT's prefill sessions over the GPU weights, our kernels) added on top of the weights.
      buildAdded: { jsMiB: (afterBuild.js - afterWeights.js) / MiB, rssMiB: (afterBuild.rss - afterWeights.rss) / MiB },
      afterGenerate: meter.above(afterGenerate),
      heldAfterGc: meter.above(held),
      generated: r.ids.length, decodeTokensPerS: r.usage.decode_tokens_per_s,
    };
    console.log(JSON.stringify(row));
    rows.push(row);
    write();
    await model.destroy();
  }
  write();
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
