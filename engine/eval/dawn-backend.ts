// The eval's `dawn` backend: the GPU engine's GpuModel in Node on Dawn (the `webgpu` package): NVIDIA's Vulkan
// driver on the GPU machine, SwiftShader here. Each spec runs the item on a fresh sequence with the prompt in one
// prefill chunk (as the reference backend and the papers process a prompt: every policy sees all of it before it
// evicts or selects). Retrieval answers are chosen on the GPU (decodeStream's argmax, ties to the lower id as
// argmaxOf; the host encodes steps ahead and reads back ids, not logits); perplexity reads every step's logits.
import { existsSync } from 'node:fs';
import type { LoadedModel } from '../model/index.ts';
import type { AttentionPolicy } from '../attention/index.ts';
import { argmaxOf, continueItem, type EvalBackend, type ItemRun } from './backend.ts';
import { ANSWER_TOKENS, type EvalItem } from './tasks.ts';

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
  /** One (item, spec) on a fresh sequence under `policy` (set already, or set here: the same object is kept). */
  const runOne = async (item: EvalItem, spec: string, policy: AttentionPolicy, setup: number): Promise<ItemRun> => {
    await model.reset();
    model.setPolicy(policy);
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
    return { spec, generated: result.generated, nll: result.nll, kvBytes: usage.kvBytes, tokensInCache: usage.tokensInCache, setupMs: t0 - setup, prefillMs: t1 - t0, decodeMs: performance.now() - t1, decodeSteps: result.steps };
  };
  return {
    name: 'dawn',
    adapter,
    config,
    async run(jobs, shouldStop) {
      // Spec by spec over the batch: one policy object per spec serves every item of the batch, each on a fresh
      // sequence (reset, as the engine resets the cache for the next request under the same stateful policy), so
      // its buffers and kernels are built once a batch, not once an item (H200 run 1 at 1K: recycled's 6 decode steps
      // took 34 ms each against dense's 16, quest's prefill 200 ms against 147, largely kernels built on first use;
      // bench/eval-profile.ts measures it). GpuModel frees a policy when the next replaces it.
      const out: ItemRun[][] = jobs.map(() => []);
      const order = [...new Set(jobs.flatMap((j) => j.specs))];
      for (const spec of order) {
        let policy: AttentionPolicy | null = null;
        for (const [i, job] of jobs.entries()) {
          if (!job.specs.includes(spec)) continue;
          if (shouldStop?.()) return out.map((runs, k) => runs.sort((x, y) => jobs[k].specs.indexOf(x.spec) - jobs[k].specs.indexOf(y.spec)));
          const setup = performance.now();
          policy ??= createPolicy(parseAttentionSpec(spec), { config, calibration: calibrations.get(spec.split(':')[0]), calibrationSearched: 'none beside the model' });
          out[i].push(await runOne(job.item, spec, policy, setup));
        }
      }
      // Each job's runs in its specs' order.
      return out.map((runs, k) => runs.sort((x, y) => jobs[k].specs.indexOf(x.spec) - jobs[k].specs.indexOf(y.spec)));
    },
    close: () => model.destroy(),
  };
}
