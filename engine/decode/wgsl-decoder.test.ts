// The WGSL decoder token by token from position 0, on Dawn/SwiftShader with the real paged KV cache and attention,
// against the CPU reference (small random models of each architecture) and transformers' golden logits.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// First: it installs the WebGPU globals that engine/runtime reads when it loads.
import { nodeGpuDevice as decodeTestDevice } from '../gpu/node-webgpu.test-helper.ts';
import { seededUniform } from '../gpu/test-inputs.test-helper.ts';
import { PagedAttention } from '../attention/index.ts';
import { PagedKVCache } from '../kv/index.ts';
import { expectedTensorShapes, ropeInverseFrequencies, ropeTable, type LoadedModel, type ModelConfig, type Tensor, type WeightStore } from '../model/index.ts';
import { loadModelFromPath } from '../model/node.ts';
import { ReferenceModel } from '../reference/index.ts';
import { isQuantizedWeight, roundToF16, type QuantizationMode } from '../quant/index.ts';
import { GpuWeights } from '../runtime/index.ts';
import { countingEncoder, decodeVariantFor, WgslDecoder, type DispatchCounts, type StepTimestamps } from './index.ts';

/** Max |GPU - CPU reference| per logit: both f32, differing in summation order only (measured below ~1e-5). */
const REFERENCE_TOLERANCE = 1e-4;
/** Max |GPU - transformers| per logit, as the reference's own golden test allows (it lands within 4e-6). */
const GOLDEN_TOLERANCE = 2e-3;
/**
 * Max |GPU - transformers| per logit with f16 weights (quantization 'f16'): f16 keeps 11 significant bits, so each
 * weight moves by up to 2^-12 of itself; over the goldens' 2-4 layers that moves logits of magnitude ~1 by ~1e-3
 * (measured on SwiftShader: 3.9e-3 llama-gqa-untied, 2.4e-3 qwen3, against f32's ~2e-6). 1e-2 flags a kernel that reads the wrong halves (errors ~1).
 */
const F16_GOLDEN_TOLERANCE = 1e-2;
/** Golden positions decoded: SwiftShader is slow, and 40 positions cross two KV pages and a decode split. */
const GOLDEN_POSITIONS = 40;
/** f16's golden positions: f16 changes only the weights' reads, which every position exercises alike (~0.5 s each here). */
const F16_GOLDEN_POSITIONS = 20;
const GOLDEN_DIR = fileURLToPath(new URL('../../models/golden/', import.meta.url));

/**
 * A random checkpoint of `config`, initialised like make_golden.py: normal-ish 0.08 weights, norms around 1. Its
 * tensors are the ones the loader expects of the config (engine/model's expectedTensorShapes, as
 * bench/random-gpu-weights writes them): llama with attention_bias gets o_proj's bias, qwen2 does not.
 */
function randomModel(config: ModelConfig, seed: number): LoadedModel {
  const next = seededUniform(seed);
  const tensors = new Map<string, Tensor>();
  for (const [name, shape] of expectedTensorShapes(config).required) {
    const offset = name.endsWith('norm.weight') ? 1 : 0;
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = offset + (next() * 2 - 1) * 0.14;
    tensors.set(name, { shape, data });
  }
  const weights: WeightStore = {
    has: (name) => tensors.has(name),
    get: (name) => {
      const t = tensors.get(name);
      if (!t) throw new Error(`test model has no ${name}`);
      return t;
    },
    names: () => [...tensors.keys()],
  };
  return {
    source: `random ${config.architecture} (seed ${seed})`, format: 'safetensors', config, weights,
    tokenizerFiles: { tokenizerJson: null, tokenizerConfig: null, generationConfig: null }, ggufVocabulary: null,
  };
}

function baseConfig(overrides: Partial<ModelConfig>): ModelConfig {
  return {
    architecture: 'llama', vocabSize: 67, hiddenSize: 48, intermediateSize: 80, numLayers: 2, numHeads: 6, numKvHeads: 2,
    headDim: 8, rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: null, ropeLayout: 'half', maxPositionEmbeddings: 128,
    tieWordEmbeddings: false, attentionBias: false, qkNorm: false, bosTokenId: null, eosTokenIds: [], ...overrides,
  };
}

/** The GPU side of one sequence: weights, the paged cache, attention and the decoder, decoding from position 0. */
class GpuDecodeRun {
  private readonly weights: GpuWeights;
  private readonly cache: PagedKVCache;
  private readonly attention: PagedAttention;
  readonly decoder: WgslDecoder;
  private readonly staging: GPUBuffer;
  private readonly inv: Float64Array;
  private readonly seq;
  private position = 0;

  constructor(private readonly device: GPUDevice, loaded: LoadedModel, maxTokens: number, decodeOneWorkgroupSlots?: number, format: QuantizationMode = 'f32') {
    const c = loaded.config;
    this.weights = GpuWeights.upload(device, loaded, undefined, format);
    const bytesPerToken = c.numLayers * c.numKvHeads * c.headDim * 2 * 4;
    this.cache = new PagedKVCache(device, {
      numLayers: c.numLayers, numKvHeads: c.numKvHeads, headDim: c.headDim, maxTokensPerSequence: maxTokens,
      // Positions and page rounding cost extra: twice the K/V bytes is plenty.
      memoryBudgetBytes: 2 * bytesPerToken * (maxTokens + 64),
    });
    this.attention = new PagedAttention(device, this.cache, {
      numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, ropeLayout: c.ropeLayout, maxPrefillTokens: 1, decodeOneWorkgroupSlots,
    });
    this.decoder = new WgslDecoder(device, c, this.weights, this.attention, decodeVariantFor(device.adapterInfo));
    this.staging = device.createBuffer({ size: c.vocabSize * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.inv = ropeInverseFrequencies(c);
    this.seq = this.cache.createSequence();
  }

  readonly counts: DispatchCounts = { dispatches: 0, passes: 0 };

  /** One decode step, exactly as GpuModel.decodeStep does it: beginStep, token, one encoder, one readback. */
  async step(id: number, timestamps?: StepTimestamps): Promise<Float32Array> {
    const { cos, sin } = ropeTable(this.inv, this.position, 1);
    this.attention.beginStep(this.seq, { startPosition: this.position, numTokens: 1, cos, sin });
    this.decoder.writeToken(id);
    this.counts.dispatches = 0;
    this.counts.passes = 0;
    const encoder = countingEncoder(this.device.createCommandEncoder(), this.counts);
    this.decoder.encodeStep(encoder, { timestamps });
    encoder.copyBufferToBuffer(this.decoder.logits, 0, this.staging, 0, this.staging.size);
    this.device.queue.submit([encoder.finish()]);
    await this.staging.mapAsync(GPUMapMode.READ);
    const logits = new Float32Array(this.staging.getMappedRange().slice(0));
    this.staging.unmap();
    this.position += 1;
    return logits;
  }

  destroy(): void {
    this.decoder.destroy();
    this.staging.destroy();
    this.weights.destroy();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array, bOffset = 0): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[bOffset + i]));
  return m;
}

/** The checkpoint as f16 storage keeps it: the matrices the writer stores as f16 rounded to f16 (the reference's input). */
function f16RoundedModel(loaded: LoadedModel): LoadedModel {
  const rounded = new Map<string, Tensor>();
  const weights: WeightStore = {
    has: (name) => loaded.weights.has(name),
    names: () => loaded.weights.names(),
    get: (name) => {
      const t = loaded.weights.get(name);
      if (!isQuantizedWeight(name) || t.shape.length !== 2) return t;
      let r = rounded.get(name);
      if (!r) rounded.set(name, (r = { shape: t.shape, data: roundToF16(t.data) }));
      return r;
    },
  };
  return { ...loaded, weights };
}

/**
 * Decodes `ids` from position 0 on the GPU (weights in `format`) and the CPU reference (over the same f16-rounded
 * weights for 'f16'); returns the largest difference per step.
 */
async function decodeAgainstReference(loaded: LoadedModel, ids: number[], golden?: Float32Array, decodeOneWorkgroupSlots?: number, format: 'f32' | 'f16' = 'f32'): Promise<{ reference: number; golden: number }> {
  const device = await decodeTestDevice();
  const run = new GpuDecodeRun(device, loaded, Math.max(64, ids.length + 16), decodeOneWorkgroupSlots, format);
  const refModel = format === 'f16' ? f16RoundedModel(loaded) : loaded;
  const ref = new ReferenceModel(refModel.config, refModel.weights);
  const vocab = loaded.config.vocabSize;
  let refDiff = 0;
  let goldenDiff = 0;
  try {
    for (let t = 0; t < ids.length; t++) {
      const got = await run.step(ids[t]);
      expect(got.length).toBe(vocab);
      expect(got.every(Number.isFinite)).toBe(true);
      refDiff = Math.max(refDiff, maxAbsDiff(got, ref.decode(ids[t])));
      if (golden) goldenDiff = Math.max(goldenDiff, maxAbsDiff(got, golden, t * vocab));
      // Dense decode: embed, 5 a layer (6 once the step splits its attention), lm_head, in one pass.
      const split = decodeOneWorkgroupSlots !== undefined && t + 1 > decodeOneWorkgroupSlots;
      expect(run.counts).toEqual({ dispatches: 2 + loaded.config.numLayers * (split ? 6 : 5), passes: 1 });
    }
  } finally {
    run.destroy();
  }
  return { reference: refDiff, golden: goldenDiff };
}

const measured: Record<string, string> = {};

describe('WgslDecoder on random models, against the CPU reference', () => {
  const cases: [string, ModelConfig][] = [
    ['llama GQA untied (6 heads over 2)', baseConfig({})],
    // hidden 36, F 68: rows of whole vec4s but not of whole 32-wide units (int formats' blocks end short).
    ['qwen2 with q/k/v bias, hidden 36', baseConfig({ architecture: 'qwen2', hiddenSize: 36, intermediateSize: 68, numHeads: 6, numKvHeads: 3, rmsNormEps: 1e-6, ropeTheta: 1e6, attentionBias: true })],
    ['qwen3 with q/k norm, head_dim 16 != 32/4, tied', baseConfig({ architecture: 'qwen3', hiddenSize: 32, intermediateSize: 64, numHeads: 4, numKvHeads: 2, headDim: 16, rmsNormEps: 1e-6, qkNorm: true, tieWordEmbeddings: true })],
    ['llama with attention_bias (q/k/v and o_proj bias), interleaved RoPE', baseConfig({ attentionBias: true, ropeLayout: 'interleaved', numLayers: 3 })],
  ];
  for (const [name, config] of cases) {
    it(`${name}: 24 steps from position 0 match ReferenceModel.decode within ${REFERENCE_TOLERANCE}`, async () => {
      const loaded = randomModel(config, name.length * 31);
      const next = seededUniform(name.length);
      const ids = Array.from({ length: 24 }, () => Math.floor(next() * config.vocabSize));
      const d = await decodeAgainstReference(loaded, ids);
      measured[name] = `reference ${d.reference.toExponential(2)}`;
      expect(d.reference).toBeLessThan(REFERENCE_TOLERANCE);
    });
  }
});

describe('WgslDecoder profiled steps', () => {
  it('time every kernel in a pass of its own (or the step in one), with the logits of an unprofiled step', async () => {
    const device = await decodeTestDevice();
    const config = baseConfig({});
    const loaded = randomModel(config, 77);
    const ref = new ReferenceModel(config, loaded.weights);
    const run = new GpuDecodeRun(device, loaded, 64);
    const L = config.numLayers;
    const querySet = device.createQuerySet({ type: 'timestamp', count: 2 * (L * 5 + 2) });
    try {
      const perKernel: StepTimestamps = { querySet, perKernel: true, kinds: [] };
      expect(maxAbsDiff(await run.step(5, perKernel), ref.decode(5))).toBeLessThan(REFERENCE_TOLERANCE);
      // Ungreedy: embed, per layer qkv, attention, o, gate up, down, then the head; a pass each.
      expect(perKernel.kinds).toEqual(['embed', ...Array.from({ length: L }, () => ['qkv', 'attention', 'o', 'gate up', 'down']).flat(), 'lm_head']);
      expect(run.counts).toEqual({ dispatches: 2 + 5 * L, passes: perKernel.kinds.length });
      const whole: StepTimestamps = { querySet, perKernel: false, kinds: [] };
      expect(maxAbsDiff(await run.step(9, whole), ref.decode(9))).toBeLessThan(REFERENCE_TOLERANCE);
      expect(run.counts).toEqual({ dispatches: 2 + 5 * L, passes: 1 });
    } finally {
      querySet.destroy();
      run.destroy();
    }
  });
});

describe('WgslDecoder dense attention past one chunk', () => {
  // 150 steps cross 3 chunks of 64 slots: once walked by one workgroup per KV head (attend), once split from 40
  // slots on (appendSplit + reduceCommit), both against the CPU reference.
  const config = baseConfig({ numLayers: 1, hiddenSize: 32, intermediateSize: 32, numHeads: 4, numKvHeads: 2, maxPositionEmbeddings: 256 });
  for (const [name, slots] of [['one workgroup per KV head', 1024], ['split past 40 slots', 40]] as const) {
    it(`${name}: 150 steps match ReferenceModel.decode within ${REFERENCE_TOLERANCE}`, async () => {
      const loaded = randomModel(config, slots);
      const next = seededUniform(slots);
      const ids = Array.from({ length: 150 }, () => Math.floor(next() * config.vocabSize));
      const d = await decodeAgainstReference(loaded, ids, undefined, slots);
      measured[name] = `reference ${d.reference.toExponential(2)}`;
      expect(d.reference).toBeLessThan(REFERENCE_TOLERANCE);
    });
  }
});

describe('WgslDecoder on the golden checkpoints', () => {
  for (const name of ['llama-gqa-untied', 'llama3-rope', 'qwen2', 'qwen3', 'llama-legacy-config']) {
    it(`${name}: ${GOLDEN_POSITIONS} steps match ReferenceModel within ${REFERENCE_TOLERANCE} and transformers within ${GOLDEN_TOLERANCE}`, async () => {
      const folder = join(GOLDEN_DIR, name);
      const loaded = await loadModelFromPath(folder);
      const ids = (JSON.parse(readFileSync(join(folder, 'ids.json'), 'utf8')) as number[]).slice(0, GOLDEN_POSITIONS);
      const raw = readFileSync(join(folder, 'logits.f32'));
      const golden = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      const d = await decodeAgainstReference(loaded, ids, golden);
      measured[name] = `reference ${d.reference.toExponential(2)}, transformers ${d.golden.toExponential(2)}`;
      expect(d.reference).toBeLessThan(REFERENCE_TOLERANCE);
      expect(d.golden).toBeLessThan(GOLDEN_TOLERANCE);
    });
  }

  // f16 weights through the engine's writer: an untied head (llama-gqa-untied) and a tied one with q/k norm (qwen3).
  for (const name of ['llama-gqa-untied', 'qwen3']) {
    it(`${name} in f16: ${F16_GOLDEN_POSITIONS} steps match ReferenceModel over the f16-rounded weights within ${REFERENCE_TOLERANCE} and transformers within ${F16_GOLDEN_TOLERANCE}`, async () => {
      const folder = join(GOLDEN_DIR, name);
      const loaded = await loadModelFromPath(folder);
      const ids = (JSON.parse(readFileSync(join(folder, 'ids.json'), 'utf8')) as number[]).slice(0, F16_GOLDEN_POSITIONS);
      const raw = readFileSync(join(folder, 'logits.f32'));
      const golden = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      const d = await decodeAgainstReference(loaded, ids, golden, undefined, 'f16');
      measured[`${name} f16`] = `reference over f16-rounded weights ${d.reference.toExponential(2)}, transformers ${d.golden.toExponential(2)}`;
      expect(d.reference).toBeLessThan(REFERENCE_TOLERANCE);
      expect(d.golden).toBeLessThan(F16_GOLDEN_TOLERANCE);
    });
  }

  it('reports the measured differences', () => {
    console.log(Object.entries(measured).map(([n, d]) => `${n}: ${d}`).join('\n'));
    expect(Object.keys(measured).length).toBe(13);
  });
});
