// The eval's `dawn` backend: the GPU engine's GpuModel in Node on Dawn (the `webgpu` package): NVIDIA's Vulkan
// driver on the GPU machine, SwiftShader here. Each spec runs the item on a fresh sequence with the prompt in one
// prefill chunk (as the reference backend and the papers process a prompt: every policy sees all of it before it
// evicts or selects). Retrieval answers are chosen on the GPU (decodeStream's argmax, ties to the lower id as
// argmaxOf; the host encodes steps ahead and reads back ids, not logits); perplexity reads every step's logits.
import { existsSync } from 'node:fs';
import type { LoadedModel } from '../model/index.ts';
import { argmaxOf, continueItem, type EvalBackend, type ItemRun } from './backend.ts';
import { ANSWER_TOKENS } from './tasks.ts';

/** Chromium's software Vulkan driver: without a driver named, Dawn finds none on a machine without a GPU. */
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export async function createDawnBackend(loaded: LoadedModel, calibrations: ReadonlyMap<string, unknown>): Promise<EvalBackend & { adapter: string }> {
  if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  // The engine's GPU modules read WebGPU's globals (GPUBufferUsage) when they load: Dawn's are installed first.
  const { openNodeEngineDevice } = await import('../gpu/node.ts');
  const { engine, adapter } = await openNodeEngineDevice();
  const { GpuModel, MAX_PREFILL_CHUNK } = await import('../runtime/index.ts');
  const { createPolicy, parseAttentionSpec } = await import('../attention/index.ts');
  const model = await GpuModel.create(engine, loaded, undefined, { prefillChunk: MAX_PREFILL_CHUNK });
  const config = loaded.config;
  const eos = config.eosTokenIds;
  return {
    name: 'dawn',
    adapter,
    config,
    async run(item, specs) {
      const runs: ItemRun[] = [];
      for (const spec of specs) {
        const setup = performance.now();
        await model.reset();
        model.setPolicy(createPolicy(parseAttentionSpec(spec), { config, calibration: calibrations.get(spec.split(':')[0]), calibrationSearched: 'none beside the model' }));
        const t0 = performance.now();
        const first = await model.prefill([...item.ids], 'last');
        const t1 = performance.now();
        let result: { generated: number[]; nll: number | null; steps: number };
        if (item.task === 'perplexity') result = await continueItem(item, first, model, eos);
        else {
          // continueItem's loop, with each next id chosen on the GPU.
          const generated = [argmaxOf(first)];
          if (!eos.includes(generated[0])) {
            for await (const id of model.decodeStream(generated[0], ANSWER_TOKENS - 1)) {
              generated.push(id);
              if (eos.includes(id)) break;
            }
          }
          result = { generated, nll: null, steps: generated.length - 1 };
        }
        const usage = model.cacheUsage();
        runs.push({ spec, generated: result.generated, nll: result.nll, kvBytes: usage.kvBytes, tokensInCache: usage.tokensInCache, setupMs: t0 - setup, prefillMs: t1 - t0, decodeMs: performance.now() - t1, decodeSteps: result.steps });
      }
      return runs;
    },
    close: () => model.destroy(),
  };
}
