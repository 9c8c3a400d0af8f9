// The K-quant GGUFs made by llama.cpp (Q4_K_M: Q4_K and Q6_K; Q5_K_M: Q5_K and Q6_K) loaded on Dawn
// as a user loads them (default quantization): every block tensor reaches the GPU in its own block format without
// passing through f32 (codes and scales read back equal the stored blocks repacked, which dequantize to ggml's
// values exactly), the GPU holds the quantized size, and the GPU model's prefill and decode give the CPU
// reference's logits on ggml's dequantized weights (f32) within 1e-4 over the golden ids.
// First: puts WebGPU's globals (GPUBufferUsage, ...) in place before the engine's modules read them at import.
import { installNodeNavigatorGpu } from '../../../engine/gpu/node-webgpu.test-helper.ts';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { createEngineDevice, readBuffer, type EngineDevice } from '../../../engine/gpu/index.ts';
import { parseGguf } from '../../../engine/model/gguf.ts';
import { loadModelFromPath, pathFileSource, streamModel } from '../../../engine/model/node.ts';
import { ggufModelNeeds } from '../../../engine/hub/index.ts';
import { dequantizeMatrix, ggmlRepackSpec, gpuScales, repackGgmlBlocks } from '../../../engine/quant/index.ts';
import { ReferenceModel } from '../../../engine/reference/index.ts';
import { GpuModel, GpuWeightWriter } from '../../../engine/runtime/index.ts';

const DIR = fileURLToPath(new URL('.', import.meta.url));
/**
 * Max |GPU - CPU reference| per logit, both over the same f32 weights (ggml's dequantization): the weights are read
 * exactly, so only the order of f32 sums differs (the 2e-3 is for the logits of transformers; measured here
 * 1e-6 to 4e-6 over logits up to about 6).
 */
const TOLERANCE = 1e-4;
/** Golden ids prefilled (logits of every row); the rest (8) are decoded one by one: a step costs ~1 s on SwiftShader. */
const PREFILLED = 56;

/**
 * file -> the storage formats its tensors take on the GPU (engine.info's weightFormats). The K-quant mixes: their
 * v_proj (Q6_K) differs from q/k (Q4_K, Q5_K), so the fused q/k/v matvec splits. Q8_0 and Q4_0 become the load
 * option's int8/int4 blocks, which engine/decode's wgsl-decoder-quant test runs; their repacking is checked in
 * gguf-golden.test.ts. Two files: each costs about a minute on SwiftShader.
 */
const CASES: { file: string; formats: Record<string, number> }[] = [
  { file: 'llama-kquant-Q4_K_M.gguf', formats: { 'int4/32+min': 5, 'int8/16': 3, f32: 3 } },
  { file: 'llama-kquant-Q5_K_M.gguf', formats: { 'int8/32+min': 5, 'int8/16': 3, f32: 3 } },
];

const ids = JSON.parse(readFileSync(join(DIR, 'ids.json'), 'utf8')) as number[];

describe('quantized GGUFs on Dawn, each tensor in its own format', () => {
  // One device for both files: Dawn reuses the shader modules and pipelines they share.
  let engine: EngineDevice;
  beforeAll(async () => {
    installNodeNavigatorGpu();
    engine = await createEngineDevice();
  });

  it.each(CASES)('$file: blocks kept exactly, quantized size on the GPU, prefill and decode equal the f32 reference within 1e-4', async ({ file, formats }) => {
    const path = join(DIR, file);
    const whole = parseGguf(new Uint8Array(readFileSync(path)), file);
    const blocked = whole.weights.names().filter((n) => ggmlRepackSpec(whole.weights.dtype(n)) !== null);

    const writer = new GpuWeightWriter(engine.device, file, 'f32');
    let f32Pieces = 0;
    const files = await streamModel(pathFileSource(path), {
      piece: (...a) => { if (blocked.includes(a[0])) f32Pieces++; return writer.piece(...a); },
      takesBlocks: (...a) => writer.takesBlocks(...a),
      blocks: (...a) => writer.blocks(...a),
    });
    expect(f32Pieces).toBe(0); // no block tensor went through f32
    const weights = writer.finish();
    expect(weights.formats()).toEqual(formats);
    for (const name of blocked) {
      const shape = whole.weights.shape(name);
      const dtype = whole.weights.dtype(name);
      const repacked = repackGgmlBlocks(dtype, whole.weights.storedBytes(name), shape[0], shape[1])!;
      // ggml's dequantization, bit for bit.
      expect(dequantizeMatrix(repacked), name).toEqual(whole.weights.get(name).data);
      const w = weights.get(name);
      const scales = gpuScales(repacked);
      const codes = new Uint8Array((await readBuffer(engine.device, w.buffer, 0, repacked.data.byteLength)).buffer);
      expect(codes, name).toEqual(repacked.data);
      expect(await readBuffer(engine.device, w.quantized!.scales, 0, scales.byteLength), name).toEqual(scales);
    }
    // GPU memory is the quantized size (codes, scales and mins, the f32 norms), as the header alone predicts it.
    const tensors = whole.weights.names().map((name) => ({ name, dtype: whole.weights.dtype(name), shape: whole.weights.shape(name) }));
    expect(weights.bytes).toBe(ggufModelNeeds(tensors).weightBytes);
    const fileBytes = statSync(path).size;
    const f32Bytes = whole.weights.names().reduce((n, name) => n + 4 * whole.weights.shape(name).reduce((a, b) => a * b, 1), 0);
    console.log(`${file}: GPU weights ${weights.bytes} bytes (file ${fileBytes}, as f32 ${f32Bytes}), formats ${JSON.stringify(weights.formats())}`);

    const model = await GpuModel.build(engine, files.config, weights, undefined, {});
    try {
      const loaded = await loadModelFromPath(path);
      const want = new ReferenceModel(loaded.config, loaded.weights).prefill(ids);
      const vocab = files.config.vocabSize;
      const prefilled = await model.prefill(ids.slice(0, PREFILLED), 'all');
      let prefillDiff = 0;
      for (let i = 0; i < prefilled.length; i++) prefillDiff = Math.max(prefillDiff, Math.abs(prefilled[i] - want[i]));
      let decodeDiff = 0;
      for (let t = PREFILLED; t < ids.length; t++) {
        // decode(id) appends ids[t] at position t and returns the logits of that position.
        const got = await model.decode(ids[t]);
        for (let i = 0; i < vocab; i++) decodeDiff = Math.max(decodeDiff, Math.abs(got[i] - want[t * vocab + i]));
      }
      console.log(`${file} on Dawn: max |GPU - CPU reference (f32 dequantized)|: prefill ${prefillDiff.toExponential(2)} (${PREFILLED} positions), decode ${decodeDiff.toExponential(2)} (${ids.length - PREFILLED} steps)`);
      expect(prefillDiff).toBeLessThan(TOLERANCE);
      expect(decodeDiff).toBeLessThan(TOLERANCE);
    } finally {
      await model.destroy();
    }
  }, 300_000); // about a minute alone on SwiftShader, more on a shared machine
});
