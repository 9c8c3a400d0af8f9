// What the driver asks of an engine's child process, and what every engine adapter implements.

/** A model folder as export/export.py lays it out, served over the driver's local HTTP server. */
export interface ModelRef {
  /** Base URL of the folder (config.json, model.safetensors, tokenizer.json, onnx/...). */
  url: string;
  /** The cell's weight format: what Transformers.js loads (fp32, fp16, q4); each engine picks its nearest. */
  format: 'fp32' | 'fp16' | 'q4';
  /** export.json of the folder: the config, each export's file and external-data chunks. */
  exportInfo: ExportInfo;
}

export interface ExportInfo {
  model: string;
  config: Record<string, unknown> & { vocab_size: number; num_hidden_layers: number; num_key_value_heads: number; head_dim: number; hidden_size: number; max_position_embeddings: number };
  exports: Record<string, { file: string; bytes: number; externalDataChunks: number; ops: Record<string, number> }>;
  golden?: { prompt: number[]; ids: number[]; by: Record<string, string> };
}

/** One engine, driven through its public API. Greedy; EOS never ends a generation. */
export interface EngineUnderTest {
  /** The engine's name and its configuration for this format (e.g. "int4 (MatMulNBits layout, block 32)"). */
  describe(format: ModelRef['format']): string;
  /** Package versions this engine runs on. */
  versions(): Promise<Record<string, string>>;
  /**
   * Loads the model; `onStage` is told each stage the engine says it reached (its own progress words: Sieve's load
   * phases, WebLLM's progress texts, Transformers.js's file statuses), so a load that dies in the engine's runtime
   * (WebLLM's wasm calls exit) still says where.
   */
  load(model: ModelRef, onStage: (stage: string) => void): Promise<void>;
  /**
   * Continues `ids` greedily for exactly `maxTokens` tokens, calling onToken as each one is known on the CPU (the
   * moment a user could show it). Resolves with the generated ids and, where the engine says, how many prompt ids
   * it served from an earlier turn's cache instead of prefilling them.
   */
  generate(ids: number[], maxTokens: number, onToken: () => void): Promise<{ ids: number[]; cachedTokens: number | null }>;
  unload(): Promise<void>;
  /** Bytes the engine reads per decoded token from its weights (the roofline's numerator, with the KV bytes). */
  weightBytesPerToken(model: ModelRef): number;
  /** Bytes of one token's K and V over all layers, as this engine stores them. */
  kvBytesPerToken(model: ModelRef): number;
}

export type Request =
  | { id: number; cmd: 'load'; model: ModelRef }
  | { id: number; cmd: 'generate'; ids: number[]; maxTokens: number }
  | { id: number; cmd: 'unload' }
  | { id: number; cmd: 'stats' }
  | { id: number; cmd: 'probe'; bandwidthBytes: number }
  | { id: number; cmd: 'exit' };

/** A request without its id (the driver numbers them). */
export type RequestBody = Request extends infer R ? (R extends Request ? Omit<R, 'id'> : never) : never;

export interface LoadResult {
  ms: number;
  firstTokenMs: number;
  peakJsBytes: number;
  peakGpuBytes: number;
  /** Each stage the engine reported, with the ms from the load's start when it was first reported, in order. */
  stages: { stage: string; atMs: number }[];
  /** Shader modules and pipelines made from the load's start to its first token, and the ms their calls took (dawn.ts compileMeter). */
  compile: { modules: number; pipelines: number; asyncPipelines: number; ms: number; asyncWallMs: number };
}
export interface GenerateResult {
  ids: number[];
  /** From the call to the first token. */
  firstTokenMs: number;
  /** From the first token to the last. */
  decodeMs: number;
  totalMs: number;
  cachedTokens: number | null;
}
export interface Stats { peakGpuBytes: number; liveGpuBytes: number; peakJsBytes: number; versions: Record<string, string>; describe: string; weightBytesPerToken: number; kvBytesPerToken: number }

export type Response = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: { name: string; message: string; code?: string; stack?: string } };
/** Sent by a child during a load, as each stage is reached (id -1: not an answer). */
export interface StageMessage { id: -1; stage: string }
