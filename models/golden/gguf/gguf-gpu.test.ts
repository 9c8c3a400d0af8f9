// A Q8_0 GGUF (llama.cpp's convert_hf_to_gguf.py q8_0) loaded on Dawn with quantization 'int8': its blocks reach the
// GPU as our int8 blocks without passing through f32 (codes and scales read back equal the stored blocks repacked,
// and dequantize to ggml's values exactly), and the GPU model gives the CPU reference's logits on ggml's
// dequantized weights within 2e-3 over the golden ids (64 positions).
// First: puts WebGPU's globals (GPUBufferUsage, ...) in place before the engine's modules read them at import.
import { installNodeNavigatorGpu } from '../../../engine/gpu/node-webgpu.test-helper.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createEngineDevice, readBuffer } from '../../../engine/gpu/index.ts';
import { parseGguf } from '../../../engine/model/gguf.ts';
import { loadModelFromPath, pathFileSource, streamModel } from '../../../engine/model/node.ts';
import { dequantizeMatrix, quantizationSpec, repackGgmlBlocks } from '../../../engine/quant/index.ts';
import { ReferenceModel } from '../../../engine/reference/index.ts';
import { GpuModel, GpuWeightWriter } from '../../../engine/runtime/index.ts';

const DIR = fileURLToPath(new URL('.', import.meta.url));
const FILE = 'llama-kquant-q8_0.gguf';
const TOLERANCE = 2e-3;

describe(`${FILE} under int8 on Dawn`, () => {
  it('keeps every Q8_0 block as it is on the GPU and gives the CPU reference\'s logits within 2e-3', async () => {
    const path = join(DIR, FILE);
    const whole = parseGguf(new Uint8Array(readFileSync(path)), FILE);
    const spec = quantizationSpec('int8')!;
    const q8 = whole.weights.names().filter((n) => whole.weights.dtype(n) === 'Q8_0');
    expect(q8.length).toBe(8);

    installNodeNavigatorGpu();
    const engine = await createEngineDevice();
    const writer = new GpuWeightWriter(engine.device, FILE, spec);
    let f32Pieces = 0;
    const files = await streamModel(pathFileSource(path), {
      piece: (...a) => { if (q8.includes(a[0])) f32Pieces++; return writer.piece(...a); },
      takesBlocks: (n, t) => writer.takesBlocks(n, t),
      blocks: (...a) => writer.blocks(...a),
    });
    expect(f32Pieces).toBe(0); // no Q8_0 tensor went through f32
    const weights = writer.finish();
    for (const name of q8) {
      const [rows, cols] = whole.weights.shape(name);
      const repacked = repackGgmlBlocks('Q8_0', whole.weights.storedBytes(name), rows, cols, spec)!;
      // ggml's dequantization, exactly: (code - 128) * scale = q * d.
      expect(dequantizeMatrix(repacked)).toEqual(whole.weights.get(name).data);
      const w = weights.get(name);
      const codes = new Uint8Array((await readBuffer(engine.device, w.buffer, 0, repacked.data.byteLength)).buffer);
      const scales = await readBuffer(engine.device, w.quantized!.scales, 0, repacked.scales.byteLength);
      expect(codes).toEqual(repacked.data);
      expect(scales).toEqual(repacked.scales);
    }

    const model = await GpuModel.build(engine, files.config, weights, undefined, { quantization: 'int8' });
    try {
      const ids = JSON.parse(readFileSync(join(DIR, 'ids.json'), 'utf8')) as number[];
      const got = await model.prefill(ids, 'all');
      const loaded = await loadModelFromPath(path);
      const want = new ReferenceModel(loaded.config, loaded.weights).prefill(ids);
      let diff = 0;
      for (let i = 0; i < want.length; i++) diff = Math.max(diff, Math.abs(got[i] - want[i]));
      console.log(`${FILE} int8 on Dawn: max |GPU - CPU reference| = ${diff.toExponential(2)} over ${ids.length} positions`);
      expect(diff).toBeLessThan(TOLERANCE);
    } finally {
      await model.destroy();
    }
  });
});
