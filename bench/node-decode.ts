// bench/node-decode: the engine's GPU forward in Node on Dawn (the `webgpu` package), for machines without a
// browser (the H200 box). Same GpuModel as the worker runs (its one decode path, our WGSL decoder). Per model and
// weight format, in the same process, interleaved A B A B (--rounds each, medians and spreads reported):
//   A stepwise:   decode() step by step, logits read back, the id chosen on the CPU (how greedy ran before issue 14)
//   B gpu-greedy: GpuModel.decodeStream, ids chosen on the GPU, encoded ahead, 8 bytes read back per token
// with host encode and readback time, dispatches and compute passes per token.
// Build: node bench/build-node-bench.mjs (bundles WGSL and ORT); run: node .carry/node-bench/node-decode.mjs
// [--tokens N] [--rounds N] [--formats f32,int8,int4] [--only stories|random].
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { argOf as arg, openNodeBenchDevice } from './node-harness.ts';
import { loadModelFromPath } from '../engine/model/node.ts';
import { GpuModel } from '../engine/runtime/index.ts';
import { generateAll, type ForwardBackend } from '../engine/generation/index.ts';
import type { QuantizationMode } from '../engine/quant/index.ts';
import { SMOLLM2_135M_SHAPE, writeRandomCheckpoint } from './random-checkpoint.ts';

const TOKENS = Number(arg('--tokens', '64'));
const ROUNDS = Number(arg('--rounds', '5'));
const OUT = arg('--out', 'bench-node-decode.json');
const STORIES = arg('--stories', '../shared/models/stories260K/stories260K.gguf');
const FORMATS = arg('--formats', 'f32,int8,int4').split(',') as QuantizationMode[];

/** The model without decodeStream: generation samples on the CPU from each step's logits. */
function stepwise(model: GpuModel): ForwardBackend {
  return {
    config: model.config, prefill: (ids, rows, o) => model.prefill(ids, rows, o), decode: (id) => model.decode(id),
    reset: () => model.reset(), cacheUsage: () => model.cacheUsage(), contextLength: () => model.contextLength(),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs: number[]) => (Math.max(...xs) - Math.min(...xs)) / median(xs);

async function main() {
  const { engine, adapter } = await openNodeBenchDevice();
  console.log(`adapter: ${adapter}`);
  const rows = [];
  const only = arg('--only', '');
  const models: [string, () => string, QuantizationMode[]][] = [
    ['stories260K', () => STORIES, ['f32']],
    ['random SmolLM2-135M shape (30 layers)', () => writeRandomCheckpoint(join(tmpdir(), 'sieve-bench-smollm2-135m-shape'), SMOLLM2_135M_SHAPE), FORMATS],
  ];
  const prompt = [1, 5, 9, 13, 17, 21, 25, 29];
  for (const [label, path, formats] of models) {
    if (only && !label.startsWith(only)) continue;
    const loaded = await loadModelFromPath(path());
    for (const quantization of formats) {
      const model = await GpuModel.create(engine, loaded, undefined, { quantization });
      const modes: [string, ForwardBackend][] = [['stepwise', stepwise(model)], ['gpu-greedy', model]];
      for (const [, backend] of modes) await generateAll(backend, { ids: prompt.slice(0, 4), maxTokens: 8, eosTokenIds: [], ignoreEos: true }); // warm-up
      const per: Record<string, { ms: number[]; encode: number[]; readback: number[]; ids: number[][]; dispatches: number; passes: number; tps: number[] }> = {};
      for (let r = 0; r < ROUNDS; r++) {
        for (const [mode, backend] of modes) {
          model.takeProfile();
          const g = await generateAll(backend, { ids: prompt, maxTokens: TOKENS + 1, eosTokenIds: [], ignoreEos: true });
          const p = model.takeProfile();
          const m = (per[mode] ??= { ms: [], encode: [], readback: [], ids: [], dispatches: 0, passes: 0, tps: [] });
          m.ms.push(p.totalMs / p.steps);
          m.encode.push(p.encodeMs / p.steps);
          m.readback.push(p.readbackMs / p.steps);
          m.tps.push(g.usage.decode_tokens_per_s);
          m.ids.push(g.ids);
          m.dispatches = p.dispatchesPerStep;
          m.passes = p.passesPerStep;
        }
      }
      const sameIds = per.stepwise.ids.every((ids) => JSON.stringify(ids) === JSON.stringify(per['gpu-greedy'].ids[0]))
        && per['gpu-greedy'].ids.every((ids) => JSON.stringify(ids) === JSON.stringify(per['gpu-greedy'].ids[0]));
      for (const [mode, m] of Object.entries(per)) {
        const row = {
          model: label, quantization, mode, adapter, layers: loaded.config.numLayers, rounds: ROUNDS, decodeSteps: TOKENS,
          msPerToken: median(m.ms), msPerTokenSpread: spread(m.ms), decodeTokensPerS: median(m.tps),
          encodeMsPerToken: median(m.encode), readbackMsPerToken: median(m.readback),
          dispatchesPerToken: m.dispatches, passesPerToken: m.passes,
          hostEncodeUsPerDispatch: (1000 * median(m.encode)) / m.dispatches, idsEqualStepwise: sameIds,
          weightBytes: model.weightBytes,
        };
        console.log(JSON.stringify(row));
        rows.push(row);
      }
      await model.destroy();
    }
  }
  writeFileSync(OUT, JSON.stringify({ date: new Date().toISOString(), note: 'Node on Dawn; medians of interleaved rounds (A stepwise, B gpu-greedy); spread = (max - min) / median', rows }, null, 2));
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
