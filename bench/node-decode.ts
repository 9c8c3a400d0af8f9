// bench/node-decode: the engine's GPU forward in Node on Dawn (the `webgpu` package), for machines without a
// browser (the H200 box). Same GpuModel as the worker runs (its one decode path, our WGSL decoder); reports decode
// ms/token and its breakdown: host encode and readback time, dispatches and compute passes per token.
// Build: node bench/build-node-bench.mjs (bundles WGSL and ORT); run: node .carry/node-decode.mjs [--tokens N].
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { argOf as arg, openNodeBenchDevice } from './node-harness.ts';
import { loadModelFromPath } from '../engine/model/node.ts';
import { GpuModel } from '../engine/runtime/index.ts';
import { generateGreedy } from '../engine/generation/index.ts';
import { SMOLLM2_135M_SHAPE, writeRandomCheckpoint } from './random-checkpoint.ts';

const TOKENS = Number(arg('--tokens', '64'));
const OUT = arg('--out', 'bench-node-decode.json');
const STORIES = arg('--stories', '../shared/models/stories260K/stories260K.gguf');

async function main() {
  const { engine, adapter } = await openNodeBenchDevice();
  console.log(`adapter: ${adapter}`);
  const rows = [];
  const models: [string, string, number][] = [
    ['stories260K', STORIES, TOKENS],
    ['random SmolLM2-135M shape (30 layers)', writeRandomCheckpoint(join(tmpdir(), 'sieve-bench-smollm2-135m-shape'), SMOLLM2_135M_SHAPE), TOKENS],
  ];
  const only = arg('--only', '');
  for (const [label, path, tokens] of models) {
    if (only && !label.startsWith(only)) continue;
    const loaded = await loadModelFromPath(path);
    const model = await GpuModel.create(engine, loaded);
    const prompt = [1, 5, 9, 13, 17, 21, 25, 29];
    await generateGreedy(model, { ids: prompt.slice(0, 4), maxTokens: 8, eosTokenIds: [], ignoreEos: true }); // warm-up
    model.takeProfile();
    const r = await generateGreedy(model, { ids: prompt, maxTokens: tokens + 1, eosTokenIds: [], ignoreEos: true });
    const p = model.takeProfile();
    const row = {
      model: label, variant: p.variant, adapter, layers: loaded.config.numLayers, decodeSteps: p.steps,
      msPerToken: p.totalMs / p.steps, encodeMs: p.encodeMs / p.steps, readbackMs: p.readbackMs / p.steps,
      dispatchesPerToken: p.dispatchesPerStep, passesPerToken: p.passesPerStep,
      hostEncodeUsPerDispatch: (1000 * p.encodeMs) / p.steps / p.dispatchesPerStep,
      decodeTokensPerS: r.usage.decode_tokens_per_s, prefillTokensPerS: r.usage.prefill_tokens_per_s,
    };
    console.log(JSON.stringify(row));
    rows.push(row);
    await model.destroy();
  }
  writeFileSync(OUT, JSON.stringify({ date: new Date().toISOString(), rows }, null, 2));
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
