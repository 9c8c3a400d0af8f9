// Random weights of a model shape uploaded straight to the GPU (no checkpoint file, no CPU copy of a multi-GB model):
// what the Node benches of real shapes decode with (bench/wgsl-decode-shapes.ts, bench/sparse-decode.ts).
import { expectedTensorShapes, type ModelConfig } from '../engine/model/index.ts';
import { toF16 } from '../engine/quant/index.ts';
import type { MatrixBuffer } from '../engine/decode/index.ts';

/**
 * f32, f16, the load option's symmetric blocks of 32 (int8, int4), the GGUF K-quants' block forms (int4m: int4/32
 * with mins, Q4_K; int8m: int8/32 with mins, Q5_K; int8b16: int8/16, Q6_K), and q4km: a model in llama-quantize's
 * Q4_K_M mix of them (engine/hub checks.test.ts llamaQ4KM: the embedding and, in the layers use_more_bits picks, v and
 * down as Q6_K, every other matrix Q4_K).
 */
export type Format = 'f32' | 'f16' | 'int8' | 'int4' | 'int4m' | 'int8m' | 'int8b16' | 'q4km';
export interface BlockFormat { bits: 4 | 8; blockSize: number; mins: boolean }
const BLOCK_FORMATS: Partial<Record<Format, BlockFormat>> = {
  int4: { bits: 4, blockSize: 32, mins: false }, int8: { bits: 8, blockSize: 32, mins: false },
  int4m: { bits: 4, blockSize: 32, mins: true }, int8m: { bits: 8, blockSize: 32, mins: true }, int8b16: { bits: 8, blockSize: 16, mins: false },
};

/** The block format of matrix `name` of a `numLayers`-layer model under `format` (null: f32/f16 values). */
export function blockFormatOf(format: Format, name: string, numLayers: number): BlockFormat | null {
  if (format !== 'q4km') return BLOCK_FORMATS[format] ?? null;
  const i = Number(/^model\.layers\.(\d+)\./.exec(name)?.[1] ?? -1);
  const n8 = Math.floor(numLayers / 8);
  const moreBits = i < n8 || i >= Math.floor((7 * numLayers) / 8) || (i - n8) % 3 === 2;
  const q6 = name === 'model.embed_tokens.weight' || name === 'lm_head.weight' || (i >= 0 && moreBits && /(v_proj|down_proj)\.weight$/.test(name));
  return BLOCK_FORMATS[q6 ? 'int8b16' : 'int4m']!;
}

/**
 * Weight uploads as f32 (what GpuWeights does), or as random block codes in engine/quant's layout (the matrices
 * only, norms stay f32), without holding a CPU copy of a multi-GB model.
 */
export function uploadRandom(device: GPUDevice, config: ModelConfig, format: Format = 'f32') {
  const c = config;
  const map = new Map<string, MatrixBuffer>();
  const block = new Float32Array(1 << 20);
  for (let i = 0; i < block.length; i++) block[i] = (Math.sin(i * 12.9898) * 43758.5453 % 1) * 0.05;
  const codeBlock = new Uint8Array(1 << 22);
  for (let i = 0; i < codeBlock.length; i++) codeBlock[i] = Math.floor(Math.abs(Math.sin(i * 78.233) * 43758.5453 % 1) * 256);
  const scaleBlock = new Float32Array(1 << 20).fill(0.004);
  const halfBlock = format === 'f16' ? toF16(block) : null;
  let bytes = 0;
  let embedBytes = c.vocabSize * c.hiddenSize * (format === 'f16' ? 2 : 4);
  const fill = (buffer: GPUBuffer, src: Float32Array<ArrayBuffer> | Uint8Array<ArrayBuffer> | Uint16Array<ArrayBuffer>, count: number) => {
    for (let at = 0; at < count; at += src.length) device.queue.writeBuffer(buffer, at * src.BYTES_PER_ELEMENT, src, 0, Math.min(src.length, count - at));
  };
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
  const add = (name: string, shape: number[], offset = 0) => {
    const n = shape.reduce((a, b) => a * b, 1);
    if (halfBlock && shape.length === 2) {
      const buffer = device.createBuffer({ label: name, size: Math.ceil(n / 8) * 16, usage });
      fill(buffer, halfBlock, n);
      map.set(name, { buffer, shape, f16: true });
      bytes += n * 2;
      return;
    }
    const blocks = shape.length === 2 ? blockFormatOf(format, name, c.numLayers) : null;
    if (blocks) {
      const { bits, blockSize, mins } = blocks;
      const blocksPerRow = Math.ceil(shape[1] / blockSize);
      const codeBytes = shape[0] * blocksPerRow * blockSize * bits / 8;
      const codes = device.createBuffer({ label: name, size: Math.ceil(codeBytes / 16) * 16, usage });
      fill(codes, codeBlock, codeBytes);
      // Scales, or (scale, min) pairs.
      const perBlock = mins ? 2 : 1;
      const scales = device.createBuffer({ label: `${name} scales`, size: Math.ceil(shape[0] * blocksPerRow * perBlock / 4) * 16, usage });
      fill(scales, scaleBlock, shape[0] * blocksPerRow * perBlock);
      map.set(name, { buffer: codes, shape, quantized: { scales, mins, bits, blockSize, blocksPerRow } });
      bytes += codeBytes + shape[0] * blocksPerRow * 4 * perBlock;
      if (name === 'model.embed_tokens.weight') embedBytes = codeBytes + shape[0] * blocksPerRow * 4 * perBlock;
      return;
    }
    const buffer = device.createBuffer({ label: name, size: Math.ceil(n / 4) * 16, usage });
    const src = offset ? block.map((v) => v + offset) : block;
    for (let at = 0; at < n; at += block.length) {
      const len = Math.min(block.length, n - at);
      device.queue.writeBuffer(buffer, at * 4, src, 0, len);
    }
    map.set(name, { buffer, shape });
    bytes += n * 4;
  };
  // The tensors the loader expects of the config, as the decoder's tests write them (engine/model's
  // expectedTensorShapes: o_proj's bias where attention_bias gives llama/qwen3 one); norms around 1.
  for (const [name, shape] of expectedTensorShapes(c).required) add(name, shape, name.endsWith('norm.weight') ? 1 : 0);
  // Bytes a decode step reads: every weight once, the embedding row aside (lm_head reads it whole when tied).
  const streamed = bytes - embedBytes * (c.tieWordEmbeddings ? 0 : 1);
  return {
    get: (n: string) => map.get(n)!, has: (n: string) => map.has(n), bytes: streamed,
    destroy: () => { for (const w of map.values()) { w.buffer.destroy(); w.quantized?.scales.destroy(); } },
  };
}

/** A Llama-family config of the given sizes, the rest as Llama-3 has it (head dim 64, RMSNorm eps 1e-5, rotate-half RoPE). */
export function modelShape(name: string, o: Partial<ModelConfig>): [string, ModelConfig] {
  return [name, {
    architecture: 'llama', vocabSize: 0, hiddenSize: 0, intermediateSize: 0, numLayers: 0, numHeads: 0, numKvHeads: 0, headDim: 64,
    rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: null, ropeLayout: 'half', maxPositionEmbeddings: 4096, tieWordEmbeddings: true,
    attentionBias: false, qkNorm: false, bosTokenId: null, eosTokenIds: [], ...o,
  }];
}
