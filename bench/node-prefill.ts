// bench/node-prefill: prompt tokens/s of GpuModel.prefill in Node on Dawn (the H200 box has no browser), for random
// weights of real model shapes at prompt lengths 128..8K, variants side by side in the same process (a model each,
// weights shared per format, interleaved in the same rounds):
//   - 'wgsl': the engine's prefill as it loads today (default attention tile, GEMM tile and split-K rule), in every
//     weight format asked (--quantization int4,f16);
//   - 'attn RxK': prefill attention under another tiling (R query rows x K keys per workgroup, PREFILL_TILE_CANDIDATES,
//     those the device fits; --attention-tiles), first format only (attention does not read the weights);
//   - 'nosplit': prefill attention's split-K off, first format only;
//   - 'gemm RxC': the prefill GEMM under another register tile (GEMM_TILE_CANDIDATES; --gemm-tiles), every format.
// Each length: a warm-up per variant, then --rounds interleaved rounds (the order alternating); one row per
// (variant, length) with the median, min and max of the whole prefill through the last row's logits on the host
// (time to first token less sampling), per chunk the wall time between progress reports and, from GPU timestamps
// (engine/prefill PrefillTimer), the chunk's matrix products (embedding, norms, GEMMs) and its attention apart.
// `winners` names, per length, the attention tiling with the least attention time and per format the GEMM tile with
// the least products time: what the engine's defaults should become once a run shows a margin. Rows are written as
// they come (a run cut short keeps them), and --budget-s stops before a round that would start past it.
// Build: node bench/build-node-bench.mjs; run: node .carry/node-bench/node-prefill.mjs --model smollm2 --out x.json.
import { writeFileSync } from 'node:fs';
import { argOf as arg, openNodeBenchDevice } from './node-harness.ts';
import { GpuModel, type GpuModelOptions } from '../engine/runtime/index.ts';
import { PREFILL_MIN_TILES_PER_SPLIT, PREFILL_TILE_CANDIDATES, type PrefillTile } from '../engine/attention/constants.ts';
import { prefillTiling } from '../engine/attention/paged-attention.ts';
import { DEFAULT_GEMM_TILE, decodeVariantFor, type GemmTile } from '../engine/decode/index.ts';
import { GEMM_TILE_CANDIDATES, gemmTileName, PrefillTimer, prefillTimerPasses, type PrefillChunkTimes } from '../engine/prefill/index.ts';
import type { QuantizationMode } from '../engine/quant/index.ts';
import { configOfShape, LLAMA_3_2_1B_SHAPE, randomGpuWeights, SMOLLM2_135M_SHAPE, type LlamaShape } from './random-checkpoint.ts';

/** Llama-3.2-1B's shape with 8192 positions, so the KV pool (capped at 512 MiB by GpuModel) holds the longest prompt measured. */
const LLAMA_1B_8K_SHAPE: LlamaShape = { ...LLAMA_3_2_1B_SHAPE, maxPositionEmbeddings: 8192 };

/** A two-layer shape of SmolLM2's head layout, to check the bench runs (SwiftShader). */
const TINY_SHAPE: LlamaShape = { ...SMOLLM2_135M_SHAPE, numLayers: 2, vocabSize: 1024, maxPositionEmbeddings: 1024 };

interface Variant {
  /** 'wgsl', 'attn 32x64', 'nosplit', 'gemm 64x64'. */
  path: string;
  format: QuantizationMode;
  key: string;
  options: Pick<GpuModelOptions, 'prefillTile' | 'gemmTile' | 'prefillSplitRule'>;
}

const LABEL = arg('--label', 'h200');
const OUT = arg('--out', 'bench-node-prefill.json');
const MODEL = arg('--model', 'smollm2');
const LENGTHS = arg('--lengths', '128,512,2048').split(',').map(Number);
const CHUNK = Number(arg('--chunk', '512'));
const ROUNDS = Number(arg('--rounds', '5'));
/** Layers kept of the shape (all by default). */
const LAYERS = Number(arg('--layers', '0'));
/** Weight formats, each a variant (interleaved in the same rounds): e.g. int4,f16. */
const FORMATS = arg('--quantization', 'f32').split(',') as QuantizationMode[];
/** Attention tilings besides the default, as rows x keys ('all': every candidate the device fits; 'none'). */
const ATTENTION_TILES = arg('--attention-tiles', 'all');
/** GEMM tiles besides the default ('all': GEMM_TILE_CANDIDATES; 'none'). */
const GEMM_TILES = arg('--gemm-tiles', 'all');
/** 0: no split-K-off variant. */
const NOSPLIT = arg('--nosplit', '1') !== '0';
/**
 * Warm-up: 0 (default) warms each variant at each length before its rounds; N > 0 warms each once with an N-token
 * prompt instead (the WGSL path's pipelines do not depend on the length: an 8K row then costs no 8K warm-up).
 */
const WARMUP_LENGTH = Number(arg('--warmup-length', '0'));
/** Seconds after which no new round starts (the device segment's budget). */
const BUDGET_S = Number(arg('--budget-s', '1e9'));

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const round1 = (x: number) => Math.round(x * 10) / 10;
const round2 = (x: number) => Math.round(x * 100) / 100;
/** A tiling by what it takes per workgroup: query rows x keys. */
const attentionTileName = (t: PrefillTile) => `${4 * t.rowGroups}x${4 * t.keyGroups}`;
const sameTile = (a: PrefillTile, b: PrefillTile) => a.keyGroups === b.keyGroups && a.rowGroups === b.rowGroups;
const sameGemm = (a: GemmTile, b: GemmTile) => a.rowsPerThread === b.rowsPerThread && a.columnsPerThread === b.columnsPerThread;

interface Timed { ms: number[]; chunkMs: number[][]; gpu: PrefillChunkTimes[][] }

async function main() {
  const t0 = performance.now();
  const elapsedS = () => (performance.now() - t0) / 1000;
  const { engine, adapter } = await openNodeBenchDevice();
  const device = engine.device;
  const base = MODEL === 'llama1b' ? LLAMA_1B_8K_SHAPE : MODEL === 'tiny' ? TINY_SHAPE : { ...SMOLLM2_135M_SHAPE, maxPositionEmbeddings: 8192 };
  const shape = LAYERS > 0 ? { ...base, numLayers: LAYERS } : base;
  const config = configOfShape(shape);
  const longest = Math.max(...LENGTHS);

  // The candidates: the default tiling is the first the device fits; the others that fit, by name or all.
  const fits = (t: PrefillTile) => { try { prefillTiling(config.headDim, device.limits, t); return true; } catch { return false; } };
  const defaultTile = PREFILL_TILE_CANDIDATES.find(fits) as PrefillTile;
  const attentionTiles = PREFILL_TILE_CANDIDATES.filter((t) => fits(t) && !sameTile(t, defaultTile)
    && (ATTENTION_TILES === 'all' || ATTENTION_TILES.split(',').includes(attentionTileName(t))));
  const defaultGemm = decodeVariantFor(engine.adapterInfo).gemmTile ?? DEFAULT_GEMM_TILE;
  const gemmTiles = GEMM_TILE_CANDIDATES.filter((t) => !sameGemm(t, defaultGemm) && (GEMM_TILES === 'all' || GEMM_TILES.split(',').includes(gemmTileName(t))));
  const noSplit = { targetWorkgroups: 0, minTilesPerSplit: PREFILL_MIN_TILES_PER_SPLIT };
  const variants: Variant[] = [
    ...FORMATS.map((format) => ({ path: 'wgsl', format, options: {} })),
    ...attentionTiles.map((t) => ({ path: `attn ${attentionTileName(t)}`, format: FORMATS[0], options: { prefillTile: t } })),
    ...(NOSPLIT ? [{ path: 'nosplit', format: FORMATS[0], options: { prefillSplitRule: noSplit } }] : []),
    ...FORMATS.flatMap((format) => gemmTiles.map((t) => ({ path: `gemm ${gemmTileName(t)}`, format, options: { gemmTile: t } }))),
  ].map((v) => ({ ...v, key: `${v.path} ${v.format}` }));
  console.log(`adapter: ${adapter}; ${MODEL} ${FORMATS}; chunk ${CHUNK}; lengths ${LENGTHS}; attention ${attentionTileName(defaultTile)} (default) `
    + `${attentionTiles.map(attentionTileName)}; gemm ${gemmTileName(defaultGemm)} (default) ${gemmTiles.map(gemmTileName)}; ${variants.length} variants`);

  const models = new Map<string, GpuModel>();
  const timers = new Map<string, PrefillTimer>();
  const timed = device.features.has('timestamp-query');
  const chunksOfLongest = Math.ceil(longest / CHUNK);
  // The pool holds the longest prompt (pages and positions: twice its K/V bytes is plenty).
  const kvMemory = Math.max(64 << 20, 2 * longest * config.numLayers * config.numKvHeads * config.headDim * 2 * 4);
  // One set of random weights per format, shared by that format's variants.
  const weights = new Map(FORMATS.map((format) => [format, randomGpuWeights(device, config, format)]));
  for (const v of variants) {
    const timer = timed ? new PrefillTimer(device, prefillTimerPasses(chunksOfLongest, config.numLayers)) : undefined;
    if (timer) timers.set(v.key, timer);
    const options: GpuModelOptions = {
      prefillChunk: CHUNK,
      kvMemory,
      // The whole pool at load: no pool growth inside a timed prefill.
      kvGrowthBytes: kvMemory,
      prefillTimer: timer,
      ...v.options,
    };
    models.set(v.key, await GpuModel.build(engine, config, weights.get(v.format) as never, undefined, options));
    console.log(`${v.key} model ready at ${elapsedS().toFixed(1)} s`);
  }
  const buildS = elapsedS();
  let seed = 99;
  const ids = (n: number) => Array.from({ length: n }, () => { seed = (seed * 1103515245 + 12345) >>> 0; return 3 + (seed % (shape.vocabSize - 3)); });
  const rows: Record<string, unknown>[] = [];
  const winners: Record<string, unknown>[] = [];
  const header = () => ({
    date: new Date().toISOString(), label: LABEL, adapter, model: MODEL, formats: FORMATS, layers: shape.numLayers, chunk: CHUNK,
    timing: timed ? 'timestamp-query' : 'wall clock only (no timestamp-query)',
    defaults: { attentionTile: attentionTileName(defaultTile), gemmTile: gemmTileName(defaultGemm) }, buildS: round1(buildS),
  });
  const write = (partial: unknown[] = []) => writeFileSync(OUT, JSON.stringify({ ...header(), winners, rows: [...rows, ...partial] }, null, 2));
  const once = async (v: Variant, tokens: number) => {
    const model = models.get(v.key) as GpuModel;
    const timer = timers.get(v.key);
    await model.reset();
    timer?.reset();
    const prompt = ids(tokens);
    const marks: number[] = [];
    const start = performance.now();
    await model.prefill(prompt, 'last', { onProgress: () => marks.push(performance.now()) });
    const ms = performance.now() - start;
    const gpu = timer ? await timer.read() : [];
    return { ms, chunkMs: marks.map((t, i) => t - (i === 0 ? start : marks[i - 1])), gpu };
  };
  if (WARMUP_LENGTH > 0) for (const v of variants) await once(v, WARMUP_LENGTH);
  for (const tokens of LENGTHS) {
    if (elapsedS() > BUDGET_S) { console.log(`budget: stopping before ${tokens} tokens`); break; }
    const results = new Map<string, Timed>(variants.map((v) => [v.key, { ms: [], chunkMs: [], gpu: [] }]));
    // Warm-up: pipelines for this chunk length.
    if (WARMUP_LENGTH === 0) for (const v of variants) await once(v, tokens);
    // This length's rows, made again after every round and written with the rows before: a run killed mid-length
    // keeps the rounds it finished.
    const rowsOfLength = () => variants.flatMap(({ path, format, key }) => {
      const m = results.get(key) as Timed;
      if (m.ms.length === 0) return [];
      const mem = (models.get(key) as GpuModel).memoryStats();
      const med = median(m.ms);
      // Per chunk: the median over rounds of each chunk's time.
      const perChunk = (f: (round: number, chunk: number) => number) => m.chunkMs[0].map((_, i) => round2(median(m.ms.map((__, r) => f(r, i)))));
      // A device whose timestamps do not advance (SwiftShader's) gives zeros: no GPU split then.
      const stamped = m.gpu.some((g) => g.some((c) => c.productsMs > 0));
      const gpuOf = (part: keyof PrefillChunkTimes) => (stamped ? perChunk((r, i) => m.gpu[r][i]?.[part] ?? 0) : null);
      const attentionMs = gpuOf('attentionMs');
      const productsMs = gpuOf('productsMs');
      const sum = (xs: number[] | null) => (xs ? round1(xs.reduce((a, b) => a + b, 0)) : null);
      return [{
        path, format, model: `${MODEL} ${format}`, layers: shape.numLayers, chunk: CHUNK, tokens, rounds: m.ms.length,
        medianMs: round1(med), minMs: round1(Math.min(...m.ms)), maxMs: round1(Math.max(...m.ms)), tokensPerS: Math.round(tokens / (med / 1000)),
        chunkMs: perChunk((r, i) => m.chunkMs[r][i] ?? 0).map(round1),
        gpu: { attentionMs, productsMs, headMs: gpuOf('headMs'), attentionTotalMs: sum(attentionMs), productsTotalMs: sum(productsMs) },
        memory: { kvInUseBytes: mem.kvInUseBytes, prefillActivationBytes: mem.prefillActivationBytes, weightBytes: mem.weightBytes, deviceLiveBytes: engine.buffers.liveBytes },
      }];
    });
    for (let r = 0; r < ROUNDS && elapsedS() < BUDGET_S; r++) {
      const order = r % 2 === 0 ? variants : [...variants].reverse();
      for (const v of order) {
        const t = await once(v, tokens);
        const m = results.get(v.key) as Timed;
        m.ms.push(t.ms);
        m.chunkMs.push(t.chunkMs);
        m.gpu.push(t.gpu);
        write(rowsOfLength());
      }
    }
    const done = rowsOfLength();
    for (const row of done) console.log(JSON.stringify(row));
    rows.push(...done);
    winners.push(pickWinners(tokens, done));
    console.log(`winners at ${tokens}: ${JSON.stringify(winners[winners.length - 1])}`);
    write();
  }
  write();
  for (const model of models.values()) await model.destroy();
  for (const timer of timers.values()) timer.destroy();
  process.exit(0);

  /** The attention tiling (default, 'attn', 'nosplit' rows of the first format) and per format the GEMM tile with the least GPU time. */
  function pickWinners(tokens: number, done: Record<string, unknown>[]) {
    type Row = { path: string; format: string; medianMs: number; gpu: { attentionTotalMs: number | null; productsTotalMs: number | null } };
    const rs = done as unknown as Row[];
    const best = (candidates: Row[], part: 'attentionTotalMs' | 'productsTotalMs') => {
      const by = (r: Row) => r.gpu[part] ?? r.medianMs;
      const sorted = [...candidates].sort((a, b) => by(a) - by(b));
      const base = candidates.find((r) => r.path === 'wgsl');
      return sorted.length === 0 ? null : {
        path: sorted[0].path, ms: by(sorted[0]), defaultMs: base ? by(base) : null,
        all: Object.fromEntries(sorted.map((r) => [r.path, by(r)])),
      };
    };
    const attention = best(rs.filter((r) => r.format === FORMATS[0] && (r.path === 'wgsl' || r.path.startsWith('attn ') || r.path === 'nosplit')), 'attentionTotalMs');
    const gemm = Object.fromEntries(FORMATS.map((f) => [f, best(rs.filter((r) => r.format === f && (r.path === 'wgsl' || r.path.startsWith('gemm '))), 'productsTotalMs')]));
    return { tokens, by: timed ? 'GPU timestamps' : 'wall clock', attention, gemm };
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
