// bench/node-prefill: prompt tokens/s of GpuModel.prefill in Node on Dawn (the H200 box has no browser), for random
// checkpoints of real model shapes at prompt lengths 128..8K, one row per (model, chunk size, length). The time is
// the whole prefill through the last row's logits on the host (time to first token less sampling), the best of
// --reps runs after a warm-up at each length; per-chunk device times come from the onPrefillProgress reports.
// Build: node bench/build-node-bench.mjs; run: node .carry/node-bench/node-prefill.mjs --label new --out x.json.
import { writeFileSync } from 'node:fs';
import { argOf as arg, openNodeBenchDevice } from './node-harness.ts';
import { parseHfConfig, type LoadedModel, type Tensor } from '../engine/model/index.ts';
import { GpuModel } from '../engine/runtime/index.ts';
import { PREFILL_MIN_TILES_PER_SPLIT } from '../engine/attention/constants.ts';
import { SMOLLM2_135M_SHAPE, type LlamaShape } from './random-checkpoint.ts';

/**
 * Llama-3.2-1B's shape, from meta-llama/Llama-3.2-1B's config.json as published (not fetched here): hidden 2048,
 * 16 layers, 32 heads, 8 KV heads, FFN 8192, vocab 128256, theta 500000, tied. Its context is 128K; 8192 positions
 * here, so the KV pool (capped at 512 MiB by GpuModel) holds the longest prompt measured.
 */
const LLAMA_32_1B_SHAPE: LlamaShape = {
  hiddenSize: 2048, intermediateSize: 8192, numLayers: 16, numHeads: 32, numKvHeads: 8, vocabSize: 128256,
  maxPositionEmbeddings: 8192, ropeTheta: 500000, tieWordEmbeddings: true,
};

/** A two-layer shape of SmolLM2's head layout, to check the bench runs (SwiftShader). */
const TINY_SHAPE: LlamaShape = { ...SMOLLM2_135M_SHAPE, numLayers: 2, vocabSize: 1024, maxPositionEmbeddings: 1024 };

const LABEL = arg('--label', 'new');
const OUT = arg('--out', 'bench-node-prefill.json');
const MODEL = arg('--model', 'smollm2');
const LENGTHS = arg('--lengths', '128,512,2048,8192').split(',').map(Number);
const CHUNKS = arg('--chunks', '512').split(',').map(Number);
const REPS = Number(arg('--reps', '2'));
/** Layers kept of the shape (all by default): the 1B shape's 16 int4 layers take most of a minute to quantize on the host. */
const LAYERS = Number(arg('--layers', '0'));
/** Split-K target workgroups (engine default when absent; 0: never split), to compare both in one run. */
const SPLIT_TARGET = arg('--split-target', '');
const QUANTIZATION = arg('--quantization', 'f32') as 'f32' | 'int4';

/** A seeded random checkpoint held in memory (no file: the 1B shape is 5 GB of f32), weights std 0.02. */
function randomModel(shape: LlamaShape, seed = 1234): LoadedModel {
  const s = shape;
  const config = parseHfConfig({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: s.hiddenSize, intermediate_size: s.intermediateSize,
    num_hidden_layers: s.numLayers, num_attention_heads: s.numHeads, num_key_value_heads: s.numKvHeads, vocab_size: s.vocabSize,
    max_position_embeddings: s.maxPositionEmbeddings, rope_theta: s.ropeTheta, rms_norm_eps: 1e-5, hidden_act: 'silu',
    tie_word_embeddings: s.tieWordEmbeddings, bos_token_id: 1, eos_token_id: 2,
  });
  const d = s.hiddenSize / s.numHeads;
  const shapes = new Map<string, number[]>([['model.embed_tokens.weight', [s.vocabSize, s.hiddenSize]], ['model.norm.weight', [s.hiddenSize]]]);
  for (let i = 0; i < s.numLayers; i++) {
    const p = `model.layers.${i}.`;
    shapes.set(p + 'input_layernorm.weight', [s.hiddenSize]);
    shapes.set(p + 'post_attention_layernorm.weight', [s.hiddenSize]);
    shapes.set(p + 'self_attn.q_proj.weight', [s.numHeads * d, s.hiddenSize]);
    shapes.set(p + 'self_attn.k_proj.weight', [s.numKvHeads * d, s.hiddenSize]);
    shapes.set(p + 'self_attn.v_proj.weight', [s.numKvHeads * d, s.hiddenSize]);
    shapes.set(p + 'self_attn.o_proj.weight', [s.hiddenSize, s.numHeads * d]);
    shapes.set(p + 'mlp.gate_proj.weight', [s.intermediateSize, s.hiddenSize]);
    shapes.set(p + 'mlp.up_proj.weight', [s.intermediateSize, s.hiddenSize]);
    shapes.set(p + 'mlp.down_proj.weight', [s.hiddenSize, s.intermediateSize]);
  }
  const made = new Map<string, Tensor>();
  // One pool of seeded normal-ish values (std 0.02), tiled into every matrix: generating 1.2 G values one by one
  // would take most of a minute, and a speed benchmark only needs realistic magnitudes.
  let state = seed >>> 0 || 1;
  const pool = new Float32Array(1 << 22);
  for (let i = 0; i < pool.length; i++) {
    let u = 0;
    for (let k = 0; k < 3; k++) { state ^= state << 13; state >>>= 0; state ^= state >>> 17; state ^= state << 5; state >>>= 0; u += state / 4294967296; }
    pool[i] = (u - 1.5) * 0.04;
  }
  let offset = 0;
  const weights = {
    has: (name: string) => shapes.has(name),
    names: () => [...shapes.keys()],
    get: (name: string): Tensor => {
      const known = made.get(name);
      if (known) return known;
      const shape = shapes.get(name);
      if (!shape) throw new Error(`random model has no ${name}`);
      const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
      if (name.endsWith('norm.weight')) data.fill(1);
      else {
        // Each tensor starts at another pool offset, so no two matrices are equal.
        for (let i = 0, o = offset; i < data.length; o = 0) {
          const n = Math.min(pool.length - o, data.length - i);
          data.set(pool.subarray(o, o + n), i);
          i += n;
        }
        offset = (offset + 7919) % pool.length;
      }
      const t = { shape, data };
      made.set(name, t);
      return t;
    },
  };
  return { source: `random ${MODEL} shape`, format: 'safetensors', config, weights, tokenizerFiles: {} as LoadedModel['tokenizerFiles'], ggufVocabulary: null };
}

async function main() {
  const { engine, adapter } = await openNodeBenchDevice();
  console.log(`adapter: ${adapter}; ${LABEL}; ${MODEL} ${QUANTIZATION}; chunks ${CHUNKS}; lengths ${LENGTHS}`);
  const base = MODEL === 'llama1b' ? LLAMA_32_1B_SHAPE : MODEL === 'tiny' ? TINY_SHAPE : { ...SMOLLM2_135M_SHAPE, maxPositionEmbeddings: 8192 };
  const shape = LAYERS > 0 ? { ...base, numLayers: LAYERS } : base;
  const t0 = performance.now();
  const loaded = randomModel(shape);
  const rows = [];
  let seed = 99;
  const ids = (n: number) => Array.from({ length: n }, () => { seed = (seed * 1103515245 + 12345) >>> 0; return 3 + (seed % (shape.vocabSize - 3)); });
  for (const chunk of CHUNKS) {
    const model = await GpuModel.create(engine, loaded, undefined, {
      prefillChunk: chunk, quantization: QUANTIZATION,
      ...(SPLIT_TARGET !== '' ? { prefillSplitRule: { targetWorkgroups: Number(SPLIT_TARGET), minTilesPerSplit: PREFILL_MIN_TILES_PER_SPLIT } } : {}),
    });
    console.log(`model ready in ${((performance.now() - t0) / 1000).toFixed(1)} s (chunk ${chunk})`);
    for (const tokens of LENGTHS) {
      const ms: number[] = [];
      let chunkMs: number[] = [];
      for (let rep = 0; rep <= REPS; rep++) {
        await model.reset();
        const prompt = ids(tokens);
        const marks: number[] = [];
        const start = performance.now();
        await model.prefill(prompt, 'last', { onProgress: () => marks.push(performance.now()) });
        const end = performance.now();
        if (rep === 0) continue; // warm-up: pipelines and ORT's kernels for this chunk length
        ms.push(end - start);
        chunkMs = marks.map((t, i) => t - (i === 0 ? start : marks[i - 1]));
      }
      const best = Math.min(...ms);
      const row = {
        label: LABEL, model: `${MODEL} ${QUANTIZATION}`, layers: shape.numLayers, splitTarget: SPLIT_TARGET || 'default', adapter, prefillChunk: chunk, tokens, ms, bestMs: best,
        tokensPerS: Math.round(tokens / (best / 1000)), chunkMs: chunkMs.map((x) => Math.round(x * 10) / 10),
      };
      console.log(JSON.stringify(row));
      rows.push(row);
      // After every row: a run cut short by its time limit keeps what it measured.
      writeFileSync(OUT, JSON.stringify({ date: new Date().toISOString(), adapter, rows }, null, 2));
    }
    model.destroy();
  }
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
