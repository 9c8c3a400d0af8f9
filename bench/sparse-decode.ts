// bench/sparse-decode: decode step time against context length for dense and each policy at a budget of 256 tokens
// (issue 5 item 5), as ratios to dense measured in the same run, on a seeded random model in Node on Dawn.
// Build: node bench/build-node-bench.mjs; run: node .carry/node-bench/sparse-decode.mjs [--contexts 512,1024,...]
//   [--budget 256] [--steps 32] [--policies quest,tidal,...] [--out FILE]
// Writes bench/results/sparse-decode.json (or --out). Not a test: numbers, no asserts.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { argOf, openNodeBenchDevice } from './node-harness.ts';
import { createPolicy, listPolicies, parseAttentionSpec } from '../engine/attention/index.ts';
import { calibrateWindows, type CalibrationMethod } from '../engine/calibration/index.ts';
import { argmax } from '../engine/generation/index.ts';
import { loadModelFromPath } from '../engine/model/node.ts';
import { GpuModel } from '../engine/runtime/index.ts';
import { writeRandomCheckpoint, type LlamaShape } from './random-checkpoint.ts';

const CONTEXTS = argOf('--contexts', '512,1024,2048,4096,8192,16384,32768').split(',').map(Number);
const BUDGET = Number(argOf('--budget', '256'));
const STEPS = Number(argOf('--steps', '32'));
const POLICIES = argOf('--policies', 'dense,quest,tidal,double-sparsity,fasa,recycled,streaming,h2o,a2sf').split(',').map((p) => p.trim()).filter(Boolean);
const OUT = argOf('--out', 'bench/results/sparse-decode.json');
/** Decode steps before timing: shader compilation and the first full steps of a schedule (Recycled's). */
const WARMUP_STEPS = 4;

/**
 * A Llama-shaped random model where attention is a real share of a step at long contexts: 8 layers, hidden 512,
 * 8 query heads on 2 KV heads (GQA 4, as Llama-3), head dim 64, 32K context. Small weights keep the dense matvecs
 * cheap, so the attention's share — what the policies change — shows in the step time.
 */
const SHAPE: LlamaShape = {
  hiddenSize: 512, intermediateSize: 1408, numLayers: 8, numHeads: 8, numKvHeads: 2, vocabSize: 4096,
  maxPositionEmbeddings: Math.max(...CONTEXTS) + WARMUP_STEPS + STEPS + 16, ropeTheta: 500_000, tieWordEmbeddings: true,
};

/** Deterministic prompt ids (a multiplicative hash), so every policy sees the same context. */
const promptOf = (n: number): number[] => Array.from({ length: n }, (_, i) => (i * 2654435761 >>> 0) % (SHAPE.vocabSize - 2) + 1);

async function main() {
  const { engine, adapter } = await openNodeBenchDevice();
  const registered = listPolicies();
  console.log(`adapter: ${adapter}; registered policies: ${registered.join(', ')}`);
  const path = writeRandomCheckpoint(join(tmpdir(), `sieve-bench-sparse-${SHAPE.numLayers}x${SHAPE.hiddenSize}-ctx${SHAPE.maxPositionEmbeddings}`), SHAPE);
  const loaded = await loadModelFromPath(path);
  const model = await GpuModel.create(engine, loaded);
  // Double Sparsity and FASA need a calibration artifact: made here on the CPU reference over the bench's own kind
  // of prompt (two 256-token windows), as `sieve calibrate` makes one from text.
  const calibrations = new Map<string, unknown>();
  for (const method of ['double-sparsity', 'fasa'] as CalibrationMethod[]) {
    if (!POLICIES.includes(method) || !registered.includes(method)) continue;
    const t0 = performance.now();
    const w = Math.min(256, SHAPE.maxPositionEmbeddings);
    const windows = [promptOf(2 * w).slice(0, w), promptOf(2 * w).slice(w)];
    calibrations.set(method, calibrateWindows(loaded, method, windows, { textName: 'bench prompt ids' }));
    console.log(`${method} calibrated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const rows: Record<string, unknown>[] = [];
  for (const context of CONTEXTS) {
    let denseMs: number | null = null;
    for (const policy of POLICIES) {
      const spec = policy === 'dense' ? 'dense' : `${policy}:budget=${BUDGET}`;
      if (!registered.includes(policy)) {
        rows.push({ context, policy, spec, available: false });
        continue;
      }
      try {
        await model.reset();
        model.setPolicy(createPolicy(parseAttentionSpec(spec), { config: loaded.config, calibration: calibrations.get(policy) }));
        let next = argmax(await model.prefill(promptOf(context), 'last'));
        for (let i = 0; i < WARMUP_STEPS; i++) next = argmax(await model.decode(next));
        const t0 = performance.now();
        for (let i = 0; i < STEPS; i++) next = argmax(await model.decode(next));
        const msPerStep = (performance.now() - t0) / STEPS;
        if (policy === 'dense') denseMs = msPerStep;
        const row = { context, policy, spec, msPerStep, ratioToDense: denseMs === null ? null : msPerStep / denseMs, tokensInCache: model.cacheUsage().tokensInCache };
        console.log(JSON.stringify(row));
        rows.push(row);
      } catch (e) {
        const error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
        console.log(JSON.stringify({ context, policy, error }));
        rows.push({ context, policy, spec, error });
      }
    }
  }
  await model.destroy();
  writeFileSync(OUT, JSON.stringify({ date: new Date().toISOString(), adapter, budget: BUDGET, steps: STEPS, model: SHAPE, rows }, null, 2));
  console.log(`wrote ${OUT}`);
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
