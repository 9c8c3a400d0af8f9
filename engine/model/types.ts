// The engine's view of a model: a normalized config and named f32 weights, whatever the file format.

export type Architecture = 'llama' | 'qwen2' | 'qwen3';
export const SUPPORTED_ARCHITECTURES: Architecture[] = ['llama', 'qwen2', 'qwen3'];

/**
 * How RoPE pairs dimensions. Hugging Face checkpoints rotate dim j with j + d/2 ("half");
 * GGUF files converted from llama2.c rotate adjacent pairs (2i, 2i+1) ("interleaved").
 */
export type RopeLayout = 'half' | 'interleaved';

export interface Llama3RopeScaling {
  type: 'llama3';
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

/**
 * Per-frequency RoPE divisors as a GGUF carries them (tensor rope_freqs.weight, written by llama.cpp's converter for
 * Llama-3.1-style scaling): frequency i rotates at theta^(-2i/d) / factors[i], as llama.cpp's rope does.
 */
export interface FrequencyFactorsRopeScaling {
  type: 'frequency_factors';
  factors: readonly number[];
}

export type RopeScaling = Llama3RopeScaling | FrequencyFactorsRopeScaling;

export interface ModelConfig {
  architecture: Architecture;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  /** Per-head dimension; may differ from hiddenSize / numHeads (qwen3, explicit head_dim). */
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  ropeLayout: RopeLayout;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /**
   * Q/K/V projections carry a bias (qwen2 always; llama and qwen3 when config.json's attention_bias is true).
   * Whether o_proj also has one is told by the weights (`weights.has(layerWeight(i, 'self_attn.o_proj.bias'))`):
   * llama/qwen3 with attention_bias have it, qwen2 never does. The loader checks both at load (load.ts).
   */
  attentionBias: boolean;
  /** Per-head RMSNorm on q and k before RoPE (qwen3). */
  qkNorm: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
}

/** One weight tensor, always held as f32 after loading (f16, bf16 and q8_0 are converted). */
export interface Tensor {
  shape: number[];
  data: Float32Array;
}

/**
 * Weights under Hugging Face names:
 *   model.embed_tokens.weight [vocab, hidden]
 *   model.layers.{i}.input_layernorm.weight [hidden]
 *   model.layers.{i}.self_attn.{q,k,v,o}_proj.weight [out, in]   (row-major, as HF stores them)
 *   model.layers.{i}.self_attn.{q,k,v}_proj.bias (config.attentionBias)
 *   model.layers.{i}.self_attn.o_proj.bias [hidden] (llama/qwen3 with attention_bias; test with has())
 *   model.layers.{i}.self_attn.{q,k}_norm.weight [headDim] (qwen3)
 *   model.layers.{i}.post_attention_layernorm.weight [hidden]
 *   model.layers.{i}.mlp.{gate,up,down}_proj.weight [out, in]
 *   model.norm.weight [hidden]
 *   lm_head.weight [vocab, hidden] (absent when tied: use model.embed_tokens.weight)
 */
export interface WeightStore {
  has(name: string): boolean;
  /** Throws MissingTensorError naming the source file when absent. */
  get(name: string): Tensor;
  names(): string[];
}

/**
 * A vocabulary carried inside a GGUF file (tokenizer.ggml.*), with the defaults llama.cpp applies where a key is
 * absent (llama-vocab.cpp llama_vocab::impl::load) already filled in.
 */
export interface GgufVocabulary {
  /** tokenizer.ggml.model: "llama" (SentencePiece-style, scores) or "gpt2" (byte-level BPE, merges). */
  model: string;
  /** tokenizer.ggml.pre: the BPE pre-tokenizer ("llama-bpe", "qwen2", ...); null when absent. */
  pre: string | null;
  tokens: string[];
  scores: number[] | null;
  /** llama.cpp token types: 1 normal, 2 unknown, 3 control, 4 user defined, 5 unused, 6 byte. */
  tokenTypes: number[] | null;
  /** tokenizer.ggml.merges ("left right", rank = index); null when absent. */
  merges: string[] | null;
  bosTokenId: number | null;
  eosTokenId: number | null;
  /** Other ids the file names (tokenizer.ggml.<role>_token_id: eot, eom, fim_pre, ..., by role). */
  specialTokenIds: Record<string, number>;
  addBosToken: boolean;
  addEosToken: boolean;
  /** SentencePiece's dummy prefix: a space before the text (and after each special token). */
  addSpacePrefix: boolean;
  /** tokenizer.chat_template (Jinja), or null. */
  chatTemplate: string | null;
}

/** Tokenizer files found beside a Hugging Face checkpoint, as raw JSON (null when absent). */
export interface TokenizerFiles {
  tokenizerJson: unknown | null;
  tokenizerConfig: Record<string, unknown> | null;
  generationConfig: Record<string, unknown> | null;
}

export interface LoadedModel {
  /** Where it came from (folder, URL or file), for messages. */
  source: string;
  format: 'safetensors' | 'gguf';
  config: ModelConfig;
  weights: WeightStore;
  tokenizerFiles: TokenizerFiles;
  ggufVocabulary: GgufVocabulary | null;
}

/** A model's files without its weights: what a streaming load returns once every tensor went to its sink. */
export type ModelFiles = Omit<LoadedModel, 'weights'>;

/**
 * Receives a model's weights as they stream in, tensor after tensor, each as consecutive pieces of whole rows
 * (along shape[0]) converted to f32. `data` is reused once the returned promise settles: copy what must be kept.
 * A piece with rowStart 0 begins a tensor; one ending at shape[0] (1 for a 0-d tensor) completes it.
 */
export interface WeightSink {
  piece(name: string, shape: number[], rowStart: number, rows: number, data: Float32Array): Promise<void> | void;
  /** Forgets a tensor already given (a GGUF's classifier found, once streamed, to duplicate the embedding). */
  drop?(name: string): void;
  /**
   * Whether `blocks` takes this tensor's stored bytes as they are, with no f32 between: a GGUF's ggml blocks
   * ('Q8_0', ...), or an f16 matrix ('F16', from a GGUF or a safetensors file) the sink keeps as f16.
   */
  takesBlocks?(name: string, dtype: string, shape: number[]): boolean;
  /** Rows of a tensor as the file stores them (for a sink whose takesBlocks said yes). */
  blocks?(name: string, shape: number[], rowStart: number, rows: number, dtype: string, stored: Uint8Array): Promise<void> | void;
}

export interface LoadProgress {
  phase: 'fetch' | 'parse' | 'upload' | 'compile';
  loadedBytes: number;
  totalBytes: number;
  file?: string;
  /** Cached downloads (engine/hub): the rate now, in bytes per second. */
  bytesPerSecond?: number;
  /** Cached downloads: milliseconds left at that rate (null while unknown). */
  timeLeftMs?: number | null;
  /** Cached downloads: read from the browser's model store, with no request. */
  fromCache?: boolean;
  /** Cached downloads: bytes kept from an interrupted download that this one continued. */
  resumedFrom?: number;
}

export type ProgressCallback = (p: LoadProgress) => void;

/** Where model bytes come from: a folder on disk (Node) or a base URL (browser and Node). */
export interface FileSource {
  readonly description: string;
  /** Whole file, or null when it does not exist (404 / ENOENT). Throws ModelFetchError on other failures. */
  read(path: string, onBytes?: (loaded: number, total: number) => void): Promise<Uint8Array | null>;
  /**
   * The file as a stream of chunks (weights are parsed as they arrive, never held whole), or null when it does not
   * exist. Sources without it are read whole and handed over as one chunk.
   */
  stream?(path: string, onBytes?: (loaded: number, total: number) => void): Promise<AsyncIterable<Uint8Array> | null>;
}

/** The name of a layer weight. */
export function layerWeight(layer: number, suffix: string): string {
  return `model.layers.${layer}.${suffix}`;
}
