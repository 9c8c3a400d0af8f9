// Decoding with the ids chosen on the GPU (GpuModel.decodeStream: argmax or sampler kernel, id buffer, encode-ahead,
// 16-byte readbacks) against the same model decoded step by step through decode() and the CPU sampler, on Dawn
// (SwiftShader) with stories260K: the same ids, the same cache after a stop found with steps already encoded past
// it, the same next turn; seeded sampling with truncation and penalties; under a selecting policy (quest) and an
// evicting one (h2o, its evictions past the stop undone), both encoded ahead; and against stories260K's published
// greedy output.
// First: puts WebGPU's globals (GPUBufferUsage, ...) in place before the engine's modules read them at import.
import { installNodeNavigatorGpu } from '../gpu/node-webgpu.test-helper.ts';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPolicy } from '../attention/index.ts';
import { GREEDY, generateAll, type ForwardBackend, type SamplingParams } from '../generation/index.ts';
import { createEngineDevice } from '../gpu/index.ts';
import { loadModelFromPath } from '../model/node.ts';
import { GpuModel, DECODE_ENCODE_AHEAD } from './index.ts';

const STORIES = fileURLToPath(new URL('../../../shared/models/stories260K/', import.meta.url));

function publishedIds(): number[] {
  const readme = readFileSync(`${STORIES}README.md`, 'utf8');
  const section = readme.slice(readme.indexOf('## Known output'));
  return section.slice(section.indexOf('Token ids:') + 'Token ids:'.length, section.indexOf('Text (')).trim().split(/\s+/).map(Number);
}

/** The same model without decodeStream: generation then samples on the CPU from each step's logits. */
function stepwise(model: GpuModel): ForwardBackend {
  return {
    config: model.config,
    prefill: (ids, rows, o) => model.prefill(ids, rows, o),
    decode: (id) => model.decode(id),
    reset: () => model.reset(),
    cacheUsage: () => model.cacheUsage(),
    contextLength: () => model.contextLength(),
    cachedPrefixLength: (ids) => model.cachedPrefixLength(ids),
    truncate: (n) => model.truncate(n),
  };
}

let model: GpuModel;
beforeAll(async () => {
  installNodeNavigatorGpu();
  const engine = await createEngineDevice();
  model = await GpuModel.create(engine, await loadModelFromPath(`${STORIES}stories260K.gguf`));
});
afterAll(async () => { await model?.destroy(); });

describe('greedy decoding chosen on the GPU', () => {
  it('gives the published stories260K ids and the step-by-step run\'s, and reads back ids only', async () => {
    const req = { ids: [1], maxTokens: 40, eosTokenIds: [], ignoreEos: true };
    model.takeProfile();
    const gpu = await generateAll(model, req);
    const profile = model.takeProfile();
    const cpu = await generateAll(stepwise(model), req);
    expect(gpu.ids).toEqual(cpu.ids);
    expect(gpu.ids).toEqual(publishedIds().slice(0, 40));
    expect(gpu.usage.tokens_in_cache).toBe(cpu.usage.tokens_in_cache);
    expect(gpu.usage.tokens_in_cache).toBe(40);
    // 39 steps through the stream; every step's dispatches counted, the argmax among them.
    expect(profile.steps).toBe(39);
    expect(profile.dispatchesPerStep).toBeGreaterThan(model.config.numLayers * 5);
  });

  it('undoes the steps encoded past a stop: the cache and the next turn equal a step-by-step run', async () => {
    const published = publishedIds();
    // An EOS id first generated at token 12: the stream has already encoded DECODE_ENCODE_AHEAD steps past it.
    const stopAt = published.findIndex((id, i) => i >= 12 && published.indexOf(id) === i);
    const eos = published[stopAt];
    const runs = [];
    for (const backend of [model, stepwise(model)]) {
      await backend.reset();
      const first = await generateAll(backend, { ids: [1], maxTokens: 60, eosTokenIds: [eos] });
      const held = backend.cacheUsage().tokensInCache;
      // The next turn goes on from the cache (prefix reuse) with the conversation so far plus two more ids.
      const second = await generateAll(backend, { ids: [1, ...first.ids, 13, 7], maxTokens: 12, eosTokenIds: [] });
      runs.push({ first, held, second });
    }
    const [gpu, cpu] = runs;
    expect(DECODE_ENCODE_AHEAD).toBeGreaterThan(0);
    expect(gpu.first.finishReason).toBe('stop');
    expect(gpu.first.ids).toEqual(published.slice(0, stopAt + 1));
    expect(gpu.first.ids).toEqual(cpu.first.ids);
    // The prompt and every id but the EOS were fed.
    expect(gpu.held).toBe(1 + stopAt);
    expect(gpu.held).toBe(cpu.held);
    expect(gpu.second.reusedPrefix).toBe(cpu.second.reusedPrefix);
    expect(gpu.second.reusedPrefix).toBe(1 + stopAt);
    expect(gpu.second.ids).toEqual(cpu.second.ids);
  });

  it('under h2o (evicting) encodes ahead and undoes the evictions past a stop: the step-by-step ids, cache and next turn', async () => {
    const policy = () => createPolicy({ policy: 'h2o', budget: 16, recent: 4 }, { config: model.config });
    const prompt = [1, 5, 9, 13, 17, 21];
    model.setPolicy(policy());
    await model.reset();
    const all = await generateAll(model, { ids: prompt, maxTokens: 30, eosTokenIds: [], ignoreEos: true });
    // An EOS first generated at token 16 or later: the cache is full and every step evicts, two encoded past it.
    const stopAt = all.ids.findIndex((id, i) => i >= 16 && all.ids.indexOf(id) === i);
    const runs = [];
    for (const backend of [model, stepwise(model)]) {
      model.setPolicy(policy());
      await backend.reset();
      const first = await generateAll(backend, { ids: prompt, maxTokens: 30, eosTokenIds: [all.ids[stopAt]] });
      const held = backend.cacheUsage();
      // The next turn goes on from the bounded cache; its logprobs (exact f32 values, read on the synchronous path)
      // differ unless every kept key, value, position and score is what the step-by-step run left.
      const second = await generateAll(backend, { ids: [...prompt, ...first.ids, 13, 7], maxTokens: 6, eosTokenIds: [], logprobs: 0 });
      runs.push({ first: first.ids, held, second: second.ids, reused: second.reusedPrefix, logprobs: second.logprobs });
    }
    model.setPolicy(createPolicy({ policy: 'dense' }, { config: model.config }));
    await model.reset();
    const [gpu, cpu] = runs;
    expect(stopAt).toBeGreaterThan(0);
    expect(gpu.first).toEqual(all.ids.slice(0, stopAt + 1));
    expect(gpu).toEqual(cpu);
    expect(gpu.held.tokensInCache).toBeLessThanOrEqual(16);
    expect(gpu.reused).toBe(prompt.length + gpu.first.length - 1);
  });

  it('samples on the GPU as the CPU sampler does (seed, temperature, top-p, penalties), and stops at an EOS alike', async () => {
    const sampling: SamplingParams = {
      ...GREEDY, temperature: 0.9, topP: 0.9, topK: 40, repetitionPenalty: 1.2, frequencyPenalty: 0.3, logitBias: new Map([[13, 1]]), seed: 2024,
    };
    const req = { ids: [1, 5, 9], maxTokens: 20, eosTokenIds: [], ignoreEos: true, sampling };
    const gpu = await generateAll(model, req);
    const cpu = await generateAll(stepwise(model), req);
    expect(gpu.ids).toEqual(cpu.ids);
    expect(new Set(gpu.ids).size).toBeGreaterThan(5);
    // An EOS first drawn at token 10 or later: two steps were already encoded past it.
    const stopAt = gpu.ids.findIndex((id, i) => i >= 10 && gpu.ids.indexOf(id) === i);
    const stopped = [];
    for (const backend of [model, stepwise(model)]) {
      await backend.reset();
      const r = await generateAll(backend, { ...req, ignoreEos: false, eosTokenIds: [gpu.ids[stopAt]] });
      stopped.push({ ids: r.ids, finish: r.finishReason, cache: backend.cacheUsage() });
    }
    expect(stopped[0].ids).toEqual(gpu.ids.slice(0, stopAt + 1));
    expect(stopped[0]).toEqual(stopped[1]);
    expect(stopped[0].finish).toBe('stop');
  });

  it('under quest (selecting) encodes ahead and undoes the steps past a stop: the ids, cache and next turn of a step-by-step run', async () => {
    const prompt = publishedIds().slice(0, 48);
    const policy = () => createPolicy({ policy: 'quest', budget: 32 }, { config: model.config });
    model.setPolicy(policy());
    await model.reset();
    const all = await generateAll(model, { ids: [1, ...prompt], maxTokens: 16, eosTokenIds: [], ignoreEos: true });
    const stopAt = all.ids.findIndex((id, i) => i >= 8 && all.ids.indexOf(id) === i);
    const runs = [];
    for (const backend of [model, stepwise(model)]) {
      model.setPolicy(policy());
      await backend.reset();
      model.takeProfile();
      const first = await generateAll(backend, { ids: [1, ...prompt], maxTokens: 16, eosTokenIds: [all.ids[stopAt]] });
      const profile = model.takeProfile();
      const held = backend.cacheUsage();
      const second = await generateAll(backend, { ids: [1, ...prompt, ...first.ids, 13, 7], maxTokens: 8, eosTokenIds: [] });
      runs.push({ first: first.ids, held, second: second.ids, reused: second.reusedPrefix, profile });
    }
    model.setPolicy(createPolicy({ policy: 'dense' }, { config: model.config }));
    await model.reset();
    const [gpu, cpu] = runs;
    expect(gpu.first).toEqual(all.ids.slice(0, stopAt + 1));
    expect(gpu.first).toEqual(cpu.first);
    expect(gpu.first.length).toBeGreaterThan(8);
    expect(gpu.held).toEqual(cpu.held);
    expect(gpu.held.tokensInCache).toBe(1 + prompt.length + gpu.first.length - 1);
    expect(gpu.reused).toBe(cpu.reused);
    expect(gpu.second).toEqual(cpu.second);
    // Item 7: at most 2 dispatches per layer where quest selects (all but its dense layers), reported by the profile.
    const selecting = model.config.numLayers - 2;
    expect(gpu.profile.policyDispatchesPerStep).toBeGreaterThan(0);
    expect(gpu.profile.policyDispatchesPerStep).toBeLessThanOrEqual(2 * selecting);
  });
});
