// The GPU sampler kernel (sampler.wgsl) against the CPU TokenSampler on the same logits, on Dawn (SwiftShader): each
// knob alone and all together, several steps in a row (the kernel keeps the penalty counts and the noise counter
// itself), at a small vocabulary and at Llama 3's 128,256; a NaN logit raises the flag.
import { describe, expect, it } from 'vitest';
import { nodeGpuDevice } from '../gpu/node-webgpu.test-helper.ts';
import { GREEDY, SeededRandom, TokenSampler, type SamplingParams } from '../generation/index.ts';
import { encodeDispatch } from './kernels.ts';
import { GpuSampler } from './sampler.ts';
import { CPU_ADAPTER_VARIANT, GPU_VARIANT } from './variants.ts';

function rng(seed: number): () => number {
  const r = new SeededRandom(seed);
  return () => r.next();
}

/** A logits row shaped like a model's: a few strong candidates over a broad tail. */
function logitsRow(next: () => number, vocab: number): Float32Array<ArrayBuffer> {
  const row = new Float32Array(vocab);
  for (let i = 0; i < vocab; i++) row[i] = (next() + next() + next() - 1.5) * 3;
  for (let j = 0; j < 12; j++) row[Math.floor(next() * vocab)] += 4 + next() * 4;
  return row;
}

interface Rig {
  device: GPUDevice;
  sampler: GpuSampler;
  logits: GPUBuffer;
  choice: GPUBuffer;
  staging: GPUBuffer;
}

async function rig(vocab: number, workgroupSize: number): Promise<Rig> {
  const device = await nodeGpuDevice();
  const logits = device.createBuffer({ size: vocab * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  const choice = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  const staging = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  return { device, sampler: new GpuSampler(device, logits, choice, vocab, workgroupSize), logits, choice, staging };
}

/** One step on the GPU: the row in, the sampler dispatched, [id, nonFinite, step] back. */
async function gpuStep(r: Rig, row: Float32Array<ArrayBuffer>): Promise<number[]> {
  r.device.queue.writeBuffer(r.logits, 0, row);
  const encoder = r.device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  encodeDispatch(pass, r.sampler.dispatch);
  pass.end();
  encoder.copyBufferToBuffer(r.choice, 0, r.staging, 0, 16);
  r.device.queue.submit([encoder.finish()]);
  await r.staging.mapAsync(GPUMapMode.READ);
  const v = [...new Uint32Array(r.staging.getMappedRange().slice(0))];
  r.staging.unmap();
  return v.slice(0, 3);
}

function destroy(r: Rig): void {
  r.sampler.destroy();
  for (const b of [r.logits, r.choice, r.staging]) b.destroy();
}

/** Runs `steps` steps of the CPU sampler and the kernel on the same rows; returns both id lists. */
async function compare(r: Rig, params: SamplingParams, vocab: number, steps: number, seed: number): Promise<{ cpu: number[]; gpu: number[] }> {
  const next = rng(seed);
  const prompt = Array.from({ length: 24 }, () => Math.floor(next() * vocab));
  const cpuSampler = new TokenSampler(params, prompt);
  r.sampler.begin({ params, seed: cpuSampler.seed, history: cpuSampler.history });
  const cpu: number[] = [];
  const gpu: number[] = [];
  for (let s = 0; s < steps; s++) {
    const row = logitsRow(next, vocab);
    const [id, bad, step] = await gpuStep(r, row);
    expect(bad).toBe(0);
    expect(step).toBe(s + 1);
    gpu.push(id);
    cpu.push(cpuSampler.next(row));
  }
  return { cpu, gpu };
}

const KNOBS: [string, Partial<SamplingParams>][] = [
  ['temperature 0.7', { temperature: 0.7 }],
  ['temperature 1.6', { temperature: 1.6 }],
  ['top-k 5', { temperature: 1, topK: 5 }],
  ['top-p 0.8', { temperature: 1, topP: 0.8 }],
  ['min-p 0.1', { temperature: 1, minP: 0.1 }],
  ['repetition penalty 1.3 (sampled)', { temperature: 1, repetitionPenalty: 1.3 }],
  ['repetition penalty 1.3 (greedy)', { temperature: 0, repetitionPenalty: 1.3 }],
  ['presence 0.8, frequency 0.6', { temperature: 0.9, presencePenalty: 0.8, frequencyPenalty: 0.6 }],
  ['logit bias (greedy)', { temperature: 0, logitBias: new Map([[3, 30], [7, -100], [11, 2.5]]) }],
  ['everything', {
    temperature: 0.8, topK: 40, topP: 0.9, minP: 0.02, repetitionPenalty: 1.1, presencePenalty: 0.3, frequencyPenalty: 0.2,
    logitBias: new Map([[5, 1.5], [9, -3]]),
  }],
];

describe('GPU sampler kernel = CPU TokenSampler on the same logits', () => {
  it.each(KNOBS)('%s, vocab 1000, both kernel variants', async (_, knob) => {
    for (const variant of [GPU_VARIANT, CPU_ADAPTER_VARIANT]) {
      const r = await rig(1000, variant.argmaxWorkgroupSize);
      const params = { ...GREEDY, ...knob, seed: 1234 };
      const { cpu, gpu } = await compare(r, params, 1000, 8, 99);
      expect(gpu).toEqual(cpu);
      destroy(r);
    }
  });

  it('different seeds draw different ids; a seed past 32 bits too', async () => {
    const r = await rig(1000, CPU_ADAPTER_VARIANT.argmaxWorkgroupSize);
    const draw = async (seed: number) => (await compare(r, { ...GREEDY, temperature: 1.5, seed }, 1000, 8, 5)).gpu;
    const a = await draw(1);
    expect(await draw(1)).toEqual(a);
    expect(await draw(2)).not.toEqual(a);
    expect(await draw(2 ** 40 + 1)).not.toEqual(a);
    destroy(r);
  });

  it('at Llama 3\'s vocabulary (128,256): top-p and everything at once', async () => {
    const vocab = 128256;
    const r = await rig(vocab, CPU_ADAPTER_VARIANT.argmaxWorkgroupSize);
    for (const [, knob] of [KNOBS[3], KNOBS[9]]) {
      const { cpu, gpu } = await compare(r, { ...GREEDY, ...knob, seed: 77 }, vocab, 3, 3);
      expect(gpu).toEqual(cpu);
    }
    destroy(r);
  });

  it('flags a NaN or infinite logit', async () => {
    const r = await rig(1000, CPU_ADAPTER_VARIANT.argmaxWorkgroupSize);
    const s = new TokenSampler({ ...GREEDY, temperature: 1, topP: 0.9, seed: 1 }, [1]);
    r.sampler.begin({ params: s.params, seed: s.seed, history: s.history });
    const row = logitsRow(rng(1), 1000);
    row[500] = NaN;
    expect((await gpuStep(r, row))[1]).toBe(1);
    row[500] = Infinity;
    expect((await gpuStep(r, row))[1]).toBe(1);
    row[500] = 0;
    expect((await gpuStep(r, row))[1]).toBe(0);
    destroy(r);
  });
});
