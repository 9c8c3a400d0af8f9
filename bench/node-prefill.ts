// bench/node-prefill: prompt tokens/s of GpuModel.prefill in Node on Dawn (the H200 box has no browser), for random
// weights of real model shapes at prompt lengths 128..8K, variants side by side in the same process: 'wgsl' (the
// engine's prefill) and 'wgsl-nosplit' (prefill attention's split-K off), each in every weight format asked
// (--quantization int4,f16: a model per pair, interleaved in the same rounds). The ORT segment path this bench once
// measured against (bench/results/node-prefill-h200.json) is gone. Each length: a warm-up per path, then --rounds interleaved rounds
// (the paths' order alternating), one row per (path, length) with the median, min and max; the time is the whole
// prefill through the last row's logits on the host (time to first token less sampling); per-chunk times come from
// the onPrefillProgress reports (device completion). Rows are written as they come (a run cut short keeps them),
// and --budget-s stops before a round that would start past it.
// Build: node bench/build-node-bench.mjs; run: node .carry/node-bench/node-prefill.mjs --model smollm2 --out x.json.
import { writeFileSync } from 'node:fs';
import { argOf as arg, openNodeBenchDevice } from './node-harness.ts';
import { GpuModel, type GpuModelOptions } from '../engine/runtime/index.ts';
import { PREFILL_MIN_TILES_PER_SPLIT } from '../engine/attention/constants.ts';
import type { QuantizationMode } from '../engine/quant/index.ts';
import { configOfShape, LLAMA_3_2_1B_SHAPE, randomGpuWeights, SMOLLM2_135M_SHAPE, type LlamaShape } from './random-checkpoint.ts';

/** Llama-3.2-1B's shape with 8192 positions, so the KV pool (capped at 512 MiB by GpuModel) holds the longest prompt measured. */
const LLAMA_1B_8K_SHAPE: LlamaShape = { ...LLAMA_3_2_1B_SHAPE, maxPositionEmbeddings: 8192 };

/** A two-layer shape of SmolLM2's head layout, to check the bench runs (SwiftShader). */
const TINY_SHAPE: LlamaShape = { ...SMOLLM2_135M_SHAPE, numLayers: 2, vocabSize: 1024, maxPositionEmbeddings: 1024 };

type Path = 'wgsl' | 'wgsl-nosplit';
interface Variant { path: Path; format: QuantizationMode; key: string }

const LABEL = arg('--label', 'h200');
const OUT = arg('--out', 'bench-node-prefill.json');
const MODEL = arg('--model', 'smollm2');
const LENGTHS = arg('--lengths', '128,512,2048').split(',').map(Number);
const CHUNK = Number(arg('--chunk', '512'));
const PATHS = arg('--paths', 'wgsl').split(',') as Path[];
const ROUNDS = Number(arg('--rounds', '5'));
/** Layers kept of the shape (all by default). */
const LAYERS = Number(arg('--layers', '0'));
/** Weight formats, each a variant beside the paths (interleaved in the same rounds): e.g. int4,f16. */
const FORMATS = arg('--quantization', 'f32').split(',') as QuantizationMode[];
/**
 * Warm-up: 0 (default) warms each path at each length before its rounds; N > 0 warms each path once with an N-token
 * prompt instead (the WGSL path's pipelines do not depend on the length: an 8K row then costs no 8K warm-up).
 */
const WARMUP_LENGTH = Number(arg('--warmup-length', '0'));
/** Seconds after which no new round starts (the device segment's budget). */
const BUDGET_S = Number(arg('--budget-s', '1e9'));

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const round1 = (x: number) => Math.round(x * 10) / 10;

async function main() {
  const t0 = performance.now();
  const elapsedS = () => (performance.now() - t0) / 1000;
  const { engine, adapter } = await openNodeBenchDevice();
  console.log(`adapter: ${adapter}; ${MODEL} ${FORMATS}; chunk ${CHUNK}; paths ${PATHS}; lengths ${LENGTHS}`);
  const base = MODEL === 'llama1b' ? LLAMA_1B_8K_SHAPE : MODEL === 'tiny' ? TINY_SHAPE : { ...SMOLLM2_135M_SHAPE, maxPositionEmbeddings: 8192 };
  const shape = LAYERS > 0 ? { ...base, numLayers: LAYERS } : base;
  const config = configOfShape(shape);
  const longest = Math.max(...LENGTHS);
  // Every (path, format) pair is a variant with its own model; the rounds alternate over them.
  const variants: Variant[] = PATHS.flatMap((path) => FORMATS.map((format) => ({ path, format, key: `${path} ${format}` })));
  const models = new Map<string, GpuModel>();
  // The pool holds the longest prompt (pages and positions: twice its K/V bytes is plenty).
  const kvMemory = Math.max(64 << 20, 2 * longest * config.numLayers * config.numKvHeads * config.headDim * 2 * 4);
  for (const { path, format, key } of variants) {
    const options: GpuModelOptions = {
      prefillChunk: CHUNK,
      kvMemory,
      // The whole pool at load: no pool growth inside a timed prefill.
      kvGrowthBytes: kvMemory,
      ...(path === 'wgsl-nosplit' ? { prefillSplitRule: { targetWorkgroups: 0, minTilesPerSplit: PREFILL_MIN_TILES_PER_SPLIT } } : {}),
    };
    models.set(key, await GpuModel.build(engine, config, randomGpuWeights(engine.device, config, format), undefined, options));
    console.log(`${key} model ready at ${elapsedS().toFixed(1)} s`);
  }
  const buildS = elapsedS();
  let seed = 99;
  const ids = (n: number) => Array.from({ length: n }, () => { seed = (seed * 1103515245 + 12345) >>> 0; return 3 + (seed % (shape.vocabSize - 3)); });
  const rows: unknown[] = [];
  const write = (partial: unknown[] = []) => writeFileSync(OUT, JSON.stringify({ date: new Date().toISOString(), label: LABEL, adapter, model: MODEL, formats: FORMATS, layers: shape.numLayers, chunk: CHUNK, buildS: Math.round(buildS * 10) / 10, rows: [...rows, ...partial] }, null, 2));
  const once = async (model: GpuModel, tokens: number) => {
    await model.reset();
    const prompt = ids(tokens);
    const marks: number[] = [];
    const start = performance.now();
    await model.prefill(prompt, 'last', { onProgress: () => marks.push(performance.now()) });
    const ms = performance.now() - start;
    return { ms, chunkMs: marks.map((t, i) => t - (i === 0 ? start : marks[i - 1])) };
  };
  if (WARMUP_LENGTH > 0) for (const v of variants) await once(models.get(v.key) as GpuModel, WARMUP_LENGTH);
  for (const tokens of LENGTHS) {
    if (elapsedS() > BUDGET_S) { console.log(`budget: stopping before ${tokens} tokens`); break; }
    const timed = new Map<string, { ms: number[]; chunkMs: number[][] }>(variants.map((v) => [v.key, { ms: [], chunkMs: [] }]));
    // Warm-up: pipelines for this chunk length.
    if (WARMUP_LENGTH === 0) for (const v of variants) await once(models.get(v.key) as GpuModel, tokens);
    // This length's rows, made again after every round and written with the rows before: a run killed mid-length
    // keeps the rounds it finished.
    const rowsOfLength = () => variants.flatMap(({ path, format, key }) => {
      const m = timed.get(key) as { ms: number[]; chunkMs: number[][] };
      if (m.ms.length === 0) return [];
      const mem = (models.get(key) as GpuModel).memoryStats();
      const med = median(m.ms);
      return [{
        path, format, model: `${MODEL} ${format}`, layers: shape.numLayers, chunk: CHUNK, tokens, rounds: m.ms.length,
        medianMs: round1(med), minMs: round1(Math.min(...m.ms)), maxMs: round1(Math.max(...m.ms)), tokensPerS: Math.round(tokens / (med / 1000)),
        // Per chunk: the median over rounds of each chunk's time.
        chunkMs: m.chunkMs[0].map((_, i) => round1(median(m.chunkMs.map((c) => c[i] ?? 0)))),
        memory: { kvInUseBytes: mem.kvInUseBytes, prefillActivationBytes: mem.prefillActivationBytes, weightBytes: mem.weightBytes, deviceLiveBytes: engine.buffers.liveBytes },
      }];
    });
    for (let r = 0; r < ROUNDS && elapsedS() < BUDGET_S; r++) {
      const order = r % 2 === 0 ? variants : [...variants].reverse();
      for (const { key } of order) {
        const t = await once(models.get(key) as GpuModel, tokens);
        const m = timed.get(key) as { ms: number[]; chunkMs: number[][] };
        m.ms.push(t.ms);
        m.chunkMs.push(t.chunkMs);
        write(rowsOfLength());
      }
    }
    const done = rowsOfLength();
    for (const row of done) console.log(JSON.stringify(row));
    rows.push(...done);
    write();
  }
  write();
  for (const model of models.values()) await model.destroy();
  process.exit(0);
}


main().catch((e) => {
  console.error(e);
  process.exit(1);
});
