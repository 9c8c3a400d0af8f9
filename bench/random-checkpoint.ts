// Writes a seeded random Hugging Face checkpoint (config.json + f16 model.safetensors) of a given Llama shape,
// so benchmarks can run real-sized models that cannot be downloaded here.
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

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

function f32ToF16(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp <= 0) return sign; // tiny values flush to zero: fine for random weights
  if (exp >= 31) return sign | 0x7c00;
  return sign | (exp << 10) | (mant >>> 13);
}

export function writeRandomCheckpoint(dir: string, shape: LlamaShape, seed = 1234, std = 0.02): string {
  if (existsSync(join(dir, 'model.safetensors'))) return dir;
  mkdirSync(dir, { recursive: true });
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

  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, dims] of tensors) {
    const bytes = dims.reduce((a, b) => a * b, 1) * 2;
    header[name] = { dtype: 'F16', shape: dims, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let headerJson = JSON.stringify(header);
  headerJson += ' '.repeat((8 - (headerJson.length % 8)) % 8);
  const data = new Uint16Array(offset / 2);
  let state = seed >>> 0 || 1;
  const uniform = () => { state ^= state << 13; state >>>= 0; state ^= state >>> 17; state ^= state << 5; state >>>= 0; return (state + 0.5) / 4294967296; };
  let k = 0;
  for (const [, dims, init] of tensors) {
    const count = dims.reduce((a, b) => a * b, 1);
    for (let i = 0; i < count; i++) {
      // Box-Muller needs two uniforms; a sum of uniforms is normal enough for a speed benchmark.
      data[k++] = init === 'ones' ? 0x3c00 : f32ToF16((uniform() + uniform() + uniform() - 1.5) * 2 * std);
    }
  }
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerJson.length));
  writeFileSync(join(dir, 'model.safetensors'), Buffer.concat([len, Buffer.from(headerJson), Buffer.from(data.buffer)]));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: s.hiddenSize, intermediate_size: s.intermediateSize,
    num_hidden_layers: s.numLayers, num_attention_heads: s.numHeads, num_key_value_heads: s.numKvHeads, vocab_size: s.vocabSize,
    max_position_embeddings: s.maxPositionEmbeddings, rope_theta: s.ropeTheta, rms_norm_eps: 1e-5, hidden_act: 'silu',
    tie_word_embeddings: s.tieWordEmbeddings, bos_token_id: 1, eos_token_id: 2, torch_dtype: 'float16',
  }, null, 2));
  return dir;
}
