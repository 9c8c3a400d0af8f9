// Test helper: writes small Hugging Face checkpoints (safetensors bytes built by hand, f32/f16/bf16, optionally sharded).
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { f16Bits } from '../quant/index.ts';

export type Dtype = 'F32' | 'F16' | 'BF16';

export interface TensorSpec {
  name: string;
  shape: number[];
  values: number[];
  dtype?: Dtype | string;
}

/** f32 -> bf16 bits by truncation (tests use values bf16 holds exactly). */
export function bf16Bits(x: number): number {
  return new Uint32Array(new Float32Array([x]).buffer)[0] >>> 16;
}

const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, I64: 8, F64: 8, I32: 4, U8: 1 };

/**
 * safetensors bytes: 8-byte LE header length, JSON header, data in tensor order.
 * `header` edits the parsed header before it is written, to make lying files.
 */
export function safetensorsBytes(
  tensors: TensorSpec[],
  opts: { metadata?: Record<string, string>; header?: (h: Record<string, any>) => void; pad?: boolean } = {},
): Uint8Array {
  const header: Record<string, any> = {};
  if (opts.metadata) header.__metadata__ = opts.metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const t of tensors) {
    const dtype = t.dtype ?? 'F32';
    const size = DTYPE_BYTES[dtype];
    const bytes = new Uint8Array(t.values.length * size);
    const view = new DataView(bytes.buffer);
    t.values.forEach((v, i) => {
      if (dtype === 'F32') view.setFloat32(i * 4, v, true);
      else if (dtype === 'F16') view.setUint16(i * 2, f16Bits(v), true);
      else if (dtype === 'BF16') view.setUint16(i * 2, bf16Bits(v), true);
      else if (dtype === 'I64') view.setBigInt64(i * 8, BigInt(v), true);
      else if (dtype === 'I32') view.setInt32(i * 4, v, true);
      else if (dtype === 'F64') view.setFloat64(i * 8, v, true);
      else view.setUint8(i, v);
    });
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  opts.header?.(header);
  let json = JSON.stringify(header);
  // The Python writer pads the header with spaces to 8 bytes so f32 data is aligned; pad: false tests the unaligned case.
  if (opts.pad !== false) json += ' '.repeat((8 - (json.length % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.byteLength;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Deterministic values exactly representable in bf16 and f16 (multiples of 1/64 in [-2, 2)). */
export function testValues(count: number, seed: number): number[] {
  const out: number[] = [];
  let s = seed >>> 0;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(((s >>> 24) - 128) / 64);
  }
  return out;
}

export type TinyArch = 'llama' | 'qwen2' | 'qwen3';

/** Sizes of the tiny test models: hidden 8, 2 heads of 4, 1 KV head, MLP 12, vocab 16, 2 layers. */
export const TINY = { hidden: 8, heads: 2, kvHeads: 1, headDim: 4, intermediate: 12, vocab: 16, layers: 2 };

/** The config.json of a tiny model, in the older hub form (top-level rope_theta). */
export function tinyConfig(arch: TinyArch, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    architectures: [{ llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM' }[arch]],
    model_type: arch,
    vocab_size: TINY.vocab,
    hidden_size: TINY.hidden,
    intermediate_size: TINY.intermediate,
    num_hidden_layers: TINY.layers,
    num_attention_heads: TINY.heads,
    num_key_value_heads: TINY.kvHeads,
    head_dim: TINY.headDim,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    max_position_embeddings: 128,
    tie_word_embeddings: false,
    bos_token_id: 1,
    eos_token_id: 2,
    ...extra,
  };
}

/** Every tensor of a tiny model, listed by hand (independent of the loader's own list). */
export function tinyTensors(arch: TinyArch, opts: { tied?: boolean; dtype?: Dtype; oBias?: boolean } = {}): TensorSpec[] {
  const { hidden: h, headDim: d, heads, kvHeads, intermediate: m, vocab: v } = TINY;
  const out: TensorSpec[] = [];
  let seed = 1;
  const add = (name: string, shape: number[]) =>
    out.push({ name, shape, values: testValues(shape.reduce((a, b) => a * b, 1), seed++), dtype: opts.dtype ?? 'F32' });
  add('model.embed_tokens.weight', [v, h]);
  for (let i = 0; i < TINY.layers; i++) {
    const p = `model.layers.${i}.`;
    add(p + 'input_layernorm.weight', [h]);
    add(p + 'self_attn.q_proj.weight', [heads * d, h]);
    add(p + 'self_attn.k_proj.weight', [kvHeads * d, h]);
    add(p + 'self_attn.v_proj.weight', [kvHeads * d, h]);
    add(p + 'self_attn.o_proj.weight', [h, heads * d]);
    if (arch === 'qwen2' || opts.oBias) {
      add(p + 'self_attn.q_proj.bias', [heads * d]);
      add(p + 'self_attn.k_proj.bias', [kvHeads * d]);
      add(p + 'self_attn.v_proj.bias', [kvHeads * d]);
    }
    if (opts.oBias) add(p + 'self_attn.o_proj.bias', [h]);
    if (arch === 'qwen3') {
      add(p + 'self_attn.q_norm.weight', [d]);
      add(p + 'self_attn.k_norm.weight', [d]);
    }
    add(p + 'post_attention_layernorm.weight', [h]);
    add(p + 'mlp.gate_proj.weight', [m, h]);
    add(p + 'mlp.up_proj.weight', [m, h]);
    add(p + 'mlp.down_proj.weight', [h, m]);
  }
  add('model.norm.weight', [h]);
  if (!opts.tied) add('lm_head.weight', [v, h]);
  return out;
}

/** Writes a checkpoint folder; `shards` > 1 splits the tensors round-robin and writes an index. */
export async function writeCheckpoint(
  files: { config?: unknown; tensors?: TensorSpec[]; shards?: number; extra?: Record<string, string | Uint8Array> },
  dir?: string,
): Promise<string> {
  const out = dir ?? (await mkdtemp(join(tmpdir(), 'sieve-ckpt-')));
  if (files.config !== undefined) await writeFile(join(out, 'config.json'), JSON.stringify(files.config));
  if (files.tensors) {
    const shards = files.shards ?? 1;
    if (shards === 1) {
      await writeFile(join(out, 'model.safetensors'), safetensorsBytes(files.tensors));
    } else {
      const weightMap: Record<string, string> = {};
      for (let s = 0; s < shards; s++) {
        const name = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
        const part = files.tensors.filter((_, i) => i % shards === s);
        for (const t of part) weightMap[t.name] = name;
        await writeFile(join(out, name), safetensorsBytes(part));
      }
      await writeFile(join(out, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
    }
  }
  for (const [name, content] of Object.entries(files.extra ?? {})) await writeFile(join(out, name), content);
  return out;
}
