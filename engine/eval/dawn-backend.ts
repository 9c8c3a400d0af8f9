// The eval's `dawn` backend: the GPU engine's GpuModel in Node on Dawn (the `webgpu` package): NVIDIA's Vulkan
// driver on the GPU machine, SwiftShader here. Each spec runs the item on a fresh sequence with the prompt in one
// prefill chunk (as the reference backend and the papers process a prompt: every policy sees all of it before it
// evicts or selects).
import { existsSync } from 'node:fs';
import type { LoadedModel } from '../model/index.ts';
import { continueItem, type EvalBackend, type ItemRun } from './backend.ts';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export async function createDawnBackend(loaded: LoadedModel, calibrations: ReadonlyMap<string, unknown>): Promise<EvalBackend> {
  // Without a Vulkan driver named, Dawn finds none on this machine: SwiftShader is Chromium's.
  if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  // The engine's GPU modules read WebGPU's globals (GPUBufferUsage) when they load: install Dawn's first.
  const { openNodeBenchDevice } = await import('../../bench/node-harness.ts');
  const { GpuModel, MAX_PREFILL_CHUNK } = await import('../runtime/index.ts');
  const { createPolicy, parseAttentionSpec } = await import('../attention/index.ts');
  const { engine } = await openNodeBenchDevice();
  const model = await GpuModel.create(engine, loaded, undefined, { prefillChunk: MAX_PREFILL_CHUNK });
  const config = loaded.config;
  return {
    name: 'dawn',
    config,
    async run(item, specs) {
      const runs: ItemRun[] = [];
      for (const spec of specs) {
        await model.reset();
        model.setPolicy(createPolicy(parseAttentionSpec(spec), { config, calibration: calibrations.get(spec.split(':')[0]), calibrationSearched: 'none beside the model' }));
        const t0 = performance.now();
        const first = await model.prefill([...item.ids], 'last');
        const t1 = performance.now();
        const { generated, nll, steps } = await continueItem(item, first, model, config.eosTokenIds);
        const usage = model.cacheUsage();
        runs.push({ spec, generated, nll, kvBytes: usage.kvBytes, tokensInCache: usage.tokensInCache, prefillMs: t1 - t0, decodeMs: performance.now() - t1, decodeSteps: steps });
      }
      return runs;
    },
    close: () => model.destroy(),
  };
}
