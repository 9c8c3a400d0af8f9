// Writes a seeded random Hugging Face checkpoint (config.json + f16 model.safetensors) of a given Llama shape,
// so benchmarks can run real-sized models that cannot be downloaded here.
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { layerWeight, type ModelConfig } from '../engine/model/index.ts';
import { f16Bits, quantizationSpec, toF16, type QuantizationMode } from '../engine/quant/index.ts';
import { GpuWeights } from '../engine/runtime/weights.ts';

export interface LlamaShape {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  vocabSize: number;
  maxPositionEmbeddings: number;
  ropeTheta: number;
  tieWordEmbeddings: boolean;
}

/**
 * SmolLM2-135M's shape, from the config.json of HuggingFaceTB/SmolLM2-135M on the Hugging Face Hub (as published;
 * not fetched here): hidden 576, 30 layers, 9 heads, 3 KV heads, FFN 1536, vocab 49152, theta 100000, tied.
 * Its context is 8192; the bench uses 2048 to keep the software adapter's KV pool small (decode speed at a given
 * context length does not depend on it).
 */
export const SMOLLM2_135M_SHAPE: LlamaShape = {
  hiddenSize: 576, intermediateSize: 1536, numLayers: 30, numHeads: 9, numKvHeads: 3, vocabSize: 49152,
  maxPositionEmbeddings: 2048, ropeTheta: 100000, tieWordEmbeddings: true,
};

/**
 * Llama-3.2-1B's shape, from the config.json of meta-llama/Llama-3.2-1B on the Hugging Face Hub (as published; not
 * fetched here): hidden 2048, 16 layers, 32 heads, 8 KV heads, FFN 8192, vocab 128256, theta 500000, tied. The bench
 * context is 4096 (its 131072 would only size the KV pool).
 */
export const LLAMA_3_2_1B_SHAPE: LlamaShape = {
  hiddenSize: 2048, intermediateSize: 8192, numLayers: 16, numHeads: 32, numKvHeads: 8, vocabSize: 128256,
  maxPositionEmbeddings: 4096, ropeTheta: 500000, tieWordEmbeddings: true,
};

/** The engine's config of a shape (a plain Llama: no biases, no q/k norm, half-split RoPE). */
export function configOfShape(s: LlamaShape): ModelConfig {
  return {
    architecture: 'llama', vocabSize: s.vocabSize, hiddenSize: s.hiddenSize, intermediateSize: s.intermediateSize, numLayers: s.numLayers,
    numHeads: s.numHeads, numKvHeads: s.numKvHeads, headDim: s.hiddenSize / s.numHeads, rmsNormEps: 1e-5, ropeTheta: s.ropeTheta,
    ropeScaling: null, ropeLayout: 'half', maxPositionEmbeddings: s.maxPositionEmbeddings, tieWordEmbeddings: s.tieWordEmbeddings,
    attentionBias: false, qkNorm: false, bosTokenId: 1, eosTokenIds: [2],
  };
}

/**
 * Seeded random weights of `config` written straight into GPU buffers as GpuWeights (what GpuModel.build takes): norms
 * 1; matrices as random block-32 symmetric codes with one small scale (int4, int8) in engine/quant's layout, or small
 * f32 values. No checkpoint and no CPU copy of the model: a 1B shape is on the GPU in about a second, which a bench
 * with seconds of device time needs.
 */
export function randomGpuWeights(device: GPUDevice, config: ModelConfig, quantization: QuantizationMode, seed = 1234): GpuWeights {
  const spec = quantizationSpec(quantization);
  const weights = new GpuWeights(quantization);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
  // One 4 MiB pattern of random bytes, written again and again: the bytes need not differ across a matrix.
  let state = seed >>> 0 || 1;
  const pattern = new Uint8Array(1 << 22);
  for (let i = 0; i < pattern.length; i++) { state ^= state << 13; state >>>= 0; state ^= state >>> 17; state ^= state << 5; state >>>= 0; pattern[i] = state & 0xff; }
  // f32 matrices: the bytes as small values in [-0.02, 0.02); norms: ones.
  const smallFloats = Float32Array.from({ length: 1 << 20 }, (_, i) => (pattern[i] - 128) / 6400);
  const smallHalves = quantization === 'f16' ? toF16(smallFloats) : null;
  const buffer = (label: string, bytes: number, src: ArrayBufferView<ArrayBuffer>): GPUBuffer => {
    const b = device.createBuffer({ label, size: Math.ceil(bytes / 16) * 16, usage });
    for (let at = 0; at < bytes; at += src.byteLength) device.queue.writeBuffer(b, at, src, 0, Math.min(src.byteLength, bytes - at) / (src as Float32Array).BYTES_PER_ELEMENT);
    weights.bytes += bytes;
    return b;
  };
  const add = (name: string, shape: number[]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    if (shape.length === 1) {
      weights.byName.set(name, { buffer: buffer(name, n * 4, new Float32Array(Math.min(n, 1 << 20)).fill(1)), shape });
    } else if (smallHalves) {
      weights.byName.set(name, { buffer: buffer(name, n * 2, smallHalves), shape, f16: true });
    } else if (!spec) {
      weights.byName.set(name, { buffer: buffer(name, n * 4, smallFloats), shape });
    } else {
      const blocksPerRow = Math.ceil(shape[1] / spec.blockSize);
      const codes = buffer(name, shape[0] * blocksPerRow * spec.blockSize * spec.bits / 8, pattern);
      const scales = buffer(`${name} scales`, shape[0] * blocksPerRow * 4, new Float32Array(1 << 16).fill(spec.bits === 4 ? 0.004 : 0.00025));
      weights.byName.set(name, { buffer: codes, shape, quantized: { scales, mins: false, bits: spec.bits as 4 | 8, blockSize: spec.blockSize, blocksPerRow } });
    }
  };
  const c = config;
  const D = c.hiddenSize;
  add('model.embed_tokens.weight', [c.vocabSize, D]);
  add('model.norm.weight', [D]);
  if (!c.tieWordEmbeddings) add('lm_head.weight', [c.vocabSize, D]);
  for (let l = 0; l < c.numLayers; l++) {
    const w = (suffix: string, shape: number[]) => add(layerWeight(l, suffix), shape);
    w('input_layernorm.weight', [D]);
    w('post_attention_layernorm.weight', [D]);
    w('self_attn.q_proj.weight', [c.numHeads * c.headDim, D]);
    w('self_attn.k_proj.weight', [c.numKvHeads * c.headDim, D]);
    w('self_attn.v_proj.weight', [c.numKvHeads * c.headDim, D]);
    w('self_attn.o_proj.weight', [D, c.numHeads * c.headDim]);
    w('mlp.gate_proj.weight', [c.intermediateSize, D]);
    w('mlp.up_proj.weight', [c.intermediateSize, D]);
    w('mlp.down_proj.weight', [D, c.intermediateSize]);
  }
  return weights;
}

/** A Llama checkpoint's tensors in file order: name, shape, and how a random checkpoint fills them. */
export function llamaTensorList(shape: LlamaShape): [string, number[], 'normal' | 'ones'][] {
  const s = shape;
  const d = s.hiddenSize / s.numHeads;
  const tensors: [string, number[], 'normal' | 'ones'][] = [['model.embed_tokens.weight', [s.vocabSize, s.hiddenSize], 'normal']];
  for (let i = 0; i < s.numLayers; i++) {
    const p = `model.layers.${i}.`;
    tensors.push(
      [p + 'input_layernorm.weight', [s.hiddenSize], 'ones'],
      [p + 'self_attn.q_proj.weight', [s.numHeads * d, s.hiddenSize], 'normal'],
      [p + 'self_attn.k_proj.weight', [s.numKvHeads * d, s.hiddenSize], 'normal'],
      [p + 'self_attn.v_proj.weight', [s.numKvHeads * d, s.hiddenSize], 'normal'],
      [p + 'self_attn.o_proj.weight', [s.hiddenSize, s.numHeads * d], 'normal'],
      [p + 'post_attention_layernorm.weight', [s.hiddenSize], 'ones'],
      [p + 'mlp.gate_proj.weight', [s.intermediateSize, s.hiddenSize], 'normal'],
      [p + 'mlp.up_proj.weight', [s.intermediateSize, s.hiddenSize], 'normal'],
      [p + 'mlp.down_proj.weight', [s.hiddenSize, s.intermediateSize], 'normal'],
    );
  }
  tensors.push(['model.norm.weight', [s.hiddenSize], 'ones']);
  if (!s.tieWordEmbeddings) tensors.push(['lm_head.weight', [s.vocabSize, s.hiddenSize], 'normal']);
  return tensors;
}

/** config.json of a Llama checkpoint of `shape` whose weights are stored as `dtype`. */
export function llamaConfigJson(shape: LlamaShape, dtype: 'float16' | 'bfloat16'): string {
  const s = shape;
  return JSON.stringify({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: s.hiddenSize, intermediate_size: s.intermediateSize,
    num_hidden_layers: s.numLayers, num_attention_heads: s.numHeads, num_key_value_heads: s.numKvHeads, vocab_size: s.vocabSize,
    max_position_embeddings: s.maxPositionEmbeddings, rope_theta: s.ropeTheta, rms_norm_eps: 1e-5, hidden_act: 'silu',
    tie_word_embeddings: s.tieWordEmbeddings, bos_token_id: 1, eos_token_id: 2, torch_dtype: dtype,
  }, null, 2);
}

/** The safetensors header (padded to 8 bytes) of 2-byte tensors laid out in order, and the bytes of data after it. */
export function safetensorsHeaderJson(tensors: [string, number[], unknown][], dtype: 'F16' | 'BF16'): { json: string; dataBytes: number } {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, dims] of tensors) {
    const bytes = dims.reduce((a, b) => a * b, 1) * 2;
    header[name] = { dtype, shape: dims, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = JSON.stringify(header);
  return { json: json + ' '.repeat((8 - (json.length % 8)) % 8), dataBytes: offset };
}

export function writeRandomCheckpoint(dir: string, shape: LlamaShape, seed = 1234, std = 0.02): string {
  if (existsSync(join(dir, 'model.safetensors'))) return dir;
  mkdirSync(dir, { recursive: true });
  const tensors = llamaTensorList(shape);

  const { json: headerJson, dataBytes: offset } = safetensorsHeaderJson(tensors, 'F16');
  const data = new Uint16Array(offset / 2);
  let state = seed >>> 0 || 1;
  const uniform = () => { state ^= state << 13; state >>>= 0; state ^= state >>> 17; state ^= state << 5; state >>>= 0; return (state + 0.5) / 4294967296; };
  let k = 0;
  for (const [, dims, init] of tensors) {
    const count = dims.reduce((a, b) => a * b, 1);
    for (let i = 0; i < count; i++) {
      // Box-Muller needs two uniforms; a sum of uniforms is normal enough for a speed benchmark.
      data[k++] = init === 'ones' ? 0x3c00 : f16Bits((uniform() + uniform() + uniform() - 1.5) * 2 * std);
    }
  }
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerJson.length));
  writeFileSync(join(dir, 'model.safetensors'), Buffer.concat([len, Buffer.from(headerJson), Buffer.from(data.buffer)]));
  writeFileSync(join(dir, 'config.json'), llamaConfigJson(shape, 'float16'));
  return dir;
}
