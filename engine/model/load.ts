// loadModel: a Hugging Face checkpoint (config.json + safetensors, sharded or not) or a GGUF file -> LoadedModel, checked at load.
import { BadModelFileError, BufferLimitError, InvalidArgumentError, MissingTensorError, ModelFetchError, NotAModelError } from '../errors/index.ts';
import { parseHfConfig, tokenId, tokenIds } from './config.ts';
import { streamSafetensors, type SafetensorsEntry } from './safetensors.ts';
import { abortableSource, isSingleFileSource, looksLikeHtml, urlFileSource, urlSource } from './sources.ts';
import {
  layerWeight, type FileSource, type LoadedModel, type ModelConfig, type ModelFiles, type ProgressCallback, type Tensor,
  type TokenizerFiles, type WeightSink, type WeightStore,
} from './types.ts';

export interface LoadOptions {
  /** Called per file as bytes arrive ('fetch') and around each file's parse ('parse'). */
  onProgress?: ProgressCallback;
  /**
   * Largest tensor, in bytes as f32, the device can bind (min of maxStorageBufferBindingSize and maxBufferSize).
   * Checked from config.json before any weight is fetched, so a model too large for the adapter fails at once.
   */
  maxTensorBytes?: number;
  /** Stops the load: URL downloads are cancelled, and any source's next read throws AbortedError. */
  signal?: AbortSignal;
}

/** Throws BufferLimitError for the first tensor the config implies that the device could not bind as f32. */
export function checkTensorLimits(config: ModelConfig, file: string, maxTensorBytes: number | undefined): void {
  if (maxTensorBytes === undefined) return;
  const { required, optional } = expectedTensorShapes(config);
  for (const [name, shape] of [...required, ...optional]) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 4;
    if (bytes > maxTensorBytes) throw new BufferLimitError(`${file}: tensor ${name}`, bytes, maxTensorBytes, 'maxStorageBufferBindingSize');
  }
}

const CONFIG_FILE = 'config.json';
const SINGLE_WEIGHTS_FILE = 'model.safetensors';
const SHARD_INDEX_FILE = 'model.safetensors.index.json';
const TOKENIZER_FILE = 'tokenizer.json';
const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';
const GENERATION_CONFIG_FILE = 'generation_config.json';
const GGUF_EXTENSION = '.gguf';
/** f32 bytes of one piece a GGUF tensor is converted and handed to the sink in (as safetensors pieces). */
const GGUF_PIECE_BYTES = 8 * 1024 * 1024;

/**
 * Loads a model. Browser-safe: `source` is a FileSource (urlSource, urlFileSource, huggingFaceSource, or Node's
 * folderSource) or a URL string: a base URL of a Hugging Face checkpoint, or a URL of one .gguf file; in a page or
 * worker, relative URLs resolve against its location.
 * Local paths are Node-only: use `loadModelFromPath` from engine/model/node.ts, so that bundles for the page
 * never pull in node:fs.
 */
export function loadModel(source: FileSource | string, options: LoadOptions = {}): Promise<LoadedModel> {
  if (typeof source === 'string') {
    const url = absoluteUrl(source);
    if (url === null) {
      return Promise.reject(new InvalidArgumentError('source', `"${source}" is not an http(s) URL; for a local path use loadModelFromPath from engine/model/node.ts (Node only)`));
    }
    source = isGgufName(new URL(url).pathname) ? urlFileSource(url, options.signal) : urlSource(url, options.signal);
  }
  return loadFromSource(source, options);
}

/**
 * An http(s) URL as given, or a relative one (e.g. '/models/x/') resolved against the page or worker location,
 * which only a browser has; in Node a relative string is a path and belongs to loadModelFromPath.
 */
function absoluteUrl(source: string): string | null {
  if (/^https?:\/\//i.test(source)) return source;
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  if (typeof base !== 'string' || !/^https?:\/\//i.test(base)) return null;
  return new URL(source, base).href;
}

/** The shared path once a source exists, keeping every weight on the CPU as f32 (the CPU reference, tools, tests). */
export async function loadFromSource(source: FileSource, options: LoadOptions = {}): Promise<LoadedModel> {
  const tensors = new Map<string, Tensor>();
  const sink: WeightSink = {
    piece(name, shape, rowStart, rows, data) {
      let t = tensors.get(name);
      if (rowStart === 0 || !t) {
        t = { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) };
        tensors.set(name, t);
      }
      const perRow = rows === 0 ? 0 : data.length / rows;
      t.data.set(data, rowStart * perRow);
    },
    drop(name) {
      tensors.delete(name);
    },
  };
  const files = await streamFromSource(source, sink, options);
  const fileOf = files.fileOf;
  return { ...withoutFileOf(files), weights: new TensorMapWeightStore(tensors, fileOf) };
}

/** A streamed model's files, and the file each tensor came from (for messages). */
export type StreamedModelFiles = ModelFiles & { fileOf: (name: string) => string };

function withoutFileOf(files: StreamedModelFiles): ModelFiles {
  const { fileOf: _, ...rest } = files;
  return rest;
}

/**
 * Streams a model's weights into `sink` tensor by tensor as the files arrive (a single .gguf file, or a Hugging
 * Face folder layout), every name and shape checked before its data; returns the rest of the model.
 */
export async function streamFromSource(source: FileSource, sink: WeightSink, options: LoadOptions = {}): Promise<StreamedModelFiles> {
  if (options.signal) source = abortableSource(source, options.signal);
  if (isSingleFileSource(source)) {
    if (!isGgufName(source.file)) {
      throw new InvalidArgumentError('source', `"${source.file}" is a single file but not a .gguf; a safetensors checkpoint is loaded from its folder or base URL`);
    }
    return loadGguf(source, source.file, sink, options);
  }
  return loadHfCheckpoint(source, sink, options);
}

/** streamFromSource for a URL string (as loadModel takes it) or a FileSource. */
export function streamModel(source: FileSource | string, sink: WeightSink, options: LoadOptions = {}): Promise<StreamedModelFiles> {
  if (typeof source === 'string') {
    const url = absoluteUrl(source);
    if (url === null) {
      return Promise.reject(new InvalidArgumentError('source', `"${source}" is not an http(s) URL; for a local path use folderSource from engine/model/node.ts (Node only)`));
    }
    source = isGgufName(new URL(url).pathname) ? urlFileSource(url, options.signal) : urlSource(url, options.signal);
  }
  return streamFromSource(source, sink, options);
}

function isGgufName(name: string): boolean {
  return name.toLowerCase().endsWith(GGUF_EXTENSION);
}

async function loadGguf(source: FileSource, file: string, sink: WeightSink, options: LoadOptions): Promise<StreamedModelFiles> {
  // Loaded on demand: pages that only ever load safetensors checkpoints do not carry the GGUF parser.
  const { ggufDuplicateOutput, ggufLayout, ggufTokenizerConfig, ggufTypeName, GgufHeaderNeedsMore, parseGgufHeader, convertToF32 } = await import('./gguf.ts');
  // The file streams through once: the header is parsed from its first bytes, then each tensor (in file order) goes
  // to the sink a piece of rows at a time, converted from its stored bytes (f16, bf16 or ggml blocks) as they
  // arrive. At most a piece of stored bytes and its f32 are held at once, whatever the file's size.
  let declared = 0;
  const onProgress = options.onProgress;
  const stream = await openGgufStream(source, file, (loaded, total) => {
    if (loaded === 0 && total > 0) declared = total;
    onProgress?.({ phase: 'fetch', loadedBytes: loaded, totalBytes: total, file });
  });
  const reader = new StreamReader(stream[Symbol.asyncIterator]());
  await reader.fill(GGUF_HEADER_FIRST_READ);
  if (looksLikeHtml(reader.peek(Math.min(reader.buffered, 64)))) throw new NotAModelError(source.description, 'file');
  let fileSize = declared > 0 ? declared : Infinity;
  let header;
  for (let want = GGUF_HEADER_FIRST_READ; ;) {
    try {
      header = parseGgufHeader(reader.peek(reader.buffered), file, fileSize);
      break;
    } catch (e) {
      if (!(e instanceof GgufHeaderNeedsMore)) throw e;
      want = Math.max(e.needed, 2 * want);
      // The stream ended inside the header: parse again knowing the file's end, for the error naming the field.
      if (!(await reader.fill(want))) fileSize = reader.buffered;
    }
  }
  reportParse(options, file, declared, 0);
  // rope_freqs (a config value) must be in hand for the layout: writers put it first, right after the header.
  const layout = ggufLayout(header, file, fileSize, (t) => {
    if (t.start + t.byteLength > reader.buffered) throw new BadModelFileError(file, `tensor ${t.ggufName}`, 'must come right after the header (its first tensor) for a streamed load');
    return reader.peek(t.start + t.byteLength).slice(t.start);
  });
  const { config, vocabulary } = layout;
  checkWeights(config, { has: (n) => layout.tensors.has(n), get: (n) => ({ shape: (layout.tensors.get(n) as { shape: number[] }).shape }) }, () => file);
  // A duplicated classifier (llama2.c exports) is found by hashing both copies as they pass, then dropped.
  const duplicate = ggufDuplicateOutput(layout.tensors);
  const hashes = new Map<string, number>();
  for (const [name, t] of layout.tensors) {
    // A stream that ends inside a tensor says what the whole-file parse says of a file that short.
    const pastTheEnd = () => new BadModelFileError(
      file, `tensor ${t.ggufName} data offset`, `data [${t.start}, ${t.start + t.byteLength}) runs past the end of the file (${reader.position + reader.buffered} bytes)`,
    );
    if (!(await reader.skip(t.start - reader.position))) throw pastTheEnd();
    // Vectors (norms, biases) go whole; a matrix in pieces of whole rows of at most GGUF_PIECE_BYTES as f32.
    const vector = t.shape.length <= 1;
    const rows = vector ? 1 : t.shape[0];
    const rowBytes = t.byteLength / rows;
    const rowElements = vector ? t.shape[0] ?? 1 : t.shape.slice(1).reduce((a, b) => a * b, 1);
    const step = vector ? 1 : Math.max(1, Math.floor(GGUF_PIECE_BYTES / (rowElements * 4)));
    const hashed = duplicate && (name === 'model.embed_tokens.weight' || name === 'lm_head.weight');
    // A sink that stores this block type as it is (the GPU's: every ggml block type) gets the blocks, not f32.
    const dtype = ggufTypeName(t.type);
    const asBlocks = !vector && t.shape.length === 2 && sink.blocks !== undefined && (sink.takesBlocks?.(name, dtype, t.shape) ?? false);
    let hash = FNV_OFFSET;
    for (let r = 0; r < rows; r += step) {
      const n = Math.min(step, rows - r);
      const bytes = n * rowBytes;
      if (!(await reader.fill(bytes))) throw pastTheEnd();
      const stored = reader.take(bytes);
      if (hashed) hash = fnv1a(stored, hash);
      if (asBlocks) await (sink.blocks as NonNullable<WeightSink['blocks']>)(name, t.shape, r, n, dtype, stored);
      else await sink.piece(name, t.shape, r, vector ? t.shape[0] ?? 1 : n, convertToF32(stored, t.type, n * rowElements));
    }
    if (hashed) hashes.set(name, hash);
  }
  if (duplicate && hashes.get('model.embed_tokens.weight') === hashes.get('lm_head.weight')) {
    sink.drop?.('lm_head.weight');
    config.tieWordEmbeddings = true;
  }
  const total = declared || reader.position + reader.buffered;
  reportParse(options, file, total, total);
  return {
    source: source.description,
    format: 'gguf',
    config,
    // The chat template travels in the GGUF metadata (tokenizer.chat_template), as tokenizer_config.json would carry it.
    tokenizerFiles: { tokenizerJson: null, tokenizerConfig: ggufTokenizerConfig(vocabulary), generationConfig: null },
    ggufVocabulary: vocabulary,
    fileOf: () => file,
  };
}

/** Bytes read for a GGUF header before the first try (doubled until the header fits): small vocabularies fit. */
const GGUF_HEADER_FIRST_READ = 256 * 1024;
/** 32-bit FNV-1a (offset basis and prime from the FNV reference): a duplicate classifier's bytes, compared by hash. */
const FNV_OFFSET = 0x811c9dc5;
function fnv1a(bytes: Uint8Array, hash: number): number {
  let h = hash;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

async function openGgufStream(source: FileSource, file: string, onBytes: (loaded: number, total: number) => void): Promise<AsyncIterable<Uint8Array>> {
  const stream = source.stream ? await source.stream(file, onBytes) : await source.read(file, onBytes).then((b) => b && oneChunk(b));
  // A single-file source's description is already the file's own URL or path.
  if (!stream) throw new ModelFetchError(isSingleFileSource(source) ? source.description : `${source.description}/${file}`, 'not found');
  return stream;
}

/** A byte stream read front to back: fill to have bytes ahead, peek at them, take or skip them. */
class StreamReader {
  private chunks: Uint8Array[] = [];
  /** Bytes ahead of `position` held in `chunks` (the first chunk from `head` on). */
  buffered = 0;
  /** File offset of the next byte not yet taken. */
  position = 0;
  private head = 0;
  private done = false;

  constructor(private readonly source: AsyncIterator<Uint8Array>) {}

  /** Reads until `n` bytes are ahead; false when the stream ends first. */
  async fill(n: number): Promise<boolean> {
    while (this.buffered < n && !this.done) {
      const r = await this.source.next();
      if (r.done) this.done = true;
      else if (r.value.byteLength > 0) {
        this.chunks.push(r.value);
        this.buffered += r.value.byteLength;
      }
    }
    return this.buffered >= n;
  }

  /** The next `n` buffered bytes, not taken (a copy when they span chunks). */
  peek(n: number): Uint8Array {
    if (n > this.buffered) throw new Error(`internal: peek ${n} of ${this.buffered} buffered bytes`);
    const first = this.chunks[0];
    if (first && first.byteLength - this.head >= n) return first.subarray(this.head, this.head + n);
    const out = new Uint8Array(n);
    let at = 0;
    for (let i = 0; at < n; i++) {
      const c = i === 0 ? this.chunks[0].subarray(this.head) : this.chunks[i];
      const part = c.subarray(0, n - at);
      out.set(part, at);
      at += part.byteLength;
    }
    return out;
  }

  /** The next `n` bytes, taken (fill first). */
  take(n: number): Uint8Array {
    const bytes = this.peek(n);
    this.drop(n);
    return bytes;
  }

  /** Passes over the next `n` bytes (padding between tensors); false when the stream ends first. */
  async skip(n: number): Promise<boolean> {
    if (n < 0) throw new Error(`internal: skip ${n}`);
    if (!(await this.fill(n))) return false;
    this.drop(n);
    return true;
  }

  private drop(n: number): void {
    let left = n;
    this.buffered -= n;
    this.position += n;
    while (left > 0) {
      const avail = this.chunks[0].byteLength - this.head;
      if (avail > left) { this.head += left; return; }
      left -= avail;
      this.chunks.shift();
      this.head = 0;
    }
  }
}

async function loadHfCheckpoint(source: FileSource, sink: WeightSink, options: LoadOptions): Promise<StreamedModelFiles> {
  // The config comes first and is checked before any weight byte is fetched: a wrong model fails in milliseconds.
  const baseConfig = parseHfConfig(parseJson(await readConfig(source, options), CONFIG_FILE), CONFIG_FILE);
  const tokenizerFiles: TokenizerFiles = {
    tokenizerJson: await readOptionalJson(source, TOKENIZER_FILE, options),
    tokenizerConfig: asObjectOrNull(await readOptionalJson(source, TOKENIZER_CONFIG_FILE, options), TOKENIZER_CONFIG_FILE),
    generationConfig: asObjectOrNull(await readOptionalJson(source, GENERATION_CONFIG_FILE, options), GENERATION_CONFIG_FILE),
  };
  const config = withGenerationTokens(baseConfig, tokenizerFiles.generationConfig);
  checkTensorLimits(config, CONFIG_FILE, options.maxTensorBytes);
  const expected = expectedTensorShapes(config);
  const shapes = new Map<string, { shape: number[] }>();

  const single = await openStream(source, SINGLE_WEIGHTS_FILE, options, 'optional');
  let fileOf: (name: string) => string;
  if (single) {
    fileOf = () => SINGLE_WEIGHTS_FILE;
    // The header lists every tensor: all of them are checked before the first data byte goes to the sink.
    await streamWeightsFile(single, SINGLE_WEIGHTS_FILE, expected, sink, options, (entries) => {
      for (const e of entries) shapes.set(e.name, e);
      checkWeights(config, shapeStore(shapes, fileOf), fileOf);
    });
  } else {
    const indexBytes = await readOptional(source, SHARD_INDEX_FILE, options);
    if (!indexBytes) {
      throw new ModelFetchError(`${source.description}/${SINGLE_WEIGHTS_FILE}`, `not found, and neither is ${SHARD_INDEX_FILE}`);
    }
    const weightMap = parseShardIndex(parseJson(indexBytes, SHARD_INDEX_FILE));
    // Every required tensor must be listed before we download gigabytes of shards.
    for (const name of expected.required.keys()) {
      if (!weightMap.has(name)) throw new MissingTensorError(SHARD_INDEX_FILE, name);
    }
    fileOf = (name) => weightMap.get(name) ?? SHARD_INDEX_FILE;
    const shards = [...new Set(weightMap.values())];
    for (const shard of shards) {
      const stream = await openStream(source, shard, options, 'required');
      if (!stream) throw new ModelFetchError(`${source.description}/${shard}`, 'not found');
      await streamWeightsFile(stream, shard, expected, sink, options, (entries) => {
        const here = new Set(entries.map((e) => e.name));
        for (const e of entries) {
          if (shapes.has(e.name)) throw new BadModelFileError(shard, `tensor "${e.name}"`, `also appears in ${weightMap.get(e.name) ?? 'an earlier shard'}`);
          shapes.set(e.name, e);
        }
        for (const [name, where] of weightMap) {
          if (where === shard && !here.has(name)) throw new MissingTensorError(shard, name);
        }
      });
    }
  }
  checkWeights(config, shapeStore(shapes, fileOf), fileOf);
  return { source: source.description, format: 'safetensors', config, tokenizerFiles, ggufVocabulary: null, fileOf };
}

/** Names and shapes seen in headers, as the checks read a WeightStore. */
function shapeStore(shapes: Map<string, { shape: number[] }>, fileOf: (name: string) => string): TensorShapes {
  return {
    has: (name) => shapes.has(name),
    get: (name) => {
      const t = shapes.get(name);
      if (!t) throw new MissingTensorError(fileOf(name), name);
      return t;
    },
  };
}

/** generation_config.json's token ids win over config.json's: it is what transformers' generate() reads. */
function withGenerationTokens(config: ModelConfig, generation: Record<string, unknown> | null): ModelConfig {
  if (!generation) return config;
  const out = { ...config };
  if (generation.eos_token_id !== undefined && generation.eos_token_id !== null) {
    out.eosTokenIds = tokenIds(generation.eos_token_id, 'eos_token_id', GENERATION_CONFIG_FILE);
  }
  if (generation.bos_token_id !== undefined && generation.bos_token_id !== null) {
    out.bosTokenId = tokenId(generation.bos_token_id, 'bos_token_id', GENERATION_CONFIG_FILE);
  }
  return out;
}

export interface ExpectedTensors {
  /** Tensors the architecture needs, with their shapes. */
  required: Map<string, number[]>;
  /** Tensors that may be present and then must have this shape (lm_head when tied). */
  optional: Map<string, number[]>;
}

/** The weights a config implies, under the Hugging Face names of WeightStore. */
export function expectedTensorShapes(config: ModelConfig): ExpectedTensors {
  const { hiddenSize: h, intermediateSize: m, vocabSize: v, headDim: d, numHeads, numKvHeads } = config;
  const q = numHeads * d;
  const kv = numKvHeads * d;
  const required = new Map<string, number[]>([['model.embed_tokens.weight', [v, h]], ['model.norm.weight', [h]]]);
  const optional = new Map<string, number[]>();
  (config.tieWordEmbeddings ? optional : required).set('lm_head.weight', [v, h]);
  // o_proj's bias follows attention_bias in Llama and Qwen3; Qwen2 biases q/k/v only (see parseHfConfig).
  const outputBias = config.attentionBias && config.architecture !== 'qwen2';
  for (let i = 0; i < config.numLayers; i++) {
    const add = (suffix: string, shape: number[]) => required.set(layerWeight(i, suffix), shape);
    add('input_layernorm.weight', [h]);
    add('self_attn.q_proj.weight', [q, h]);
    add('self_attn.k_proj.weight', [kv, h]);
    add('self_attn.v_proj.weight', [kv, h]);
    add('self_attn.o_proj.weight', [h, q]);
    if (config.attentionBias) {
      add('self_attn.q_proj.bias', [q]);
      add('self_attn.k_proj.bias', [kv]);
      add('self_attn.v_proj.bias', [kv]);
    }
    if (outputBias) add('self_attn.o_proj.bias', [h]);
    if (config.qkNorm) {
      add('self_attn.q_norm.weight', [d]);
      add('self_attn.k_norm.weight', [d]);
    }
    add('post_attention_layernorm.weight', [h]);
    add('mlp.gate_proj.weight', [m, h]);
    add('mlp.up_proj.weight', [m, h]);
    add('mlp.down_proj.weight', [h, m]);
  }
  return { required, optional };
}

/** What the checks need of a weight store: names and shapes. */
export interface TensorShapes {
  has(name: string): boolean;
  get(name: string): { shape: number[] };
}

/** Every required tensor present, every known tensor of the right shape; throws naming the file and tensor. */
export function checkWeights(config: ModelConfig, weights: TensorShapes, fileOf: (name: string) => string): void {
  const { required, optional } = expectedTensorShapes(config);
  for (const [name, shape] of required) {
    if (!weights.has(name)) throw new MissingTensorError(fileOf(name), name);
    checkShape(weights.get(name), name, shape, fileOf(name));
  }
  for (const [name, shape] of optional) {
    if (weights.has(name)) checkShape(weights.get(name), name, shape, fileOf(name));
  }
}

function checkShape(tensor: { shape: number[] }, name: string, shape: number[], file: string): void {
  if (tensor.shape.length !== shape.length || tensor.shape.some((n, i) => n !== shape[i])) {
    throw new BadModelFileError(file, `tensor "${name}" shape`, `is [${tensor.shape.join(', ')}] but config.json implies [${shape.join(', ')}]`);
  }
}

/**
 * Streams one safetensors file into the sink, failing on a known tensor of the wrong shape (and whatever `onHeader`
 * refuses) before any of the file's data reaches the sink.
 */
async function streamWeightsFile(
  chunks: AsyncIterable<Uint8Array>, file: string, expected: ExpectedTensors, sink: WeightSink, options: LoadOptions,
  onHeader: (entries: SafetensorsEntry[]) => void,
): Promise<void> {
  // Parsing runs as the bytes arrive: its progress is a fraction of the file (0 of 1, then 1 of 1).
  reportParse(options, file, 1, 0);
  await streamSafetensors(chunks, file, {
    header(entries) {
      for (const e of entries) {
        const shape = expected.required.get(e.name) ?? expected.optional.get(e.name);
        if (shape) checkShape(e, e.name, shape, file);
      }
      onHeader(entries);
    },
    piece: (entry, rowStart, rows, data) => sink.piece(entry.name, entry.shape, rowStart, rows, data),
    // A sink that keeps this dtype as stored (f16 matrices under 'f16') gets the bytes, not f32.
    takesStored: (entry) => sink.blocks !== undefined && (sink.takesBlocks?.(entry.name, entry.dtype, entry.shape) ?? false),
    stored: (entry, rowStart, rows, bytes) => (sink.blocks as NonNullable<WeightSink['blocks']>)(entry.name, entry.shape, rowStart, rows, entry.dtype, bytes),
  });
  reportParse(options, file, 1, 1);
}

/**
 * A file as a stream (the source's own, or its whole bytes as one chunk), or null when absent. An optional file
 * answered with an HTML page is absent (a server that answers every unknown path with its index.html).
 */
async function openStream(source: FileSource, file: string, options: LoadOptions, need: 'optional' | 'required'): Promise<AsyncIterable<Uint8Array> | null> {
  const onProgress = options.onProgress;
  const onBytes = onProgress && ((loadedBytes: number, totalBytes: number) => onProgress({ phase: 'fetch', loadedBytes, totalBytes, file }));
  try {
    if (source.stream) return await source.stream(file, onBytes);
    const bytes = await source.read(file, onBytes);
    return bytes && oneChunk(bytes);
  } catch (e) {
    if (need === 'optional' && e instanceof NotAModelError) return null;
    throw e;
  }
}

async function* oneChunk(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

function parseShardIndex(json: unknown): Map<string, string> {
  if (!isObject(json) || !isObject(json.weight_map)) throw new BadModelFileError(SHARD_INDEX_FILE, 'weight_map', 'is missing or not an object');
  const map = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(json.weight_map)) {
    // Shard names come from the file: only plain names in the same folder, never a path that walks out of it.
    if (typeof shard !== 'string' || !/^[^/\\]+\.safetensors$/.test(shard) || shard.startsWith('.')) {
      throw new BadModelFileError(SHARD_INDEX_FILE, `weight_map["${tensor}"]`, `${JSON.stringify(shard)} is not a .safetensors file name in the model folder`);
    }
    map.set(tensor, shard);
  }
  return map;
}

/** A WeightStore over parsed tensors; a missing name throws naming the file it should have come from. */
export class TensorMapWeightStore implements WeightStore {
  constructor(private readonly tensors: Map<string, Tensor>, private readonly fileOf: (name: string) => string) {}
  has(name: string): boolean {
    return this.tensors.has(name);
  }
  get(name: string): Tensor {
    const t = this.tensors.get(name);
    if (!t) throw new MissingTensorError(this.fileOf(name), name);
    return t;
  }
  names(): string[] {
    return [...this.tensors.keys()];
  }
}

function readFile(source: FileSource, file: string, options: LoadOptions): Promise<Uint8Array | null> {
  const onProgress = options.onProgress;
  return source.read(file, onProgress && ((loadedBytes, totalBytes) => onProgress({ phase: 'fetch', loadedBytes, totalBytes, file })));
}

/** A file the model may lack: null when absent, or answered with an HTML page (see openStream). */
async function readOptional(source: FileSource, file: string, options: LoadOptions): Promise<Uint8Array | null> {
  try {
    const bytes = await readFile(source, file, options);
    return bytes && looksLikeHtml(bytes) ? null : bytes;
  } catch (e) {
    if (e instanceof NotAModelError) return null;
    throw e;
  }
}

/**
 * config.json, the file that makes a folder a model: a web page in its place (a mistyped address on a server that
 * answers every path) is NotAModelError naming the folder, not the JSON error its bytes would give.
 */
async function readConfig(source: FileSource, options: LoadOptions): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await readRequired(source, CONFIG_FILE, options);
  } catch (e) {
    if (e instanceof NotAModelError) throw new NotAModelError(source.description, 'folder', CONFIG_FILE);
    throw e;
  }
  if (looksLikeHtml(bytes)) throw new NotAModelError(source.description, 'folder', CONFIG_FILE);
  return bytes;
}

async function readRequired(source: FileSource, file: string, options: LoadOptions): Promise<Uint8Array> {
  const bytes = await readFile(source, file, options);
  // A single-file source's description is already the file's own URL or path.
  if (!bytes) throw new ModelFetchError(isSingleFileSource(source) ? source.description : `${source.description}/${file}`, 'not found');
  return bytes;
}

async function readOptionalJson(source: FileSource, file: string, options: LoadOptions): Promise<unknown | null> {
  const bytes = await readOptional(source, file, options);
  return bytes ? parseJson(bytes, file) : null;
}

function parseJson(bytes: Uint8Array, file: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new BadModelFileError(file, '(root)', `is not valid JSON (${(e as Error).message})`);
  }
}

function asObjectOrNull(json: unknown, file: string): Record<string, unknown> | null {
  if (json === null) return null;
  if (!isObject(json)) throw new BadModelFileError(file, '(root)', 'is not a JSON object');
  return json;
}

function reportParse(options: LoadOptions, file: string, totalBytes: number, loadedBytes: number): void {
  options.onProgress?.({ phase: 'parse', loadedBytes, totalBytes, file });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
