// bench/eval-speed: the eval grid's speed axis (issue 16): decode ms/token of every policy against dense, measured in
// the same run, on a seeded random model of Llama-3.2-1B's shape at the grid's budget/context ratio (budget =
// context / 8), in Node on Dawn (the H200 box; SwiftShader here with --shape tiny). On sieve-tiny ms/token only
// measures dispatch cost; a 1B shape reads enough KV at 8K positions for the policies' savings to show.
// Build: node bench/build-node-bench.mjs; run: node .carry/node-bench/eval-speed.mjs [--shape llama1b|tiny]
//   [--contexts 8192,2048] [--ratio 8] [--steps 12] [--policies ...] [--budget-s 30] [--out FILE]
// Rows are written as they come (a run cut short keeps them). Not a test: numbers, no asserts.
import { writeFileSync } from 'node:fs';
import { argOf, openNodeBenchDevice } from './node-harness.ts';
import { createPolicy, listPolicies, parseAttentionSpec } from '../engine/attention/index.ts';
import { CALIBRATION_FORMAT, CALIBRATION_VERSION, modelIdentity, type CalibrationMethod } from '../engine/calibration/index.ts';
import { argmax } from '../engine/generation/index.ts';
import { parseHfConfig, type LoadedModel, type ModelConfig, type Tensor } from '../engine/model/index.ts';
import { GpuModel } from '../engine/runtime/index.ts';
import type { LlamaShape } from './random-checkpoint.ts';

const START = performance.now();
const SHAPE_NAME = argOf('--shape', 'llama1b');
const CONTEXTS = argOf('--contexts', '8192,2048').split(',').map(Number);
const RATIO = Number(argOf('--ratio', '8'));
const STEPS = Number(argOf('--steps', '12'));
const WARMUP_STEPS = 3;
const POLICIES = argOf('--policies', listPolicies().join(',')).split(',').map((p) => p.trim()).filter(Boolean);
const BUDGET_S = Number(argOf('--budget-s', '30'));
const OUT = argOf('--out', 'bench/results/eval-speed.json');

/**
 * Llama-3.2-1B's shape, from meta-llama/Llama-3.2-1B's config.json as published (not fetched here): hidden 2048,
 * 16 layers, 32 heads, 8 KV heads, head dim 64, FFN 8192, vocab 128256, theta 500000, tied embeddings.
 */
const LLAMA_32_1B: LlamaShape = {
  hiddenSize: 2048, intermediateSize: 8192, numLayers: 16, numHeads: 32, numKvHeads: 8, vocabSize: 128256,
  maxPositionEmbeddings: 0, ropeTheta: 500000, tieWordEmbeddings: true,
};
/** Its head dim on 4 layers and a small vocabulary: checks the bench on SwiftShader. */
const TINY: LlamaShape = { ...LLAMA_32_1B, hiddenSize: 256, intermediateSize: 512, numLayers: 4, numHeads: 4, numKvHeads: 1, vocabSize: 512 };

/**
 * A random model held in memory (the 1B shape is 5 GB of f32: no file). One pool of seeded values (std ~0.02) tiled
 * into every matrix from a different offset: drawing 1.2 G values one by one would take most of a minute, and a
 * speed bench only needs realistic magnitudes.
 */
function randomModel(shape: LlamaShape): LoadedModel {
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
    for (const [name, dims] of [
      ['input_layernorm.weight', [s.hiddenSize]], ['post_attention_layernorm.weight', [s.hiddenSize]],
      ['self_attn.q_proj.weight', [s.numHeads * d, s.hiddenSize]], ['self_attn.k_proj.weight', [s.numKvHeads * d, s.hiddenSize]],
      ['self_attn.v_proj.weight', [s.numKvHeads * d, s.hiddenSize]], ['self_attn.o_proj.weight', [s.hiddenSize, s.numHeads * d]],
      ['mlp.gate_proj.weight', [s.intermediateSize, s.hiddenSize]], ['mlp.up_proj.weight', [s.intermediateSize, s.hiddenSize]],
      ['mlp.down_proj.weight', [s.hiddenSize, s.intermediateSize]],
    ] as [string, number[]][]) shapes.set(p + name, dims);
  }
  let state = 1234;
  const pool = new Float32Array(1 << 22);
  for (let i = 0; i < pool.length; i++) {
    let u = 0;
    for (let k = 0; k < 3; k++) { state ^= state << 13; state >>>= 0; state ^= state >>> 17; state ^= state << 5; state >>>= 0; u += state / 4294967296; }
    pool[i] = (u - 1.5) * 0.04;
  }
  let offset = 0;
  const made = new Map<string, Tensor>();
  const weights = {
    has: (name: string) => shapes.has(name),
    names: () => [...shapes.keys()],
    get: (name: string): Tensor => {
      const known = made.get(name);
      if (known) return known;
      const dims = shapes.get(name);
      if (!dims) throw new Error(`random model has no ${name}`);
      const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
      if (name.endsWith('norm.weight')) data.fill(1);
      else {
        for (let i = 0, o = offset; i < data.length; o = 0) {
          const n = Math.min(pool.length - o, data.length - i);
          data.set(pool.subarray(o, o + n), i);
          i += n;
        }
        offset = (offset + 7919) % pool.length;
      }
      const t = { shape: dims, data };
      made.set(name, t);
      return t;
    },
  };
  return { source: `random ${SHAPE_NAME} shape`, format: 'safetensors', config, weights, tokenizerFiles: {} as LoadedModel['tokenizerFiles'], ggufVocabulary: null };
}

/**
 * A calibration artifact of the right shape with seeded scores, so Double Sparsity and FASA can be timed on a random
 * model (which channels they read does not change their cost; a CPU calibration of the 1B shape would take minutes).
 * Labelled synthetic in its run record.
 */
function syntheticCalibration(config: ModelConfig, method: CalibrationMethod): unknown {
  const entries = method === 'double-sparsity' ? config.headDim : config.headDim / 2;
  let seed = 7;
  const next = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 4294967296; };
  const scores = Array.from({ length: config.numLayers }, () => Array.from({ length: config.numHeads }, () => Array.from({ length: entries }, () => next())));
  const ranks = scores.map((l) => l.map((h) => h.map((_, i) => i).sort((a, b) => h[b] - h[a] || a - b)));
  const data = method === 'double-sparsity' ? { statistic: 'qk', scores, ranks } : { topK: 32, queries: 1, agreement: scores, ranks };
  return {
    format: CALIBRATION_FORMAT, version: CALIBRATION_VERSION, method, model: modelIdentity(config, 'random'),
    shape: { layers: config.numLayers, heads: config.numHeads, entries }, calibration: { text: 'synthetic (speed bench only)', tokens: 1, window: 1 }, data,
  };
}

const promptOf = (n: number, vocab: number): number[] => Array.from({ length: n }, (_, i) => (i * 2654435761 >>> 0) % (vocab - 2) + 1);
const elapsedS = () => (performance.now() - START) / 1000;

async function main() {
  const { engine, adapter } = await openNodeBenchDevice();
  const shape = { ...(SHAPE_NAME === 'tiny' ? TINY : LLAMA_32_1B), maxPositionEmbeddings: Math.max(...CONTEXTS) + WARMUP_STEPS + STEPS + 16 };
  const rows: Record<string, unknown>[] = [];
  let modelReadyS: number | null = null;
  const save = (done: boolean) => writeFileSync(OUT, JSON.stringify({
    date: new Date().toISOString(), bench: 'eval-speed', adapter, shape: { name: SHAPE_NAME, ...shape }, ratio: RATIO, steps: STEPS, done, modelReadyS,
    method: `per (context, policy): a fresh sequence, the prompt prefilled (chunks of 512), ${WARMUP_STEPS} greedy decode steps untimed, then ${STEPS} timed; ms/token = their mean; ratioToDense against dense at the same context in this run; weights f32; double-sparsity and fasa with a synthetic calibration (their cost does not depend on which channels they read)`,
    rows,
  }, null, 1));
  // Written before the model is built: a run cut short there still says how far it got.
  save(false);
  const loaded = randomModel(shape);
  const model = await GpuModel.create(engine, loaded);
  const config = loaded.config;
  modelReadyS = elapsedS();
  console.log(`adapter: ${adapter}; ${SHAPE_NAME} ready at ${modelReadyS.toFixed(1)} s`);
  const calibrations = new Map<string, unknown>((['double-sparsity', 'fasa'] as CalibrationMethod[]).map((m) => [m, syntheticCalibration(config, m)]));
  save(false);
  for (const context of CONTEXTS) {
    const budget = Math.max(1, Math.floor(context / RATIO));
    let denseMs: number | null = null;
    for (const policy of POLICIES) {
      if (elapsedS() > BUDGET_S) { rows.push({ context, policy, skipped: 'out of time' }); continue; }
      const spec = policy === 'dense' ? 'dense' : `${policy}:budget=${budget}`;
      try {
        await model.reset();
        model.setPolicy(createPolicy(parseAttentionSpec(spec), { config, calibration: calibrations.get(policy) }));
        let next = argmax(await model.prefill(promptOf(context, config.vocabSize), 'last'));
        for (let i = 0; i < WARMUP_STEPS; i++) next = argmax(await model.decode(next));
        const t0 = performance.now();
        for (let i = 0; i < STEPS; i++) next = argmax(await model.decode(next));
        const msPerToken = (performance.now() - t0) / STEPS;
        if (policy === 'dense') denseMs = msPerToken;
        const usage = model.cacheUsage();
        const row = { context, budget, policy, spec, msPerToken, ratioToDense: denseMs === null ? null : msPerToken / denseMs, tokensInCache: usage.tokensInCache, kvBytes: usage.kvBytes };
        console.log(JSON.stringify(row));
        rows.push(row);
      } catch (e) {
        rows.push({ context, policy, spec, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
        console.log(JSON.stringify(rows[rows.length - 1]));
      }
      save(false);
    }
  }
  save(true);
  await model.destroy();
  console.log(`wrote ${OUT} at ${elapsedS().toFixed(1)} s`);
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
