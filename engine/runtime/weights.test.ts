// GpuWeightWriter under 'f16' on Dawn/SwiftShader: a streamed GGUF F16 file or f16 safetensors checkpoint reaches the
// GPU as the file's own halves (taken as stored, no f32 between), and f32 or bf16 pieces as f16 pairs (each piece
// converted on its own, no tensor whole on the CPU), the matrices only; norms stay f32. And the bytes an int upload
// holds against the catalog's per-weight estimate; under int4 / int8 the GPU quantizer's blocks, streamed from an f16
// checkpoint as stored, against the CPU reference's, and a NaN refused naming its tensor.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// First: it installs the WebGPU globals that engine/runtime reads when it loads.
import { nodeGpuDevice } from '../gpu/node-webgpu.test-helper.ts';
import { readBuffer } from '../gpu/index.ts';
import { streamModel, type WeightSink } from '../model/index.ts';
import { folderSource, loadModelFromPath, pathFileSource } from '../model/node.ts';
import { f16Bits, packF16Pairs, quantizationSpec, quantizeMatrix } from '../quant/index.ts';
import { BadModelFileError } from '../errors/index.ts';
import { parameterCount, weightBytes } from '../hub/index.ts';
import { GpuWeights, GpuWeightWriter } from './weights.ts';

const GGUF_F16 = fileURLToPath(new URL('../../models/golden/gguf/llama-kquant-f16.gguf', import.meta.url));
/** A sharded f16 safetensors checkpoint (transformers' tiny random Qwen2, models/golden/qwen2). */
const QWEN2_F16 = fileURLToPath(new URL('../../models/golden/qwen2', import.meta.url));

async function words(device: GPUDevice, buffer: GPUBuffer, count: number): Promise<Uint32Array> {
  const f = await readBuffer(device, buffer, 0, count * 4);
  return new Uint32Array(f.buffer, f.byteOffset, count);
}

describe('GpuWeightWriter under f16', () => {
  it('streams a GGUF F16 file to f16 pairs that are the file\'s own halves; norms stay f32', async () => {
    const device = await nodeGpuDevice();
    const writer = new GpuWeightWriter(device, 'f16 gguf', 'f16');
    await streamModel(pathFileSource(GGUF_F16), writer);
    const weights = writer.finish();
    const cpu = await loadModelFromPath(GGUF_F16);
    expect(weights.format).toBe('f16');
    let matrixBytes = 0;
    let vectorBytes = 0;
    for (const name of cpu.weights.names()) {
      const t = cpu.weights.get(name);
      const w = weights.get(name);
      if (t.shape.length === 2) {
        expect(w.f16, name).toBe(true);
        // The f16 file widened to f32 and back: every half is the file's (f16 -> f32 -> f16 is exact).
        expect(Array.from(await words(device, w.buffer, t.data.length / 2)), name).toEqual(Array.from(packF16Pairs(t.data)));
        matrixBytes += t.data.length * 2;
      } else {
        expect(w.f16, name).toBeUndefined();
        expect(Array.from(await readBuffer(device, w.buffer, 0, t.data.byteLength)), name).toEqual(Array.from(t.data));
        vectorBytes += t.data.byteLength;
      }
    }
    expect(weights.bytes).toBe(matrixBytes + vectorBytes);
    weights.destroy();
  });

  it('takes an f16 safetensors checkpoint\'s matrices as stored (no f32 between): the file\'s own halves', async () => {
    const device = await nodeGpuDevice();
    const writer = new GpuWeightWriter(device, 'f16 safetensors', 'f16');
    // The writer itself, with its calls counted: which tensors came as f32 pieces and which as stored bytes.
    const f32Pieces = new Set<string>();
    const storedPieces = new Set<string>();
    const counted: WeightSink = {
      piece: (name, shape, rowStart, rows, data) => { f32Pieces.add(name); return writer.piece(name, shape, rowStart, rows, data); },
      takesBlocks: (name, dtype, shape) => writer.takesBlocks(name, dtype, shape),
      blocks: (name, shape, rowStart, rows, dtype, stored) => { storedPieces.add(name); return writer.blocks(name, shape, rowStart, rows, dtype, stored); },
    };
    await streamModel(folderSource(QWEN2_F16), counted);
    const weights = writer.finish();
    const cpu = await loadModelFromPath(QWEN2_F16);
    let matrices = 0;
    for (const name of cpu.weights.names()) {
      const t = cpu.weights.get(name);
      if (t.shape.length !== 2) { expect(f32Pieces.has(name), name).toBe(true); continue; }
      matrices++;
      expect(storedPieces.has(name) && !f32Pieces.has(name), name).toBe(true);
      expect(weights.get(name).f16, name).toBe(true);
      expect(Array.from(await words(device, weights.get(name).buffer, t.data.length / 2)), name).toEqual(Array.from(packF16Pairs(t.data)));
    }
    expect(matrices).toBeGreaterThan(0);
    weights.destroy();
  });

  it('converts each piece of rows on its own: three pieces give the whole matrix\'s pairs', async () => {
    const device = await nodeGpuDevice();
    const writer = new GpuWeightWriter(device, 'pieces', 'f16', undefined, 64);
    const [rows, cols] = [10, 24];
    // bf16-like values (a checkpoint's) and values f16 must round (ties to even, overflow to infinity).
    const data = Float32Array.from({ length: rows * cols }, (_, i) => (i % 7 === 0 ? 1 + 2 ** -11 : i === 5 ? 70000 : Math.sin(i) * 3));
    const name = 'model.layers.0.mlp.up_proj.weight';
    for (const [start, n] of [[0, 4], [4, 1], [5, 5]]) await writer.piece(name, [rows, cols], start, n, data.slice(start * cols, (start + n) * cols));
    await writer.piece('model.norm.weight', [cols], 0, cols, data.subarray(0, cols));
    const weights = writer.finish();
    const got = await words(device, weights.get(name).buffer, rows * cols / 2);
    expect(Array.from(got)).toEqual(Array.from(packF16Pairs(data)));
    expect(got[0] & 0xffff).toBe(0x3c00);
    expect(got[2] >>> 16).toBe(0x7c00);
    expect(f16Bits(data[1])).toBe(got[0] >>> 16);
    expect(weights.get('model.norm.weight').f16).toBeUndefined();
    weights.destroy();
  });

  it('keeps a matrix f32 when its rows are not whole 8-value units of the f16 matvec', async () => {
    const device = await nodeGpuDevice();
    const writer = new GpuWeightWriter(device, 'odd', 'f16');
    await writer.piece('model.layers.0.mlp.down_proj.weight', [3, 12], 0, 3, new Float32Array(36).fill(0.5));
    const weights = writer.finish();
    expect(weights.get('model.layers.0.mlp.down_proj.weight').f16).toBeUndefined();
    expect(weights.bytes).toBe(36 * 4);
    weights.destroy();
  });
});

describe('GpuWeightWriter under int4 / int8: quantized on the GPU from the stored values', () => {
  it.each(['int4', 'int8'] as const)('%s: a sharded f16 checkpoint streamed as stored gives quantizeMatrix\'s bytes of its f32', async (format) => {
    const device = await nodeGpuDevice();
    const writer = new GpuWeightWriter(device, 'f16 safetensors', format);
    const f32Pieces = new Set<string>();
    const counted: WeightSink = {
      piece: (name, shape, rowStart, rows, data) => { f32Pieces.add(name); return writer.piece(name, shape, rowStart, rows, data); },
      takesBlocks: (name, dtype, shape) => writer.takesBlocks(name, dtype, shape),
      blocks: (name, shape, rowStart, rows, dtype, stored) => writer.blocks(name, shape, rowStart, rows, dtype, stored),
    };
    await streamModel(folderSource(QWEN2_F16), counted);
    const weights = writer.finish();
    await weights.accepted;
    const cpu = await loadModelFromPath(QWEN2_F16);
    const spec = quantizationSpec(format)!;
    let matrices = 0;
    for (const name of cpu.weights.names()) {
      const t = cpu.weights.get(name);
      const w = weights.get(name);
      if (t.shape.length !== 2) { expect(w.quantized, name).toBeUndefined(); continue; }
      matrices++;
      expect(f32Pieces.has(name), `${name} came as f32`).toBe(false);
      const q = quantizeMatrix(t.data, t.shape[0], t.shape[1], spec);
      expect(w.quantized?.bits, name).toBe(spec.bits);
      expect(Array.from(await words(device, w.buffer, q.data.length / 4)), name).toEqual(Array.from(new Uint32Array(q.data.buffer)));
      expect(Array.from(await readBuffer(device, w.quantized!.scales, 0, q.scales.byteLength)), name).toEqual(Array.from(q.scales));
    }
    expect(matrices).toBeGreaterThan(0);
    weights.destroy();
  });

  it('refuses a weight holding NaN on the CPU path: BAD_MODEL_FILE naming the tensor', async () => {
    const device = await nodeGpuDevice();
    const writer = new GpuWeightWriter(device, 'nan checkpoint', 'int4', undefined, undefined, 'cpu');
    const bad = new Float32Array(2 * 64).fill(0.25);
    bad[70] = Infinity;
    const error = await Promise.resolve().then(() => writer.piece('model.layers.0.mlp.up_proj.weight', [2, 64], 0, 2, bad)).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(BadModelFileError);
    expect((error as Error).message).toContain('model.layers.0.mlp.up_proj.weight');
    writer.destroy();
  });

  it('refuses a weight holding NaN on the GPU path: accepted rejects naming the tensor, and every weight is freed', async () => {
    const device = await nodeGpuDevice();
    const writer = new GpuWeightWriter(device, 'nan checkpoint', 'int4');
    const good = new Float32Array(4 * 64).fill(0.25);
    const bad = good.slice();
    bad[100] = NaN;
    await writer.piece('model.layers.0.mlp.up_proj.weight', [4, 64], 0, 4, good);
    await writer.piece('model.layers.0.mlp.down_proj.weight', [4, 64], 0, 2, bad.subarray(0, 128));
    await writer.piece('model.layers.0.mlp.down_proj.weight', [4, 64], 2, 2, bad.subarray(128));
    const weights = writer.finish();
    const error = await weights.accepted.then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(BadModelFileError);
    expect((error as Error).message).toContain('model.layers.0.mlp.down_proj.weight');
    expect(weights.names()).toEqual([]);
  });
});

describe('GpuWeights.bytes against the catalog\'s estimate', () => {
  // engine/hub's BYTES_PER_WEIGHT sizes catalog models before any download (formatToFitTab, the picker's sizes): it
  // must be what the upload really stores. sieve-tiny's widths are whole blocks, so only its f32 norms (0.05% of the
  // weights) differ; 4.5 bits for int4 (f16 scales, which we do not store) would be 10% short.
  it.each(['int4', 'int8'] as const)('%s: sieve-tiny\'s upload is within 0.5% of weightBytes(parameterCount)', async (format) => {
    const device = await nodeGpuDevice();
    const model = await loadModelFromPath(fileURLToPath(new URL('../../models/sieve-tiny', import.meta.url)));
    const weights = GpuWeights.upload(device, model, undefined, format);
    const estimate = weightBytes(parameterCount(model.config), format);
    expect(Math.abs(estimate - weights.bytes) / weights.bytes, `estimate ${estimate}, uploaded ${weights.bytes}`).toBeLessThan(0.005);
    weights.destroy();
  });
});
