// The WGSL decoder over int4/int8 weights, token by token from position 0 on Dawn/SwiftShader with the real paged
// KV cache, against the CPU reference forward run on the same weights dequantized by engine/quant's reference.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// First: it installs the WebGPU globals that engine/runtime reads when it loads.
import { nodeGpuDevice } from '../gpu/node-webgpu.test-helper.ts';
import { PagedAttention } from '../attention/index.ts';
import { PagedKVCache } from '../kv/index.ts';
import { ropeInverseFrequencies, ropeTable, type LoadedModel, type Tensor, type WeightStore } from '../model/index.ts';
import { loadModelFromPath } from '../model/node.ts';
import { dequantizeMatrix, isQuantizedWeight, quantizationSpec, quantizeMatrix, type QuantizationSpec } from '../quant/index.ts';
import { ReferenceModel } from '../reference/index.ts';
import { GpuWeights } from '../runtime/index.ts';
import { countingEncoder, decodeVariantFor, WgslDecoder, type DispatchCounts } from './index.ts';

/** Max |GPU - CPU reference| per logit over the same dequantized weights: f32 summation order only (as f32). */
const REFERENCE_TOLERANCE = 1e-4;
const POSITIONS = 24;
const GOLDEN_DIR = fileURLToPath(new URL('../../models/golden/', import.meta.url));

/** The checkpoint as the quantized model computes with it: quantized weights replaced by their dequantization. */
function dequantizedModel(loaded: LoadedModel, spec: QuantizationSpec): LoadedModel {
  const cache = new Map<string, Tensor>();
  const weights: WeightStore = {
    has: (name) => loaded.weights.has(name),
    names: () => loaded.weights.names(),
    get: (name) => {
      const t = loaded.weights.get(name);
      if (!isQuantizedWeight(name)) return t;
      let d = cache.get(name);
      if (!d) {
        d = { shape: t.shape, data: dequantizeMatrix(quantizeMatrix(t.data, t.shape[0], t.shape[1], spec)) };
        cache.set(name, d);
      }
      return d;
    },
  };
  return { ...loaded, weights };
}

function maxAbsDiff(a: Float32Array, b: Float32Array, bOffset = 0): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[bOffset + i]));
  return m;
}

describe('WgslDecoder over quantized weights', () => {
  // Two models, both formats (q/k norm + int4, llama3 RoPE + int8): each costs ~5 s on SwiftShader; the kernels
  // themselves see every shape in kernels-quant.test.ts. The int4 one with WebGPU's default 8 storage buffers per
  // kernel: q and k/v are then two dispatches (the fallback), the int8 one with the adapter's limit (one).
  const cases: [string, 'int4' | 'int8', number | undefined][] = [['qwen3', 'int4', 8], ['llama3-rope', 'int8', undefined]];
  for (const [name, mode, storageLimit] of cases) {
    it(`${name} ${mode}${storageLimit ? ` (${storageLimit} storage buffers)` : ''}: ${POSITIONS} steps equal ReferenceModel over the dequantized weights within ${REFERENCE_TOLERANCE}`, async () => {
      const device = await nodeGpuDevice();
      const folder = join(GOLDEN_DIR, name);
      const loaded = await loadModelFromPath(folder);
      const spec = quantizationSpec(mode) as QuantizationSpec;
      const c = loaded.config;
      const weights = GpuWeights.upload(device, loaded, undefined, mode);
      expect(weights.get('model.layers.0.mlp.up_proj.weight').quantized?.bits).toBe(spec.bits);
      const cache = new PagedKVCache(device, {
        numLayers: c.numLayers, numKvHeads: c.numKvHeads, headDim: c.headDim, maxTokensPerSequence: 64,
        memoryBudgetBytes: 2 * c.numLayers * c.numKvHeads * c.headDim * 8 * 128,
      });
      const attention = new PagedAttention(device, cache, { numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, ropeLayout: c.ropeLayout, maxPrefillTokens: 1 });
      const decoder = new WgslDecoder(device, c, weights, attention, decodeVariantFor(device.adapterInfo), storageLimit);
      const counts: DispatchCounts = { dispatches: 0, passes: 0 };
      const staging = device.createBuffer({ size: c.vocabSize * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      const seq = cache.createSequence();
      const inv = ropeInverseFrequencies(c);
      const ref = new ReferenceModel(c, dequantizedModel(loaded, spec).weights);
      const f32 = new ReferenceModel(c, loaded.weights);
      const ids = (JSON.parse(readFileSync(join(folder, 'ids.json'), 'utf8')) as number[]).slice(0, POSITIONS);
      let refDiff = 0;
      let f32Diff = 0;
      try {
        for (let t = 0; t < ids.length; t++) {
          const { cos, sin } = ropeTable(inv, t, 1);
          attention.beginStep(seq, { startPosition: t, numTokens: 1, cos, sin });
          decoder.writeToken(ids[t]);
          const encoder = device.createCommandEncoder();
          if (t === 0) decoder.encodeStep(countingEncoder(encoder, counts));
          else decoder.encodeStep(encoder);
          encoder.copyBufferToBuffer(decoder.logits, 0, staging, 0, staging.size);
          device.queue.submit([encoder.finish()]);
          await staging.mapAsync(GPUMapMode.READ);
          const got = new Float32Array(staging.getMappedRange().slice(0));
          staging.unmap();
          refDiff = Math.max(refDiff, maxAbsDiff(got, ref.decode(ids[t])));
          f32Diff = Math.max(f32Diff, maxAbsDiff(got, f32.decode(ids[t])));
        }
      } finally {
        decoder.destroy();
        staging.destroy();
        weights.destroy();
      }
      // embed, 5 a layer (6 with q and k/v apart), lm_head; one pass.
      expect(counts).toEqual({ dispatches: 2 + c.numLayers * (storageLimit === 8 ? 6 : 5), passes: 1 });
      console.log(`${name} ${mode}: GPU vs reference over dequantized weights ${refDiff.toExponential(2)}; vs f32 reference ${f32Diff.toExponential(2)}`);
      expect(refDiff).toBeLessThan(REFERENCE_TOLERANCE);
      // Quantization does change the logits: a decoder that ignored the codes' error would not get here.
      expect(f32Diff).toBeGreaterThan(10 * REFERENCE_TOLERANCE);
    });
  }
});
