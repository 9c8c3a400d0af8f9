// GGUF (v2/v3) parser: metadata, tensor infos and f32/f16/bf16/Q4_0/Q8_0/Q4_K/Q5_K/Q6_K data -> ModelConfig, f32 weights under HF names, vocabulary.
//
// The header is parsed from the file's first bytes (parseGgufHeader: the streaming loader reads more until it
// fits), so a GGUF streams through once and is never whole in memory (engine/model/load.ts).
// Why our own parser and not @huggingface/gguf (0.4.6, the newest; its source read for this, not adopted):
// - its one entry, gguf(uri), reads the header itself through its own Range requests of 2 MB (fetch, or a Node path
//   with allowLocalFile, which it refuses in a Worker); there is no way to hand it bytes or a stream. Our sources
//   are a fetch stream read once front to back (the header and then the tensors from the same response), OPFS
//   files and Node files: using it means a second request for the header, or a fake fetch answering its ranges
//   out of our stream buffer;
// - it accumulates the header in a resizable ArrayBuffer capped at 50 MB (it does stream that far, and works in a
//   Worker and in Node);
// - bad files: it throws plain Errors and RangeErrors, keeps the last of duplicate metadata keys silently, and does
//   not check duplicate tensor names, offsets' alignment or overlap, or data past the end of the file; our
//   BadModelFileError names the file and field of each (e2e/bad-input's cases), so all of this stays ours anyway;
// - it reads no tensor data (types and shapes only), and brings @huggingface/tasks along.
import { BadModelFileError, MissingTensorError, UnsupportedArchitectureError, UnsupportedDtypeError } from '../errors/index.ts';
import { f16Table, ggmlBlockType, GGML_BLOCK_TYPES } from '../quant/index.ts';
import { UnsupportedConfigError } from './config.ts';
import {
  SUPPORTED_ARCHITECTURES, type Architecture, type GgufVocabulary, type ModelConfig, type RopeLayout, type Tensor,
  type WeightStore,
} from './types.ts';

/** "GGUF" read as a little-endian u32 (ggml/include/gguf.h GGUF_MAGIC). */
const GGUF_MAGIC = 0x46554747;
/** v1 used u32 counts and is long obsolete; v2 and v3 share the layout we read (v3 only adds big-endian files). */
const SUPPORTED_VERSIONS = [2, 3];
/** gguf.h GGUF_DEFAULT_ALIGNMENT, overridden by general.alignment. */
const DEFAULT_ALIGNMENT = 32;
/** ggml.h GGML_MAX_DIMS. */
const MAX_DIMS = 4;
/** Deepest array-of-array nesting we read; gguf.h allows nesting but no writer we know uses more than one level. */
const MAX_ARRAY_NESTING = 4;
/**
 * Largest GGUF header read (when a stream does not say its length, counts are checked against it): real headers are
 * a few MB (Llama-3's 128K-token vocabulary and 280K merges take ~9 MB).
 */
const MAX_HEADER_BYTES = 256 * 1024 * 1024;
/** Default RoPE base when <arch>.rope.freq_base is absent (llama.cpp's default and llama2.c's). */
const DEFAULT_ROPE_THETA = 10000;
/** llama.cpp's default when attention.layer_norm_rms_epsilon is absent (llama-hparams f_norm_rms_eps is read as required; 1e-5 is llama2's). */
const DEFAULT_RMS_NORM_EPS = 1e-5;

/** gguf_type of metadata values (gguf.h). */
const enum ValueType {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
}
/** Bytes each fixed-size value type takes; strings take at least their 8-byte length, arrays at least 12 bytes. */
const VALUE_SIZE: Record<number, number> = {
  [ValueType.U8]: 1, [ValueType.I8]: 1, [ValueType.U16]: 2, [ValueType.I16]: 2, [ValueType.U32]: 4, [ValueType.I32]: 4,
  [ValueType.F32]: 4, [ValueType.BOOL]: 1, [ValueType.STRING]: 8, [ValueType.ARRAY]: 12, [ValueType.U64]: 8,
  [ValueType.I64]: 8, [ValueType.F64]: 8,
};

/** ggml_type ids (ggml.h) of the unquantized types; the block types are engine/quant/ggml-blocks.ts's. */
const GGML_F32 = 0;
const GGML_F16 = 1;
const GGML_BF16 = 30;
/** Names of all ggml types (ggml.c type_traits), for error messages about the ones we do not convert. */
const GGML_TYPE_NAMES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K',
  12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL',
  21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M', 30: 'BF16',
  34: 'TQ1_0', 35: 'TQ2_0', 39: 'MXFP4',
};
export const SUPPORTED_GGUF_DTYPES = ['F32', 'F16', 'BF16', ...GGML_BLOCK_TYPES.map((t) => t.name)];

/** Per-layer GGUF tensor names (llama.cpp gguf-py constants.py TENSOR_NAMES) -> Hugging Face suffixes. */
const LAYER_TENSOR_NAMES: Record<string, string> = {
  attn_norm: 'input_layernorm',
  attn_q: 'self_attn.q_proj',
  attn_k: 'self_attn.k_proj',
  attn_v: 'self_attn.v_proj',
  attn_output: 'self_attn.o_proj',
  attn_q_norm: 'self_attn.q_norm',
  attn_k_norm: 'self_attn.k_norm',
  ffn_norm: 'post_attention_layernorm',
  ffn_gate: 'mlp.gate_proj',
  ffn_up: 'mlp.up_proj',
  ffn_down: 'mlp.down_proj',
};
const GLOBAL_TENSOR_NAMES: Record<string, string> = {
  'token_embd.weight': 'model.embed_tokens.weight',
  'output_norm.weight': 'model.norm.weight',
  'output.weight': 'lm_head.weight',
};

/**
 * Which RoPE pairing the stored Q/K rows expect. llama.cpp's converter permutes Llama Q/K rows so that adjacent
 * dims rotate together (and llama2.c exports are already so); Qwen2/Qwen3 are stored unpermuted and llama.cpp runs
 * them with NEOX (half-split) rotation (llama-model.cpp llama_model_rope_type).
 */
const ROPE_LAYOUT: Record<Architecture, RopeLayout> = { llama: 'interleaved', qwen2: 'half', qwen3: 'half' };

export interface GgufFile {
  config: ModelConfig;
  weights: GgufWeightStore;
  vocabulary: GgufVocabulary;
  metadata: Map<string, unknown>;
}

/** Parses a whole GGUF file held in memory (tests, tools). Every malformed field throws BadModelFileError naming `file` and the field. */
export function parseGguf(bytes: Uint8Array, file: string): GgufFile {
  const header = parseGgufHeader(bytes, file, bytes.byteLength);
  const layout = ggufLayout(header, file, bytes.byteLength, (t) => bytes.subarray(t.start, t.start + t.byteLength));
  const tensors = new Map<string, StoredTensor>();
  for (const [name, t] of layout.tensors) tensors.set(name, { ...t, src: bytes.subarray(t.start, t.start + t.byteLength) });
  // llama2.c exports write a shared classifier twice (see ggufDuplicateOutput): equal stored bytes are equal values.
  const embed = tensors.get('model.embed_tokens.weight');
  const output = tensors.get('lm_head.weight');
  if (embed && output && ggufDuplicateOutput(layout.tensors) && equalBytes(embed.src, output.src)) {
    tensors.delete('lm_head.weight');
    layout.config.tieWordEmbeddings = true;
  }
  return { config: layout.config, weights: new GgufWeightStore(tensors, file), vocabulary: layout.vocabulary, metadata: header.metadata };
}

/** A GGUF header: metadata, tensor infos, and where the tensor data starts. */
export interface GgufHeader {
  metadata: Map<string, unknown>;
  infos: TensorInfo[];
  dataStart: number;
}

/**
 * Thrown by parseGgufHeader when `prefix` ends before the header does but the file goes on: read at least `needed`
 * bytes of the file and parse again (the streaming loader's way of finding the header's end).
 */
export class GgufHeaderNeedsMore extends Error {
  constructor(readonly needed: number) {
    super(`internal: the GGUF header needs ${needed} bytes`);
  }
}

/**
 * The header from the file's first bytes (`prefix`; the whole file or more than the header). `fileSize`: the
 * file's length (Infinity when a stream does not say): reads past it are BadModelFileError (truncated), reads past
 * the prefix but not the file GgufHeaderNeedsMore.
 */
export function parseGgufHeader(prefix: Uint8Array, file: string, fileSize: number): GgufHeader {
  const reader = new GgufReader(prefix, file, fileSize);
  const magic = reader.u32('magic');
  if (magic !== GGUF_MAGIC) {
    throw new BadModelFileError(file, 'magic', `is 0x${magic.toString(16).padStart(8, '0')}, not "GGUF"; this is not a GGUF file`);
  }
  const version = reader.u32('version');
  if (!SUPPORTED_VERSIONS.includes(version)) {
    throw new BadModelFileError(file, 'version', `is ${version}; supported: ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  // Minimum encoded sizes bound the counts before anything is allocated: a tensor info is at least
  // name length (8) + n_dims (4) + one dim (8) + type (4) + offset (8); a key/value at least key length (8) + type (4) + 1 byte.
  const tensorCount = reader.count('tensor_count', 32);
  const kvCount = reader.count('metadata_kv_count', 13);

  const metadata = new Map<string, unknown>();
  for (let i = 0; i < kvCount; i++) {
    const key = reader.string(`metadata key #${i}`);
    const type = reader.u32(`metadata ${key} type`);
    if (metadata.has(key)) throw new BadModelFileError(file, `metadata ${key}`, 'appears twice');
    metadata.set(key, reader.value(type, `metadata ${key}`));
  }

  const alignment = metadata.has('general.alignment') ? metadata.get('general.alignment') : DEFAULT_ALIGNMENT;
  if (typeof alignment !== 'number' || !Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
    throw new BadModelFileError(file, 'metadata general.alignment', `is ${String(alignment)}, not a power of two`);
  }

  const infos: TensorInfo[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const name = reader.string(`tensor #${i} name`);
    if (seen.has(name)) throw new BadModelFileError(file, `tensor ${name}`, 'appears twice');
    seen.add(name);
    const nDims = reader.u32(`tensor ${name} n_dims`);
    if (nDims < 1 || nDims > MAX_DIMS) throw new BadModelFileError(file, `tensor ${name} n_dims`, `is ${nDims}; must be 1..${MAX_DIMS}`);
    const ne: number[] = [];
    let elements = 1;
    for (let d = 0; d < nDims; d++) {
      const n = reader.u64(`tensor ${name} dim ${d}`);
      if (n < 1) throw new BadModelFileError(file, `tensor ${name} dim ${d}`, `is ${n}; must be positive`);
      elements *= n;
      // No tensor can hold more than two elements per byte of the file (Q4_0 and Q4_K, the densest types we read,
      // take 4.5 bits each).
      if (elements > 2 * fileSize) throw new BadModelFileError(file, `tensor ${name} shape`, 'has more elements than the file could hold');
      ne.push(n);
    }
    const type = reader.u32(`tensor ${name} type`);
    const offset = reader.u64(`tensor ${name} data offset`);
    if (offset % alignment !== 0) {
      throw new BadModelFileError(file, `tensor ${name} data offset`, `${offset} is not a multiple of the alignment ${alignment}`);
    }
    infos.push({ name, ne, elements, type, offset });
  }
  const dataStart = alignUp(reader.position, alignment);
  if (tensorCount > 0 && dataStart > fileSize) {
    throw new BadModelFileError(file, 'tensor data', `starts at byte ${dataStart}, past the end of the file (${fileSize} bytes)`);
  }
  return { metadata, infos, dataStart };
}

/** What a header says of the model: its config, vocabulary, and every tensor's place in the file under its HF name. */
export interface GgufLayout {
  config: ModelConfig;
  vocabulary: GgufVocabulary;
  /** In file order (by data offset), rope_freqs excluded (a config value: config.ropeScaling). */
  tensors: Map<string, LocatedTensor>;
}

/**
 * The model a header describes. `bytesOf` gives a small tensor's stored bytes (rope_freqs, read into the config):
 * the whole-file parser hands a view; the streaming loader reads it from the stream first (writers put it first).
 */
export function ggufLayout(header: GgufHeader, file: string, fileSize: number, bytesOf: (t: LocatedTensor) => Uint8Array): GgufLayout {
  const located = new Map<string, LocatedTensor>();
  const byOffset = [...header.infos].sort((a, b) => a.offset - b.offset);
  let end = 0;
  for (const info of byOffset) {
    const hfName = hfTensorName(info.name);
    if (located.has(hfName)) throw new BadModelFileError(file, `tensor ${info.name}`, `maps to ${hfName}, which another tensor already took`);
    const t = locateTensor(header.dataStart, info, file, fileSize);
    if (t.start < end) throw new BadModelFileError(file, `tensor ${info.name} data offset`, `${info.offset} overlaps the tensor before it`);
    end = t.start + t.byteLength;
    located.set(hfName, t);
  }
  const vocabulary = readVocabulary(header.metadata, file);
  const config = readConfig(header.metadata, located, vocabulary, file, bytesOf);
  return { config, vocabulary, tensors: located };
}

/**
 * A duplicated classifier is possible: output.weight with the embedding's shape and type (llama2.c exports write the
 * shared one twice). Then equal bytes mean a tied model, kept once.
 */
export function ggufDuplicateOutput(tensors: Map<string, LocatedTensor>): boolean {
  const embed = tensors.get('model.embed_tokens.weight');
  const output = tensors.get('lm_head.weight');
  return !!embed && !!output && embed.shape.join() === output.shape.join() && embed.type === output.type;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A tensor's place in the file: its stored bytes are converted to f32 only when asked for, rows at a time. */
export interface LocatedTensor {
  /** GGUF's own name (for messages). */
  ggufName: string;
  /** HF order: [out, in] for a matrix. */
  shape: number[];
  type: number;
  /** Byte offset of its data in the file, and its length. */
  start: number;
  byteLength: number;
  /** Elements of one row (ne[0]); every row is a whole number of blocks. */
  rowElements: number;
  rowBytes: number;
}

/** A located tensor with its bytes in memory (a view of the file). */
interface StoredTensor extends LocatedTensor {
  src: Uint8Array;
}

export interface TensorInfo {
  name: string;
  /** ggml ne: innermost dimension first. */
  ne: number[];
  elements: number;
  type: number;
  /** Relative to the start of the tensor data section. */
  offset: number;
}

/**
 * Weights of one GGUF file under Hugging Face names; tensors the mapping does not know keep their GGUF name. The
 * stored bytes stay as they are in the file until a tensor (get: the CPU reference) or a range of its rows (rows: the
 * streaming loader, a piece at a time) is asked for, so no f32 copy of the whole model is ever made.
 */
export class GgufWeightStore implements WeightStore {
  /** @internal built by parseGguf */
  constructor(private readonly tensors: Map<string, StoredTensor>, private readonly file: string) {}
  has(name: string): boolean {
    return this.tensors.has(name);
  }
  /** The whole tensor as f32 (converted on each call; the caller keeps it). */
  get(name: string): Tensor {
    const t = this.stored(name);
    const rows = t.shape.length === 0 ? 1 : t.shape[0];
    return { shape: t.shape, data: this.rows(name, 0, rows) };
  }
  /** The tensor's bytes as the file stores them (a view of the file). */
  storedBytes(name: string): Uint8Array {
    return this.stored(name).src;
  }
  /** The shape alone, with no conversion. */
  shape(name: string): number[] {
    return this.stored(name).shape;
  }
  /** The ggml type the file stores the tensor in ('Q4_K', 'F16', ...). */
  dtype(name: string): string {
    return ggufTypeName(this.stored(name).type);
  }
  /** Rows [rowStart, rowStart + count) of a tensor as f32 (a 1-D tensor is one row per element). */
  rows(name: string, rowStart: number, count: number): Float32Array {
    const t = this.stored(name);
    if (t.shape.length <= 1) {
      // Vectors (norms, biases, f32 in every file we know) are converted whole; a block may span their "rows".
      if (rowStart !== 0 || count !== (t.shape[0] ?? 1)) throw new Error(`internal: ${name} is a vector, read whole`);
      return convertToF32(t.src, t.type, t.shape[0] ?? 1);
    }
    const from = rowStart * t.rowBytes;
    return convertToF32(t.src.subarray(from, from + count * t.rowBytes), t.type, count * t.rowElements);
  }
  names(): string[] {
    return [...this.tensors.keys()];
  }
  private stored(name: string): StoredTensor {
    const t = this.tensors.get(name);
    if (!t) throw new MissingTensorError(this.file, name);
    return t;
  }
}

/** A ggml type id's name ('Q4_K', 'F16', ...). */
export function ggufTypeName(type: number): string {
  return GGML_TYPE_NAMES[type] ?? `ggml type ${type}`;
}

/** GGUF tensor name -> Hugging Face name (blk.N.attn_q.weight -> model.layers.N.self_attn.q_proj.weight). */
export function hfTensorName(ggufName: string): string {
  const global = GLOBAL_TENSOR_NAMES[ggufName];
  if (global) return global;
  const m = /^blk\.(\d+)\.([a-z0-9_]+)\.(weight|bias)$/.exec(ggufName);
  if (m) {
    const suffix = LAYER_TENSOR_NAMES[m[2]];
    if (suffix) return `model.layers.${m[1]}.${suffix}.${m[3]}`;
  }
  return ggufName;
}

function locateTensor(dataStart: number, info: TensorInfo, file: string, fileSize: number): LocatedTensor {
  const { name, elements, type } = info;
  let rowBytes: number;
  switch (type) {
    case GGML_F32: rowBytes = info.ne[0] * 4; break;
    case GGML_F16: case GGML_BF16: rowBytes = info.ne[0] * 2; break;
    default: {
      const block = ggmlBlockType(type);
      if (!block) throw new UnsupportedDtypeError(file, name, GGML_TYPE_NAMES[type] ?? `ggml type ${type}`, SUPPORTED_GGUF_DTYPES);
      if (info.ne[0] % block.blockElements !== 0) {
        throw new BadModelFileError(file, `tensor ${name} dim 0`, `is ${info.ne[0]}, not a multiple of the ${block.name} block size ${block.blockElements}`);
      }
      rowBytes = (info.ne[0] / block.blockElements) * block.blockBytes;
    }
  }
  const byteLength = rowBytes * (elements / info.ne[0]);
  const start = dataStart + info.offset;
  if (start + byteLength > fileSize) {
    throw new BadModelFileError(file, `tensor ${name} data offset`, `data [${start}, ${start + byteLength}) runs past the end of the file (${fileSize} bytes)`);
  }
  // ne = [in, out] is row-major [out][in], HF's [out, in]
  return { ggufName: name, shape: [...info.ne].reverse(), type, start, byteLength, rowElements: info.ne[0], rowBytes };
}

/** Stored bytes of a ggml type (f32, f16, bf16, a block type) as f32. */
export function convertToF32(src: Uint8Array, type: number, elements: number): Float32Array {
  const out = new Float32Array(elements);
  // Copy into fresh (aligned) buffers: the file's bytes may sit at any offset. GGUF is little endian, as are our hosts.
  if (type === GGML_F32) {
    new Uint8Array(out.buffer).set(src);
    return out;
  }
  if (type === GGML_F16 || type === GGML_BF16) {
    const halves = new Uint16Array(elements);
    new Uint8Array(halves.buffer).set(src);
    if (type === GGML_F16) {
      const table = f16Table();
      for (let i = 0; i < elements; i++) out[i] = table[halves[i]];
    } else {
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < elements; i++) bits[i] = halves[i] << 16;
    }
    return out;
  }
  // Block-quantized types, by ggml's rules (engine/quant/ggml-blocks.ts).
  const block = ggmlBlockType(type);
  if (!block) throw new Error(`unreachable: ggml type ${type} passed readTensor`);
  block.dequantize(src, 0, elements / block.blockElements, out, 0);
  return out;
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

/** Little-endian cursor over the file; each read names its field so a short file says what was cut. */
class GgufReader {
  private readonly view: DataView;
  private pos = 0;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(private readonly bytes: Uint8Array, private readonly file: string, private readonly fileSize: number) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get position(): number {
    return this.pos;
  }

  private need(n: number, field: string): void {
    if (this.pos + n > this.fileSize) {
      throw new BadModelFileError(this.file, field, `needs ${n} bytes at offset ${this.pos} but the file ends at ${this.fileSize} (truncated?)`);
    }
    if (this.pos + n > this.bytes.byteLength) throw new GgufHeaderNeedsMore(this.pos + n);
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** A u64 that must fit a JS number exactly (every size and offset in a real file does). */
  u64(field: string): number {
    this.need(8, field);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new BadModelFileError(this.file, field, `${v} is absurdly large`);
    return Number(v);
  }

  /** A u64 count of items each at least `minItemBytes` long: checked against the bytes left before use. */
  count(field: string, minItemBytes: number): number {
    const n = this.u64(field);
    // A stream that does not give its length is bounded by the largest header we read.
    const left = Math.min(this.fileSize, MAX_HEADER_BYTES) - this.pos;
    if (n * minItemBytes > left) {
      throw new BadModelFileError(this.file, field, `is ${n}, more than the ${left} bytes left could hold`);
    }
    return n;
  }

  string(field: string): string {
    const len = this.u64(`${field} length`);
    this.need(len, field);
    let s: string;
    try {
      s = this.decoder.decode(this.bytes.subarray(this.pos, this.pos + len));
    } catch {
      throw new BadModelFileError(this.file, field, 'is not valid UTF-8');
    }
    this.pos += len;
    return s;
  }

  /** One metadata value; `depth` counts enclosing arrays (scalars in arrays keep their raw f32 values: token scores). */
  value(type: number, field: string, depth = 0): unknown {
    switch (type) {
      case ValueType.U8: this.need(1, field); return this.view.getUint8(this.pos++);
      case ValueType.I8: this.need(1, field); return this.view.getInt8(this.pos++);
      case ValueType.U16: return this.fixed(2, field, (p) => this.view.getUint16(p, true));
      case ValueType.I16: return this.fixed(2, field, (p) => this.view.getInt16(p, true));
      case ValueType.U32: return this.fixed(4, field, (p) => this.view.getUint32(p, true));
      case ValueType.I32: return this.fixed(4, field, (p) => this.view.getInt32(p, true));
      case ValueType.F32: return this.fixed(4, field, (p) => {
        const v = this.view.getFloat32(p, true);
        return depth === 0 ? shortestF32Decimal(v) : v;
      });
      case ValueType.F64: return this.fixed(8, field, (p) => this.view.getFloat64(p, true));
      case ValueType.U64: return this.fixed(8, field, (p) => safeNumber(this.view.getBigUint64(p, true)));
      case ValueType.I64: return this.fixed(8, field, (p) => safeNumber(this.view.getBigInt64(p, true)));
      case ValueType.BOOL: {
        this.need(1, field);
        const b = this.view.getUint8(this.pos++);
        if (b > 1) throw new BadModelFileError(this.file, field, `bool byte is ${b}, not 0 or 1`);
        return b === 1;
      }
      case ValueType.STRING: return this.string(field);
      case ValueType.ARRAY: {
        // Real files nest at most one level (arrays of strings, of numbers); bound it so a crafted file cannot blow the stack.
        if (depth >= MAX_ARRAY_NESTING) throw new BadModelFileError(this.file, field, `arrays nest deeper than ${MAX_ARRAY_NESTING}`);
        const itemType = this.u32(`${field} array type`);
        const minBytes = VALUE_SIZE[itemType];
        if (minBytes === undefined) throw new BadModelFileError(this.file, `${field} array type`, `is ${itemType}, not a GGUF value type`);
        const n = this.count(`${field} array length`, minBytes);
        const items = new Array<unknown>(n);
        for (let i = 0; i < n; i++) items[i] = this.value(itemType, field, depth + 1);
        return items;
      }
      default:
        throw new BadModelFileError(this.file, `${field} type`, `is ${type}, not a GGUF value type`);
    }
  }

  private fixed<T>(n: number, field: string, read: (pos: number) => T): T {
    this.need(n, field);
    const v = read(this.pos);
    this.pos += n;
    return v;
  }
}

/**
 * The shortest decimal that rounds to the same f32: an f32 metadata 1e-5 reads back as 1e-5 (what config.json
 * and transformers use), not 9.99999974e-6.
 */
function shortestF32Decimal(v: number): number {
  if (!Number.isFinite(v)) return v;
  for (let digits = 1; digits < 9; digits++) {
    const d = Number(v.toPrecision(digits));
    if (Math.fround(d) === v) return d;
  }
  return v;
}

/** 64-bit metadata values become numbers when exact, else stay bigint (no config field is ever that large). */
function safeNumber(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** llama.cpp's tokenizer.ggml.pre names that add BOS unless the file says otherwise (llama-vocab.cpp). */
const BPE_PRE_ADDING_BOS = ['llama3', 'llama-v3', 'llama-bpe', 'falcon3', 'falcon-h1', 'pixtral', 'midm-2.0', 'lfm2', 'jina-v5-nano', 'tekken', 'chameleon'];

function readVocabulary(metadata: Map<string, unknown>, file: string): GgufVocabulary {
  const model = optionalString(metadata, 'tokenizer.ggml.model', file) ?? 'llama';
  const pre = optionalString(metadata, 'tokenizer.ggml.pre', file);
  const tokens = optionalArray(metadata, 'tokenizer.ggml.tokens', file, (v): v is string => typeof v === 'string', 'strings') ?? [];
  const scores = optionalArray(metadata, 'tokenizer.ggml.scores', file, isFiniteNumber, 'numbers');
  const tokenTypes = optionalArray(metadata, 'tokenizer.ggml.token_type', file, isInteger, 'integers');
  const merges = optionalArray(metadata, 'tokenizer.ggml.merges', file, (v): v is string => typeof v === 'string', 'strings');
  for (const [key, arr] of [['tokenizer.ggml.scores', scores], ['tokenizer.ggml.token_type', tokenTypes]] as const) {
    if (arr && arr.length !== tokens.length) {
      throw new BadModelFileError(file, `metadata ${key}`, `has ${arr.length} entries but tokenizer.ggml.tokens has ${tokens.length}`);
    }
  }
  const bosTokenId = optionalTokenId(metadata, 'tokenizer.ggml.bos_token_id', tokens.length, file);
  const eosTokenId = optionalTokenId(metadata, 'tokenizer.ggml.eos_token_id', tokens.length, file);
  const specialTokenIds: Record<string, number> = {};
  for (const key of metadata.keys()) {
    const role = /^tokenizer\.ggml\.([a-z_]+)_token_id$/.exec(key)?.[1];
    const id = metadata.get(key);
    // llama.cpp ignores an id outside the vocabulary (writers put 0xFFFFFFFF, its LLAMA_TOKEN_NULL, for "none").
    if (role && isInteger(id) && id >= 0 && id < tokens.length) specialTokenIds[role] = id;
  }
  // Absent flags take llama.cpp's defaults: SentencePiece adds BOS and a dummy prefix space; byte-level BPE adds
  // neither, except the pre-tokenizers llama.cpp names (Llama-3's among them) which add BOS.
  const spm = model === 'llama';
  const addBosToken = optionalBool(metadata, 'tokenizer.ggml.add_bos_token', file) ?? (spm || (pre !== null && BPE_PRE_ADDING_BOS.includes(pre)));
  const addEosToken = optionalBool(metadata, 'tokenizer.ggml.add_eos_token', file) ?? false;
  const addSpacePrefix = optionalBool(metadata, 'tokenizer.ggml.add_space_prefix', file) ?? spm;
  const chatTemplate = optionalString(metadata, 'tokenizer.chat_template', file);
  return {
    model, pre, tokens, scores, tokenTypes, merges, bosTokenId, eosTokenId, specialTokenIds, addBosToken, addEosToken,
    addSpacePrefix, chatTemplate,
  };
}

/**
 * The tokenizer_config.json a GGUF stands for: its chat template and the BOS/EOS texts the template prints, so the
 * engine renders a GGUF's chat exactly as it renders a Hugging Face checkpoint's.
 */
export function ggufTokenizerConfig(vocab: GgufVocabulary): Record<string, unknown> | null {
  if (vocab.chatTemplate === null) return null;
  const text = (id: number | null) => (id === null ? null : vocab.tokens[id] ?? null);
  return { chat_template: vocab.chatTemplate, bos_token: text(vocab.bosTokenId), eos_token: text(vocab.eosTokenId) };
}

function optionalBool(metadata: Map<string, unknown>, key: string, file: string): boolean | null {
  const v = metadata.get(key);
  if (v === undefined) return null;
  if (typeof v !== 'boolean') throw new BadModelFileError(file, `metadata ${key}`, `is ${String(v)}, not a bool`);
  return v;
}

function readConfig(
  metadata: Map<string, unknown>, tensors: Map<string, LocatedTensor>, vocab: GgufVocabulary, file: string, bytesOf: (t: LocatedTensor) => Uint8Array,
): ModelConfig {
  const arch = optionalString(metadata, 'general.architecture', file);
  if (arch === null) throw new BadModelFileError(file, 'metadata general.architecture', 'is missing');
  if (!(SUPPORTED_ARCHITECTURES as string[]).includes(arch)) throw new UnsupportedArchitectureError(file, arch, SUPPORTED_ARCHITECTURES);
  const architecture = arch as Architecture;
  const key = (k: string) => `${arch}.${k}`;

  const hiddenSize = requiredInt(metadata, key('embedding_length'), file);
  const numLayers = requiredInt(metadata, key('block_count'), file);
  const intermediateSize = requiredInt(metadata, key('feed_forward_length'), file);
  const numHeads = requiredInt(metadata, key('attention.head_count'), file);
  const numKvHeads = optionalInt(metadata, key('attention.head_count_kv'), file) ?? numHeads;
  if (numHeads % numKvHeads !== 0) {
    throw new BadModelFileError(file, `metadata ${key('attention.head_count_kv')}`, `${numKvHeads} does not divide head_count ${numHeads}`);
  }
  const headDim = optionalInt(metadata, key('attention.key_length'), file) ?? hiddenSize / numHeads;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new BadModelFileError(file, `metadata ${key('attention.key_length')}`, `head dim ${headDim} is not an even integer`);
  }
  const valueLength = optionalInt(metadata, key('attention.value_length'), file);
  if (valueLength !== null && valueLength !== headDim) {
    throw new UnsupportedConfigError(file, key('attention.value_length'), valueLength, `equal to the key length ${headDim}`);
  }
  const ropeDims = optionalInt(metadata, key('rope.dimension_count'), file);
  if (ropeDims !== null && ropeDims !== headDim) {
    throw new UnsupportedConfigError(file, key('rope.dimension_count'), ropeDims, `the head dim ${headDim} (no partial rotary)`);
  }
  const scalingType = optionalString(metadata, key('rope.scaling.type'), file);
  if (scalingType !== null && scalingType !== 'none') {
    throw new UnsupportedConfigError(file, key('rope.scaling.type'), scalingType, 'none');
  }
  let ropeScaling: ModelConfig['ropeScaling'] = null;
  const ropeFreqs = tensors.get('rope_freqs.weight');
  if (ropeFreqs) {
    // Llama 3.1-style GGUFs carry per-frequency divisors as a tensor instead of the llama3 scaling parameters.
    if (ropeFreqs.shape.length !== 1 || ropeFreqs.shape[0] !== headDim / 2) {
      throw new BadModelFileError(file, 'tensor rope_freqs.weight', `has shape [${ropeFreqs.shape.join(', ')}], not [${headDim / 2}] (head dim / 2)`);
    }
    const factors = [...convertToF32(bytesOf(ropeFreqs), ropeFreqs.type, headDim / 2)];
    if (!factors.every((f) => Number.isFinite(f) && f > 0)) throw new BadModelFileError(file, 'tensor rope_freqs.weight', 'has a factor that is not a positive number');
    ropeScaling = { type: 'frequency_factors', factors };
    tensors.delete('rope_freqs.weight'); // a config value now, not a weight
  }
  const ropeTheta = optionalNumber(metadata, key('rope.freq_base'), file) ?? DEFAULT_ROPE_THETA;
  const rmsNormEps = optionalNumber(metadata, key('attention.layer_norm_rms_epsilon'), file) ?? DEFAULT_RMS_NORM_EPS;
  const maxPositionEmbeddings = requiredInt(metadata, key('context_length'), file);

  const embed = tensors.get('model.embed_tokens.weight');
  const vocabSize = vocab.tokens.length > 0
    ? vocab.tokens.length
    : optionalInt(metadata, key('vocab_size'), file) ?? embed?.shape[0] ?? 0;
  if (vocabSize <= 0) throw new BadModelFileError(file, 'metadata tokenizer.ggml.tokens', 'is missing and no vocab size can be inferred');

  const eosTokenIds: number[] = [];
  for (const id of [vocab.eosTokenId, optionalTokenId(metadata, 'tokenizer.ggml.eot_token_id', vocabSize, file)]) {
    if (id !== null && !eosTokenIds.includes(id)) eosTokenIds.push(id);
  }
  return {
    architecture,
    vocabSize,
    hiddenSize,
    intermediateSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps,
    ropeTheta,
    ropeScaling,
    ropeLayout: ROPE_LAYOUT[architecture],
    maxPositionEmbeddings,
    tieWordEmbeddings: !tensors.has('lm_head.weight'),
    attentionBias: tensors.has('model.layers.0.self_attn.q_proj.bias'),
    qkNorm: tensors.has('model.layers.0.self_attn.q_norm.weight'),
    bosTokenId: vocab.bosTokenId,
    eosTokenIds,
  };
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
function isInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

function optionalString(metadata: Map<string, unknown>, key: string, file: string): string | null {
  const v = metadata.get(key);
  if (v === undefined) return null;
  if (typeof v !== 'string') throw new BadModelFileError(file, `metadata ${key}`, `is ${String(v)}, not a string`);
  return v;
}

function optionalNumber(metadata: Map<string, unknown>, key: string, file: string): number | null {
  const v = metadata.get(key);
  if (v === undefined) return null;
  if (!isFiniteNumber(v)) throw new BadModelFileError(file, `metadata ${key}`, `is ${String(v)}, not a finite number`);
  return v;
}

function optionalInt(metadata: Map<string, unknown>, key: string, file: string): number | null {
  const v = metadata.get(key);
  if (v === undefined) return null;
  if (!isInteger(v) || v <= 0) throw new BadModelFileError(file, `metadata ${key}`, `is ${Array.isArray(v) ? 'an array (per-layer values are not supported)' : String(v)}, not a positive integer`);
  return v;
}

function requiredInt(metadata: Map<string, unknown>, key: string, file: string): number {
  const v = optionalInt(metadata, key, file);
  if (v === null) throw new BadModelFileError(file, `metadata ${key}`, 'is missing');
  return v;
}

function optionalTokenId(metadata: Map<string, unknown>, key: string, vocabSize: number, file: string): number | null {
  const v = metadata.get(key);
  if (v === undefined) return null;
  if (!isInteger(v) || v < 0 || (vocabSize > 0 && v >= vocabSize)) {
    throw new BadModelFileError(file, `metadata ${key}`, `is ${String(v)}, not a token id in [0, ${vocabSize})`);
  }
  return v;
}

function optionalArray<T>(metadata: Map<string, unknown>, key: string, file: string, check: (v: unknown) => v is T, what: string): T[] | null {
  const v = metadata.get(key);
  if (v === undefined) return null;
  if (!Array.isArray(v) || !v.every(check)) throw new BadModelFileError(file, `metadata ${key}`, `is not an array of ${what}`);
  return v as T[];
}
