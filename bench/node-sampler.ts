// bench/node-sampler: tokens chosen on the GPU (issue 14 items 3 and 7), the engine's GpuModel in Node on Dawn. On a
// random-weight model (default: the Llama-3.2-1B shape with int4 codes written straight to the GPU), interleaved
// rounds (each mode once per round, in this order) of:
//   dense greedy            argmax kernel, encoded ahead (the baseline of the sampled modes)
//   dense sampled           the sampler kernel (temperature 0.8, top-p 0.9, top-k 50, repetition 1.1, presence 0.2,
//                           frequency 0.1, seed 7), encoded ahead
//   dense sampled stepwise  logits read back, the CPU sampler (how sampled decode ran before)
//   quest / h2o at --budget encoded ahead (model.encodeAhead 2) | waiting for each id (0; the id still chosen on the
//                           GPU)
// Per mode: median and spread of ms/token (wall clock from the first token to the last, as usage.decode_tokens_per_s),
// tokens/s, the ratio to its baseline in the same rounds, dispatches per token and the policy's share of them, and
// whether ids agree (GPU-sampled = CPU-sampled for the same seed; ahead = waiting). Stops starting rounds when
// --budget-s would pass, writing the results after every round.
// Build: node bench/build-node-bench.mjs; run: node .carry/node-bench/node-sampler.mjs [--shape 1b|tiny] [--rounds 5]
// [--tokens 32] [--context 1024] [--budget 256] [--budget-s 18] [--out node-sampler.json]
import { writeFileSync } from 'node:fs';
import { argOf as arg, openNodeBenchDevice } from './node-harness.ts';
import { createPolicy, type AttentionPolicy } from '../engine/attention/index.ts';
import { GREEDY, generateAll, type ForwardBackend, type SamplingParams } from '../engine/generation/index.ts';
import { GpuModel } from '../engine/runtime/index.ts';
import { configOfShape, LLAMA_3_2_1B_SHAPE, randomGpuWeights, type LlamaShape } from './random-checkpoint.ts';

const SHAPE = arg('--shape', '1b');
const ROUNDS = Number(arg('--rounds', '5'));
const TOKENS = Number(arg('--tokens', '32'));
const CONTEXT = Number(arg('--context', '1024'));
const BUDGET = Number(arg('--budget', '256'));
const BUDGET_S = Number(arg('--budget-s', '18'));
const OUT = arg('--out', 'node-sampler.json');

const TINY: LlamaShape = {
  hiddenSize: 64, intermediateSize: 128, numLayers: 4, numHeads: 4, numKvHeads: 2, vocabSize: 512, maxPositionEmbeddings: 512, ropeTheta: 10000, tieWordEmbeddings: true,
};
const SAMPLING: SamplingParams = {
  ...GREEDY, temperature: 0.8, topP: 0.9, topK: 50, repetitionPenalty: 1.1, presencePenalty: 0.2, frequencyPenalty: 0.1, seed: 7,
};

/** The model without decodeStream: generation reads each step's logits back and samples on the CPU. */
function stepwise(model: GpuModel): ForwardBackend {
  return {
    config: model.config, prefill: (ids, rows, o) => model.prefill(ids, rows, o), decode: (id) => model.decode(id),
    reset: () => model.reset(), cacheUsage: () => model.cacheUsage(), contextLength: () => model.contextLength(),
    cachedPrefixLength: (ids) => model.cachedPrefixLength(ids), truncate: (n) => model.truncate(n),
  };
}

interface Mode {
  name: string;
  /** The mode whose median this one's is divided by. */
  baseline: string;
  policy: AttentionPolicy;
  backend: ForwardBackend;
  sampling: SamplingParams;
  ahead: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs: number[]) => (Math.max(...xs) - Math.min(...xs)) / median(xs);

async function main() {
  const t0 = performance.now();
  const elapsedS = () => (performance.now() - t0) / 1000;
  const { engine, adapter } = await openNodeBenchDevice();
  console.log(`device at ${elapsedS().toFixed(1)} s: ${adapter}`);
  const shape = SHAPE === 'tiny' ? TINY : LLAMA_3_2_1B_SHAPE;
  const config = configOfShape(shape);
  const quantization = 'int4';
  const weights = randomGpuWeights(engine.device, config, quantization);
  console.log(`weights written at ${elapsedS().toFixed(1)} s`);
  const model = await GpuModel.build(engine, config, weights);
  const builtS = elapsedS();
  console.log(`model built at ${builtS.toFixed(1)} s (${(model.weightBytes / 1e9).toFixed(2)} GB)`);
  const policy = (spec: string) => { const p = createPolicy(spec === 'dense' ? { policy: 'dense' } : { policy: spec, budget: BUDGET }, { config }); return p; };
  const dense = policy('dense');
  const quest = policy('quest');
  const h2o = policy('h2o');
  const modes: Mode[] = [
    { name: 'dense greedy', baseline: 'dense greedy', policy: dense, backend: model, sampling: GREEDY, ahead: 2 },
    { name: 'dense sampled', baseline: 'dense greedy', policy: dense, backend: model, sampling: SAMPLING, ahead: 2 },
    { name: 'dense sampled stepwise', baseline: 'dense sampled', policy: dense, backend: stepwise(model), sampling: SAMPLING, ahead: 2 },
    { name: `quest:budget=${BUDGET} ahead`, baseline: `quest:budget=${BUDGET} waiting`, policy: quest, backend: model, sampling: GREEDY, ahead: 2 },
    { name: `quest:budget=${BUDGET} waiting`, baseline: `quest:budget=${BUDGET} waiting`, policy: quest, backend: model, sampling: GREEDY, ahead: 0 },
    { name: `h2o:budget=${BUDGET} ahead`, baseline: `h2o:budget=${BUDGET} waiting`, policy: h2o, backend: model, sampling: GREEDY, ahead: 2 },
    { name: `h2o:budget=${BUDGET} waiting`, baseline: `h2o:budget=${BUDGET} waiting`, policy: h2o, backend: model, sampling: GREEDY, ahead: 0 },
  ];
  let seed = 99;
  const prompt = Array.from({ length: CONTEXT }, () => { seed = (seed * 1103515245 + 12345) % 2147483648; return 3 + (seed % (config.vocabSize - 3)); });
  const per = new Map<string, { ms: number[]; ids: number[][]; dispatches: number; policyDispatches: number; passes: number; tokensInCache: number }>();
  const run = async (m: Mode, tokens: number) => {
    model.setPolicy(m.policy);
    model.encodeAhead = m.ahead;
    model.takeProfile();
    const r = await generateAll(m.backend, { ids: prompt, maxTokens: tokens + 1, eosTokenIds: [], ignoreEos: true, sampling: m.sampling });
    return { r, profile: model.takeProfile() };
  };
  const write = (roundsDone: number) => {
    const rows = modes.filter((m) => per.has(m.name)).map((m) => {
      const d = per.get(m.name)!;
      const base = per.get(m.baseline);
      const ms = median(d.ms);
      return {
        mode: m.name, baseline: m.baseline, rounds: d.ms.length, msPerToken: +ms.toFixed(3), msPerTokenSpread: +spread(d.ms).toFixed(3),
        tokensPerS: +(1000 / ms).toFixed(1), vsBaseline: base ? +(median(base.ms) / ms).toFixed(3) : null,
        dispatchesPerToken: d.dispatches, policyDispatchesPerToken: d.policyDispatches, passesPerToken: d.passes, tokensInCache: d.tokensInCache,
      };
    });
    const same = (a: string, b: string) => {
      const x = per.get(a)?.ids, y = per.get(b)?.ids;
      return x && y ? x.every((ids, i) => JSON.stringify(ids) === JSON.stringify(y[i])) : null;
    };
    const report = {
      date: new Date().toISOString(), adapter, shape: SHAPE === 'tiny' ? 'tiny' : 'Llama-3.2-1B', quantization, layers: config.numLayers, vocab: config.vocabSize,
      context: CONTEXT, decodeTokens: TOKENS, budget: BUDGET, roundsDone, sampling: { ...SAMPLING, logitBias: {} },
      how: 'Node on Dawn; GpuModel over random int4 codes; rounds interleaved (every mode once per round, in the order listed); ms/token = wall clock from the first token to the last / tokens (usage.decode_tokens_per_s); medians, spread = (max - min) / median; vsBaseline = baseline median / this median (> 1: faster)',
      idsEqual: {
        sampledGpuVsCpu: same('dense sampled', 'dense sampled stepwise'),
        questAheadVsWaiting: same(`quest:budget=${BUDGET} ahead`, `quest:budget=${BUDGET} waiting`),
        h2oAheadVsWaiting: same(`h2o:budget=${BUDGET} ahead`, `h2o:budget=${BUDGET} waiting`),
      },
      rows,
      modelBuiltS: +builtS.toFixed(1),
      elapsedS: +elapsedS().toFixed(1),
    };
    writeFileSync(OUT, JSON.stringify(report, null, 2));
    return report;
  };
  write(0);
  // Warm-up: every pipeline built, every policy's state made.
  for (const m of modes) {
    await run(m, 2);
    console.log(`warm-up ${m.name} done at ${elapsedS().toFixed(1)} s`);
  }
  let roundS = 0;
  for (let round = 0; round < ROUNDS; round++) {
    if (round > 0 && elapsedS() + roundS * 1.2 > BUDGET_S) { console.log(`stopping after ${round} rounds: the budget`); break; }
    const rs = performance.now();
    for (const m of modes) {
      const { r, profile } = await run(m, TOKENS);
      const d = per.get(m.name) ?? { ms: [], ids: [], dispatches: 0, policyDispatches: 0, passes: 0, tokensInCache: 0 };
      per.set(m.name, d);
      d.ms.push(1000 / r.usage.decode_tokens_per_s);
      d.ids.push(r.ids);
      d.dispatches = profile.dispatchesPerStep;
      d.policyDispatches = profile.policyDispatchesPerStep;
      d.passes = profile.passesPerStep;
      d.tokensInCache = r.usage.tokens_in_cache;
    }
    roundS = (performance.now() - rs) / 1000;
    write(round + 1);
    console.log(`round ${round + 1}: ${roundS.toFixed(2)} s`);
  }
  const report = write(per.get('dense greedy')?.ms.length ?? 0);
  for (const row of report.rows) console.log(JSON.stringify(row));
  console.log(JSON.stringify(report.idsEqual));
  await model.destroy();
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
