// Hugging Face config.json -> ModelConfig, for Llama, Qwen2 and Qwen3, in both the transformers 4 and 5 forms.
import { BadModelFileError, SieveError, UnsupportedArchitectureError } from '../errors/index.ts';
import { SUPPORTED_ARCHITECTURES, type Architecture, type Llama3RopeScaling, type ModelConfig } from './types.ts';

/**
 * Defaults of the fields a config.json may omit, from transformers' config classes
 * (models/{llama,qwen2,qwen3}/configuration_*.py and PreTrainedConfig.default_theta, transformers 5.0).
 * Structural sizes (vocab, hidden, layers, heads, intermediate) have no default here: a config without them
 * describes no real checkpoint, so we fail rather than guess 7B-sized numbers.
 */
const DEFAULTS: Record<Architecture, {
  maxPositionEmbeddings: number;
  headDim: number | null; // null: hiddenSize / numHeads
  bosTokenId: number | null;
  eosTokenIds: number[];
}> = {
  llama: { maxPositionEmbeddings: 2048, headDim: null, bosTokenId: 1, eosTokenIds: [2] },
  qwen2: { maxPositionEmbeddings: 32768, headDim: null, bosTokenId: null, eosTokenIds: [] },
  qwen3: { maxPositionEmbeddings: 32768, headDim: 128, bosTokenId: null, eosTokenIds: [] },
};
const DEFAULT_RMS_NORM_EPS = 1e-6;
const DEFAULT_ROPE_THETA = 10000;
/** Every config class above defaults tie_word_embeddings to false; small Qwen checkpoints set it true explicitly. */
const DEFAULT_TIE_WORD_EMBEDDINGS = false;
const SUPPORTED_ROPE_TYPES = ['default', 'llama3'];
const CONFIG_FILE = 'config.json';

/** A config.json field whose value names a feature the engine does not implement (a rope type, sliding windows, MLP bias). */
export class UnsupportedConfigError extends SieveError {
  constructor(file: string, field: string, value: unknown, supported: string) {
    super(
      'UNSUPPORTED_ARCHITECTURE',
      `${file}: ${field} = ${JSON.stringify(value)} is not supported; supported: ${supported}.`,
      'Pick a model whose config uses only supported features.',
      { file, field, value, supported },
    );
  }
}

/**
 * Normalizes a parsed config.json.
 *
 * Attention biases: `attentionBias` means q/k/v_proj carry a bias (always for qwen2; for llama and qwen3 when
 * `attention_bias` is true). Llama's `attention_bias` also gives o_proj a bias while Qwen2's never does, so
 * whether o_proj has one is told by the weights: `weights.has('model.layers.{i}.self_attn.o_proj.bias')`
 * (the loader requires it exactly when model_type is llama or qwen3 with attention_bias true).
 */
export function parseHfConfig(json: unknown, file: string = CONFIG_FILE): ModelConfig {
  if (!isObject(json)) throw new BadModelFileError(file, '(root)', 'is not a JSON object');
  const c = json;
  const modelType = c.model_type;
  if (typeof modelType !== 'string') throw new BadModelFileError(file, 'model_type', 'is missing or not a string');
  if (!(SUPPORTED_ARCHITECTURES as string[]).includes(modelType)) {
    throw new UnsupportedArchitectureError(file, modelType, SUPPORTED_ARCHITECTURES);
  }
  const architecture = modelType as Architecture;
  const defaults = DEFAULTS[architecture];

  const vocabSize = requiredCount(c, 'vocab_size', file);
  const hiddenSize = requiredCount(c, 'hidden_size', file);
  const intermediateSize = requiredCount(c, 'intermediate_size', file);
  const numLayers = requiredCount(c, 'num_hidden_layers', file);
  const numHeads = requiredCount(c, 'num_attention_heads', file);
  const numKvHeads = optionalCount(c, 'num_key_value_heads', file) ?? numHeads;
  if (numHeads % numKvHeads !== 0) {
    throw new BadModelFileError(file, 'num_key_value_heads', `${numKvHeads} does not divide num_attention_heads ${numHeads}`);
  }
  let headDim = optionalCount(c, 'head_dim', file) ?? defaults.headDim;
  if (headDim === null) {
    if (hiddenSize % numHeads !== 0) {
      throw new BadModelFileError(file, 'head_dim', `is absent and hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numHeads}`);
    }
    headDim = hiddenSize / numHeads;
  }
  if (headDim % 2 !== 0) throw new BadModelFileError(file, 'head_dim', `${headDim} is odd; RoPE rotates pairs of dimensions`);

  const hiddenAct = c.hidden_act ?? 'silu';
  if (hiddenAct !== 'silu') throw new UnsupportedConfigError(file, 'hidden_act', hiddenAct, 'silu');
  if (c.mlp_bias === true) throw new UnsupportedConfigError(file, 'mlp_bias', true, 'false');
  // Qwen2/3 only use their sliding window when use_sliding_window is set (transformers' __post_init__).
  if (c.use_sliding_window === true) throw new UnsupportedConfigError(file, 'use_sliding_window', true, 'false');
  if (c.layer_types !== undefined && c.layer_types !== null) {
    if (!Array.isArray(c.layer_types)) throw new BadModelFileError(file, 'layer_types', 'is not a list');
    const other = c.layer_types.find((t) => t !== 'full_attention');
    if (other !== undefined) throw new UnsupportedConfigError(file, 'layer_types', other, 'full_attention');
  }
  // partial rotary (rotating only part of each head) is a different RoPE than ours.
  const partial = (isObject(c.rope_parameters) ? c.rope_parameters.partial_rotary_factor : undefined) ?? c.partial_rotary_factor;
  if (partial !== undefined && partial !== null && partial !== 1) {
    throw new UnsupportedConfigError(file, 'partial_rotary_factor', partial, '1');
  }

  const { ropeTheta, ropeScaling } = parseRope(c, file);

  const attentionBias = architecture === 'qwen2' ? true : optionalBoolean(c, 'attention_bias', file) ?? false;
  return {
    architecture,
    vocabSize,
    hiddenSize,
    intermediateSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: optionalPositive(c, 'rms_norm_eps', file) ?? DEFAULT_RMS_NORM_EPS,
    ropeTheta,
    ropeScaling,
    ropeLayout: 'half',
    maxPositionEmbeddings: optionalCount(c, 'max_position_embeddings', file) ?? defaults.maxPositionEmbeddings,
    tieWordEmbeddings: optionalBoolean(c, 'tie_word_embeddings', file) ?? DEFAULT_TIE_WORD_EMBEDDINGS,
    attentionBias,
    qkNorm: architecture === 'qwen3',
    bosTokenId: 'bos_token_id' in c ? tokenId(c.bos_token_id, 'bos_token_id', file) : defaults.bosTokenId,
    eosTokenIds: 'eos_token_id' in c ? tokenIds(c.eos_token_id, 'eos_token_id', file) : defaults.eosTokenIds,
  };
}

/**
 * RoPE from either form:
 *   transformers 4 / hub files: rope_theta at the top, rope_scaling {rope_type|type, factor, ...} or null;
 *   transformers 5: rope_parameters {rope_type, rope_theta, factor, ...}.
 * As in transformers' standardize_rope_params, values inside rope_parameters win over top-level ones.
 */
function parseRope(c: Record<string, unknown>, file: string): { ropeTheta: number; ropeScaling: Llama3RopeScaling | null } {
  let params: Record<string, unknown> = {};
  let field = 'rope_scaling';
  if (c.rope_parameters !== undefined && c.rope_parameters !== null) {
    if (!isObject(c.rope_parameters)) throw new BadModelFileError(file, 'rope_parameters', 'is not an object');
    params = c.rope_parameters;
    field = 'rope_parameters';
  } else if (c.rope_scaling !== undefined && c.rope_scaling !== null) {
    if (!isObject(c.rope_scaling)) throw new BadModelFileError(file, 'rope_scaling', 'is not an object');
    params = c.rope_scaling;
  }
  const thetaField = params.rope_theta !== undefined ? `${field}.rope_theta` : 'rope_theta';
  const theta = params.rope_theta ?? c.rope_theta ?? DEFAULT_ROPE_THETA;
  if (typeof theta !== 'number' || !(theta > 0)) throw new BadModelFileError(file, thetaField, `${JSON.stringify(theta)} is not a positive number`);

  const typeKey = params.rope_type !== undefined ? 'rope_type' : 'type';
  const ropeType = params[typeKey] ?? 'default';
  if (typeof ropeType !== 'string' || !SUPPORTED_ROPE_TYPES.includes(ropeType)) {
    throw new UnsupportedConfigError(file, `${field}.${typeKey}`, ropeType, SUPPORTED_ROPE_TYPES.join(', '));
  }
  if (ropeType === 'default') return { ropeTheta: theta, ropeScaling: null };

  const number = (key: string): number => {
    const v = params[key];
    if (typeof v !== 'number' || !(v > 0)) throw new BadModelFileError(file, `${field}.${key}`, `${v === undefined ? 'is missing' : `${JSON.stringify(v)} is not a positive number`} (needed by rope_type llama3)`);
    return v;
  };
  const scaling: Llama3RopeScaling = {
    type: 'llama3',
    factor: number('factor'),
    lowFreqFactor: number('low_freq_factor'),
    highFreqFactor: number('high_freq_factor'),
    originalMaxPositionEmbeddings: number('original_max_position_embeddings'),
  };
  if (scaling.highFreqFactor <= scaling.lowFreqFactor) {
    throw new BadModelFileError(file, `${field}.high_freq_factor`, `${scaling.highFreqFactor} must exceed low_freq_factor ${scaling.lowFreqFactor}`);
  }
  return { ropeTheta: theta, ropeScaling: scaling };
}

/**
 * eos ids as a list. Used for config.json and generation_config.json alike: either may hold a number, a list or null.
 */
export function tokenIds(v: unknown, field: string, file: string): number[] {
  if (v === null || v === undefined) return [];
  if (Array.isArray(v)) return v.map((x, i) => tokenIdValue(x, `${field}[${i}]`, file));
  return [tokenIdValue(v, field, file)];
}

export function tokenId(v: unknown, field: string, file: string): number | null {
  if (v === null || v === undefined) return null;
  return tokenIdValue(v, field, file);
}

function tokenIdValue(v: unknown, field: string, file: string): number {
  if (!isCount(v)) throw new BadModelFileError(file, field, `${JSON.stringify(v)} is not a token id`);
  return v;
}

function requiredCount(c: Record<string, unknown>, key: string, file: string): number {
  if (c[key] === undefined || c[key] === null) throw new BadModelFileError(file, key, 'is missing');
  const v = optionalCount(c, key, file);
  if (v === null || v === 0) throw new BadModelFileError(file, key, `${JSON.stringify(c[key])} is not a positive integer`);
  return v;
}

function optionalCount(c: Record<string, unknown>, key: string, file: string): number | null {
  const v = c[key];
  if (v === undefined || v === null) return null;
  if (!isCount(v) || v === 0) throw new BadModelFileError(file, key, `${JSON.stringify(v)} is not a positive integer`);
  return v;
}

function optionalPositive(c: Record<string, unknown>, key: string, file: string): number | null {
  const v = c[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !(v > 0)) throw new BadModelFileError(file, key, `${JSON.stringify(v)} is not a positive number`);
  return v;
}

function optionalBoolean(c: Record<string, unknown>, key: string, file: string): boolean | null {
  const v = c[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'boolean') throw new BadModelFileError(file, key, `${JSON.stringify(v)} is not true or false`);
  return v;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
