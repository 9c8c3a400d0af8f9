// The WGSL prefill (GpuModel's one prefill path: tiled GEMMs, the flash attention, one encoder per chunk) on
// Dawn/SwiftShader, through GpuModel with chunks of 16 (so every prompt crosses chunk boundaries), against
// transformers' golden logits and the CPU reference on the same ids: every row's logits ('all', what `sieve logits`
// reads) and the last row's; and over int4 and f16 weights against the reference on the same weights dequantized
// (or f16-rounded).
// First: puts WebGPU's globals (GPUBufferUsage, ...) in place before the engine's modules read them at import.
import { installNodeNavigatorGpu } from '../gpu/node-webgpu.test-helper.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { createEngineDevice, type EngineDevice } from '../gpu/index.ts';
import type { LoadedModel, Tensor, WeightStore } from '../model/index.ts';
import { loadModelFromPath } from '../model/node.ts';
import { dequantizeMatrix, isQuantizedWeight, quantizationSpec, quantizeMatrix, roundToF16, type QuantizationMode } from '../quant/index.ts';
import { ReferenceModel } from '../reference/index.ts';
import { GpuModel } from '../runtime/index.ts';

const GOLDEN_DIR = fileURLToPath(new URL('../../models/golden/', import.meta.url));
/** Prompt positions: 40 with chunks of 16 are two boundaries and a partial chunk. */
const POSITIONS = 40;
const CHUNK = 16;
/** Max |GPU - CPU reference| per logit: both f32, differing in summation order only. */
const REFERENCE_TOLERANCE = 1e-4;
/** Max |GPU - transformers| per logit (the decoder's golden test allows the same). */
const GOLDEN_TOLERANCE = 2e-3;
/** The same with f16 weights (engine/decode/wgsl-decoder.test.ts says why). */
const F16_GOLDEN_TOLERANCE = 1e-2;

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function golden(name: string): { folder: string; ids: number[]; logits: Float32Array } {
  const folder = join(GOLDEN_DIR, name);
  const ids = (JSON.parse(readFileSync(join(folder, 'ids.json'), 'utf8')) as number[]).slice(0, POSITIONS);
  const raw = readFileSync(join(folder, 'logits.f32'));
  const all = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  return { folder, ids, logits: all };
}

/**
 * The checkpoint as the quantized (or f16) model computes with it: quantized weights replaced by their
 * dequantization, f16 ones by their f16 rounding.
 */
function dequantizedModel(loaded: LoadedModel, mode: QuantizationMode): LoadedModel {
  const spec = quantizationSpec(mode);
  if (!spec && mode !== 'f16') return loaded;
  const cache = new Map<string, Tensor>();
  const weights: WeightStore = {
    has: (name) => loaded.weights.has(name),
    names: () => loaded.weights.names(),
    get: (name) => {
      const t = loaded.weights.get(name);
      if (!isQuantizedWeight(name) || t.shape.length !== 2) return t;
      let d = cache.get(name);
      if (!d) {
        d = { shape: t.shape, data: spec ? dequantizeMatrix(quantizeMatrix(t.data, t.shape[0], t.shape[1], spec)) : roundToF16(t.data) };
        cache.set(name, d);
      }
      return d;
    },
  };
  return { ...loaded, weights };
}

let engine: EngineDevice;
beforeAll(async () => {
  installNodeNavigatorGpu();
  engine = await createEngineDevice();
});

const measured: Record<string, string> = {};

describe('WGSL prefill (chunks of 16) against transformers and the CPU reference', () => {
  // Biases (qwen2), q/k norm and tied embeddings (qwen3); the other golden checkpoints go through this path in the
  // engine's own golden tests.
  for (const name of ['qwen2', 'qwen3']) {
    it(`${name}: all ${POSITIONS} rows within ${REFERENCE_TOLERANCE} of the reference and ${GOLDEN_TOLERANCE} of transformers; the last row alone too`, async () => {
      const g = golden(name);
      const loaded = await loadModelFromPath(g.folder);
      const vocab = loaded.config.vocabSize;
      const model = await GpuModel.create(engine, loaded, undefined, { prefillChunk: CHUNK });
      try {
        const all = await model.prefill(g.ids, 'all');
        const reference = new ReferenceModel(loaded.config, loaded.weights).prefill(g.ids);
        const toReference = maxAbsDiff(all, reference);
        const toGolden = maxAbsDiff(all, g.logits.subarray(0, POSITIONS * vocab));
        await model.reset();
        const last = await model.prefill(g.ids, 'last');
        const lastToReference = maxAbsDiff(last, reference.subarray((POSITIONS - 1) * vocab));
        measured[name] = `reference ${toReference.toExponential(2)} (last row alone ${lastToReference.toExponential(2)}), transformers ${toGolden.toExponential(2)}`;
        expect(toReference).toBeLessThan(REFERENCE_TOLERANCE);
        expect(lastToReference).toBeLessThan(REFERENCE_TOLERANCE);
        expect(toGolden).toBeLessThan(GOLDEN_TOLERANCE);
      } finally {
        await model.destroy();
      }
    });
  }

  // int4 with q/k norm (int8 and zero points: gemm.test.ts); f16 with biases, from f16 shards.
  for (const [name, mode] of [['qwen3', 'int4'], ['qwen2', 'f16']] as const) {
    it(`${name} ${mode}: all rows within ${REFERENCE_TOLERANCE} of the reference on the same (dequantized or f16-rounded) weights`, async () => {
      const g = golden(name);
      const loaded = await loadModelFromPath(g.folder);
      const model = await GpuModel.create(engine, loaded, undefined, { prefillChunk: CHUNK, quantization: mode });
      try {
        const all = await model.prefill(g.ids, 'all');
        const reference = new ReferenceModel(loaded.config, dequantizedModel(loaded, mode).weights).prefill(g.ids);
        const d = maxAbsDiff(all, reference);
        const toGolden = maxAbsDiff(all, g.logits.subarray(0, POSITIONS * loaded.config.vocabSize));
        measured[`${name} ${mode}`] = `reference ${d.toExponential(2)}, transformers ${toGolden.toExponential(2)}`;
        expect(model.quantization).toBe(mode);
        expect(d).toBeLessThan(REFERENCE_TOLERANCE);
        if (mode === 'f16') expect(toGolden).toBeLessThan(F16_GOLDEN_TOLERANCE);
      } finally {
        await model.destroy();
      }
    });
  }

  it('reports the measured differences', () => {
    console.log(Object.entries(measured).map(([n, d]) => `${n}: ${d}`).join('\n'));
    expect(Object.keys(measured).length).toBe(4);
  });
});
