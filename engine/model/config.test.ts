// Tests of config.json parsing: real hub configs in both transformers forms, defaults, and refusals.
import { describe, expect, it } from 'vitest';
import { BadModelFileError, UnsupportedArchitectureError } from '../errors/index.ts';
import { parseHfConfig, UnsupportedConfigError } from './config.ts';

// Field values as published on the hub (meta-llama/Llama-3.2-1B, Qwen/Qwen2.5-0.5B-Instruct, Qwen/Qwen3-0.6B,
// HuggingFaceTB/SmolLM2-135M), trimmed to what the parser reads plus a few it must ignore.
const LLAMA_32_1B = {
  architectures: ['LlamaForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: 128000,
  eos_token_id: 128001, head_dim: 64, hidden_act: 'silu', hidden_size: 2048, initializer_range: 0.02,
  intermediate_size: 8192, max_position_embeddings: 131072, mlp_bias: false, model_type: 'llama',
  num_attention_heads: 32, num_hidden_layers: 16, num_key_value_heads: 8, pretraining_tp: 1, rms_norm_eps: 1e-5,
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  rope_theta: 500000.0, tie_word_embeddings: true, torch_dtype: 'bfloat16', transformers_version: '4.45.0.dev0',
  use_cache: true, vocab_size: 128256,
};
const QWEN25_05B = {
  architectures: ['Qwen2ForCausalLM'], attention_dropout: 0.0, bos_token_id: 151643, eos_token_id: 151645,
  hidden_act: 'silu', hidden_size: 896, initializer_range: 0.02, intermediate_size: 4864, max_position_embeddings: 32768,
  max_window_layers: 21, model_type: 'qwen2', num_attention_heads: 14, num_hidden_layers: 24, num_key_value_heads: 2,
  rms_norm_eps: 1e-6, rope_theta: 1000000.0, sliding_window: 32768, tie_word_embeddings: true, torch_dtype: 'bfloat16',
  use_cache: true, use_sliding_window: false, vocab_size: 151936,
};
const QWEN3_06B = {
  architectures: ['Qwen3ForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: 151643,
  eos_token_id: 151645, head_dim: 128, hidden_act: 'silu', hidden_size: 1024, initializer_range: 0.02,
  intermediate_size: 3072, max_position_embeddings: 40960, max_window_layers: 28, model_type: 'qwen3',
  num_attention_heads: 16, num_hidden_layers: 28, num_key_value_heads: 8, rms_norm_eps: 1e-6, rope_scaling: null,
  rope_theta: 1000000, sliding_window: null, tie_word_embeddings: true, torch_dtype: 'bfloat16', use_cache: true,
  use_sliding_window: false, vocab_size: 151936,
};

describe('parseHfConfig', () => {
  it('reads Llama 3.2 with llama3 rope scaling (older form)', () => {
    const c = parseHfConfig(LLAMA_32_1B, 'config.json');
    expect(c).toEqual({
      architecture: 'llama', vocabSize: 128256, hiddenSize: 2048, intermediateSize: 8192, numLayers: 16, numHeads: 32,
      numKvHeads: 8, headDim: 64, rmsNormEps: 1e-5, ropeTheta: 500000,
      ropeScaling: { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
      ropeLayout: 'half', maxPositionEmbeddings: 131072, tieWordEmbeddings: true, attentionBias: false, qkNorm: false,
      bosTokenId: 128000, eosTokenIds: [128001],
    });
  });

  it('reads the transformers 5 form (rope_parameters) to the same config', () => {
    const { rope_scaling, rope_theta, ...rest } = LLAMA_32_1B;
    const v5 = { ...rest, rope_parameters: { ...rope_scaling, rope_theta } };
    expect(parseHfConfig(v5, 'config.json')).toEqual(parseHfConfig(LLAMA_32_1B, 'config.json'));
    const plain = parseHfConfig({ ...rest, rope_parameters: { rope_type: 'default', rope_theta: 12345 } }, 'config.json');
    expect(plain.ropeTheta).toBe(12345);
    expect(plain.ropeScaling).toBeNull();
  });

  it('accepts the legacy "type" key of rope_scaling', () => {
    const c = parseHfConfig({ ...LLAMA_32_1B, rope_scaling: { ...LLAMA_32_1B.rope_scaling, rope_type: undefined, type: 'llama3' } }, 'config.json');
    expect(c.ropeScaling).toMatchObject({ type: 'llama3', factor: 32 });
  });

  it('reads Qwen2.5: q/k/v bias always, head_dim from hidden/heads', () => {
    const c = parseHfConfig(QWEN25_05B, 'config.json');
    expect(c.architecture).toBe('qwen2');
    expect(c.attentionBias).toBe(true);
    expect(c.qkNorm).toBe(false);
    expect(c.headDim).toBe(64);
    expect(c.numKvHeads).toBe(2);
    expect(c.ropeTheta).toBe(1e6);
    expect(c.tieWordEmbeddings).toBe(true);
    expect(c.eosTokenIds).toEqual([151645]);
  });

  it('reads Qwen3: qk norm, explicit head_dim that differs from hidden/heads, no bias by default', () => {
    const c = parseHfConfig(QWEN3_06B, 'config.json');
    expect(c.qkNorm).toBe(true);
    expect(c.headDim).toBe(128);
    expect(c.hiddenSize / c.numHeads).toBe(64);
    expect(c.attentionBias).toBe(false);
    expect(c.maxPositionEmbeddings).toBe(40960);
    const { head_dim, attention_bias, ...bare } = QWEN3_06B;
    expect(parseHfConfig(bare, 'config.json').headDim).toBe(128); // Qwen3Config's own default
    expect(parseHfConfig({ ...QWEN3_06B, attention_bias: true }, 'config.json').attentionBias).toBe(true);
  });

  it('applies transformers defaults for omitted fields', () => {
    const minimal = { model_type: 'llama', vocab_size: 10, hidden_size: 8, intermediate_size: 4, num_hidden_layers: 1, num_attention_heads: 2 };
    const c = parseHfConfig(minimal, 'config.json');
    expect(c.numKvHeads).toBe(2);
    expect(c.headDim).toBe(4);
    expect(c.rmsNormEps).toBe(1e-6);
    expect(c.ropeTheta).toBe(10000);
    expect(c.maxPositionEmbeddings).toBe(2048);
    expect(c.tieWordEmbeddings).toBe(false);
    expect(c.attentionBias).toBe(false);
    expect(c.bosTokenId).toBe(1);
    expect(c.eosTokenIds).toEqual([2]);
    const q = parseHfConfig({ ...minimal, model_type: 'qwen2' }, 'config.json');
    expect(q.bosTokenId).toBeNull();
    expect(q.eosTokenIds).toEqual([]);
    expect(q.tieWordEmbeddings).toBe(false);
    expect(q.maxPositionEmbeddings).toBe(32768);
  });

  it('takes eos as a list and bos as null', () => {
    const c = parseHfConfig({ ...LLAMA_32_1B, bos_token_id: null, eos_token_id: [128001, 128008, 128009] }, 'config.json');
    expect(c.bosTokenId).toBeNull();
    expect(c.eosTokenIds).toEqual([128001, 128008, 128009]);
    expect(() => parseHfConfig({ ...LLAMA_32_1B, eos_token_id: ['x'] }, 'config.json')).toThrow(/eos_token_id\[0\]/);
  });

  it('refuses unknown architectures, listing the supported ones', () => {
    expect(() => parseHfConfig({ ...LLAMA_32_1B, model_type: 'gemma2' }, 'config.json')).toThrow(UnsupportedArchitectureError);
    expect(() => parseHfConfig({ ...LLAMA_32_1B, model_type: 'gemma2' }, 'config.json')).toThrow(/"gemma2" is not supported; supported: llama, qwen2, qwen3/);
  });

  it.each(['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'model_type'])(
    'names config.json and the field when %s is missing', (field) => {
      const broken: Record<string, unknown> = { ...QWEN25_05B };
      delete broken[field];
      expect(() => parseHfConfig(broken, 'config.json')).toThrow(BadModelFileError);
      expect(() => parseHfConfig(broken, 'config.json')).toThrow(new RegExp(`^config\\.json: ${field}: is missing`));
    },
  );

  it('refuses wrong values by field', () => {
    expect(() => parseHfConfig({ ...QWEN25_05B, hidden_size: '896' }, 'config.json')).toThrow(/config\.json: hidden_size: "896" is not a positive integer/);
    expect(() => parseHfConfig({ ...QWEN25_05B, num_key_value_heads: 3 }, 'config.json')).toThrow(/num_key_value_heads: 3 does not divide/);
    expect(() => parseHfConfig({ ...QWEN25_05B, tie_word_embeddings: 'yes' }, 'config.json')).toThrow(/tie_word_embeddings/);
    expect(() => parseHfConfig([], 'config.json')).toThrow(BadModelFileError);
    const noFactor = { ...LLAMA_32_1B, rope_scaling: { ...LLAMA_32_1B.rope_scaling, low_freq_factor: undefined } };
    expect(() => parseHfConfig(noFactor, 'config.json')).toThrow(/rope_scaling\.low_freq_factor: is missing/);
  });

  it('refuses rope types and features it does not implement, naming the field', () => {
    const yarn = { ...QWEN3_06B, rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 32768 } };
    expect(() => parseHfConfig(yarn, 'config.json')).toThrow(UnsupportedConfigError);
    expect(() => parseHfConfig(yarn, 'config.json')).toThrow(/rope_scaling\.rope_type = "yarn" is not supported; supported: default, llama3/);
    const linear = { ...LLAMA_32_1B, rope_scaling: { type: 'linear', factor: 2 } };
    expect(() => parseHfConfig(linear, 'config.json')).toThrow(/rope_scaling\.type = "linear"/);
    const v5dynamic = { ...LLAMA_32_1B, rope_scaling: undefined, rope_parameters: { rope_type: 'dynamic', rope_theta: 1e4, factor: 2 } };
    expect(() => parseHfConfig(v5dynamic, 'config.json')).toThrow(/rope_parameters\.rope_type = "dynamic"/);
    expect(() => parseHfConfig({ ...QWEN25_05B, use_sliding_window: true }, 'config.json')).toThrow(/use_sliding_window/);
    expect(() => parseHfConfig({ ...LLAMA_32_1B, mlp_bias: true }, 'config.json')).toThrow(/mlp_bias/);
    expect(() => parseHfConfig({ ...LLAMA_32_1B, hidden_act: 'gelu' }, 'config.json')).toThrow(/hidden_act/);
    expect(new UnsupportedConfigError('config.json', 'x', 1, 'y').code).toBe('UNSUPPORTED_ARCHITECTURE');
  });
});
