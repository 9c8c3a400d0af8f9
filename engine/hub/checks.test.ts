// Quota and capability checks, made before a download starts.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BufferLimitError, StorageQuotaError } from '../errors/index.ts';
import { parseGguf } from '../model/gguf.ts';
import type { ModelConfig } from '../model/index.ts';
import { catalogModelConfig, findCatalogModel } from './catalog.ts';
import { checkCapabilities, checkQuota, ggufModelNeeds, modelNeeds, QUOTA_HEADROOM_BYTES, type GgufTensorDescription } from './checks.ts';

const MB = 1e6;

describe('checkQuota', () => {
  it('throws StorageQuotaError naming the bytes needed and available when a forced small quota is too small', () => {
    let error: unknown;
    try { checkQuota('Qwen/Qwen3-0.6B', 1503 * MB, { quota: 500 * MB, usage: 100 * MB }); } catch (e) { error = e; }
    expect(error).toBeInstanceOf(StorageQuotaError);
    const e = error as StorageQuotaError;
    expect(e.code).toBe('STORAGE_QUOTA');
    expect(e.details).toMatchObject({ neededBytes: 1503 * MB + QUOTA_HEADROOM_BYTES, availableBytes: 400 * MB });
    expect(e.message).toContain(String(1503 * MB + QUOTA_HEADROOM_BYTES));
    expect(e.remedy).toMatch(/remove cached models/);
  });
  it('passes when the download and the headroom fit, and when the browser tells no quota', () => {
    expect(() => checkQuota('m', 100 * MB, { quota: 200 * MB, usage: 0 })).not.toThrow();
    expect(() => checkQuota('m', 100 * MB, { quota: 100 * MB, usage: 0 })).toThrow(StorageQuotaError); // headroom
    expect(() => checkQuota('m', 100 * MB, {})).not.toThrow();
    expect(() => checkQuota('m', 0, { quota: 0, usage: 0 })).not.toThrow(); // everything is stored already
  });
});

describe('checkCapabilities', () => {
  const swiftshader = { limits: { maxStorageBufferBindingSize: 2 ** 30, maxBufferSize: 2 ** 30 }, features: new Set<string>() };
  const mobile = { limits: { maxStorageBufferBindingSize: 128 * 2 ** 20, maxBufferSize: 256 * 2 ** 20 }, features: new Set<string>() };

  it('finds the largest tensor of a catalog model from its config alone', () => {
    const needs = modelNeeds(catalogModelConfig(findCatalogModel('qwen2.5-0.5b-instruct')!), 'f32');
    expect(needs.largestTensor).toBe('model.embed_tokens.weight');
    expect(needs.largestTensorBytes).toBe(151936 * 896 * 4);
  });
  it('lets Qwen2.5-0.5B in f32 onto a 1 GiB adapter but not under a 128 MiB binding limit', () => {
    const config = catalogModelConfig(findCatalogModel('qwen2.5-0.5b-instruct')!);
    expect(() => checkCapabilities('qwen', modelNeeds(config, 'f32'), swiftshader)).not.toThrow();
    let error: unknown;
    try { checkCapabilities('qwen', modelNeeds(config, 'f32'), mobile); } catch (e) { error = e; }
    expect(error).toBeInstanceOf(BufferLimitError);
    expect((error as BufferLimitError).details).toMatchObject({ limit: 128 * 2 ** 20, limitName: 'maxStorageBufferBindingSize' });
    // int4 brings the embedding table to 76.6 MB: it fits the same adapter.
    expect(() => checkCapabilities('qwen', modelNeeds(config, 'int4'), mobile)).not.toThrow();
  });
  it('counts f16 weights at 2 bytes and asks for no feature (f16 pairs are read without shader-f16)', () => {
    const config = catalogModelConfig(findCatalogModel('sieve-tiny')!);
    const f32 = modelNeeds(config, 'f32');
    const f16 = modelNeeds(config, 'f16');
    expect(f16.largestTensorBytes).toBe(f32.largestTensorBytes / 2);
    expect(f16.features).toEqual([]);
    expect(() => checkCapabilities('tiny', f16, swiftshader)).not.toThrow();
  });
  it('names maxBufferSize when that is the smaller limit', () => {
    const odd = { limits: { maxStorageBufferBindingSize: 2 ** 31, maxBufferSize: 2 ** 20 }, features: new Set<string>() };
    expect(() => checkCapabilities('tiny', modelNeeds(catalogModelConfig(findCatalogModel('sieve-tiny')!)), odd)).toThrow(/maxBufferSize/);
  });
});

/**
 * The ggml types llama-quantize gives each tensor of a Llama under Q4_K_M (llama.cpp src/llama-quant.cpp,
 * llama_tensor_get_type): a tied embedding (as the output) and, in the layers use_more_bits picks, attn_v and ffn_down
 * in Q6_K; every other matrix Q4_K; norms F32.
 */
function llamaQ4KM(config: ModelConfig): GgufTensorDescription[] {
  const c = config;
  const n = c.numLayers;
  const moreBits = (i: number) => i < Math.floor(n / 8) || i >= Math.floor((7 * n) / 8) || (i - Math.floor(n / 8)) % 3 === 2;
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const out: GgufTensorDescription[] = [{ name: 'model.embed_tokens.weight', dtype: c.tieWordEmbeddings ? 'Q6_K' : 'Q4_K', shape: [c.vocabSize, c.hiddenSize] }];
  if (!c.tieWordEmbeddings) out.push({ name: 'lm_head.weight', dtype: 'Q6_K', shape: [c.vocabSize, c.hiddenSize] });
  out.push({ name: 'model.norm.weight', dtype: 'F32', shape: [c.hiddenSize] });
  for (let l = 0; l < n; l++) {
    const p = `model.layers.${l}.`;
    const hi = moreBits(l) ? 'Q6_K' : 'Q4_K';
    out.push(
      { name: `${p}input_layernorm.weight`, dtype: 'F32', shape: [c.hiddenSize] },
      { name: `${p}post_attention_layernorm.weight`, dtype: 'F32', shape: [c.hiddenSize] },
      { name: `${p}self_attn.q_proj.weight`, dtype: 'Q4_K', shape: [qDim, c.hiddenSize] },
      { name: `${p}self_attn.k_proj.weight`, dtype: 'Q4_K', shape: [kvDim, c.hiddenSize] },
      { name: `${p}self_attn.v_proj.weight`, dtype: hi, shape: [kvDim, c.hiddenSize] },
      { name: `${p}self_attn.o_proj.weight`, dtype: 'Q4_K', shape: [c.hiddenSize, qDim] },
      { name: `${p}mlp.gate_proj.weight`, dtype: 'Q4_K', shape: [c.intermediateSize, c.hiddenSize] },
      { name: `${p}mlp.up_proj.weight`, dtype: 'Q4_K', shape: [c.intermediateSize, c.hiddenSize] },
      { name: `${p}mlp.down_proj.weight`, dtype: hi, shape: [c.hiddenSize, c.intermediateSize] },
    );
  }
  return out;
}

describe('ggufModelNeeds', () => {
  const GOLDEN = fileURLToPath(new URL('../../models/golden/gguf/llama-kquant-Q4_K_M.gguf', import.meta.url));

  it("gives a GGUF's GPU bytes from its header: the golden Q4_K_M's, and llama-quantize's mix as the rule above", () => {
    const { config, weights } = parseGguf(new Uint8Array(readFileSync(GOLDEN)), 'llama-kquant-Q4_K_M.gguf');
    const tensors = weights.names().map((name) => ({ name, dtype: weights.dtype(name), shape: weights.shape(name) }));
    // The rule reproduces what llama-quantize wrote into the golden file.
    expect(llamaQ4KM(config).map((t) => `${t.name} ${t.dtype}`).sort()).toEqual(tensors.map((t) => `${t.name} ${t.dtype}`).sort());
    // 5 Q4_K matrices at 6 bits a weight, 3 Q6_K at 10, the f32 norms (gguf-gpu.test.ts measures the same on the GPU).
    expect(ggufModelNeeds(tensors).weightBytes).toBe(510976);
  });

  it('puts a Llama-3.2-1B Q4_K_M at its quantized size on the GPU, its largest buffer within a 1 GiB binding', () => {
    const config = catalogModelConfig(findCatalogModel('llama-3.2-1b-instruct')!);
    const q4km = llamaQ4KM(config);
    const needs = ggufModelNeeds(q4km);
    const f32 = q4km.reduce((n, t) => n + 4 * t.shape.reduce((a, b) => a * b, 1), 0);
    // GGUF bytes of the same tensors (Q4_K 4.5 bits a weight, Q6_K 6.5625, F32 32).
    const bits: Record<string, number> = { Q4_K: 4.5, Q6_K: 6.5625, F32: 32 };
    const file = q4km.reduce((n, t) => n + (bits[t.dtype] / 8) * t.shape.reduce((a, b) => a * b, 1), 0);
    console.log(`Llama-3.2-1B Q4_K_M: GPU ${needs.weightBytes} bytes (file tensors ${file}, as f32 ${f32}); largest buffer ${needs.largestTensor} ${needs.largestTensorBytes}`);
    expect(needs.weightBytes).toBe(1_129_717_760); // 1.13 GB: 1.41x the GGUF's 0.80 GB, 4.4x less than f32's 4.94 GB
    expect(file).toBe(799_862_784);
    expect(needs.largestTensor).toBe('model.embed_tokens.weight');
    expect(needs.largestTensorBytes).toBe(128256 * 2048); // int8 codes of the Q6_K table
    expect(() => checkCapabilities('llama-3.2-1b Q4_K_M', needs, { limits: { maxStorageBufferBindingSize: 2 ** 30, maxBufferSize: 2 ** 30 }, features: new Set() })).not.toThrow();
  });
});
