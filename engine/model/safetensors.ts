// Parser of the safetensors format (https://github.com/huggingface/safetensors): every tensor as f32, every header field checked.
import { BadModelFileError, UnsupportedDtypeError } from '../errors/index.ts';
import type { Tensor } from './types.ts';

/** Dtypes we convert to f32, with their byte sizes. */
const SUPPORTED_DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };
export const SUPPORTED_SAFETENSORS_DTYPES = Object.keys(SUPPORTED_DTYPE_BYTES);

/** The 8-byte little-endian u64 header length that starts every file (format spec). */
const HEADER_LENGTH_BYTES = 8;
/** The reference implementation refuses headers above 100 MB; a larger one is a corrupt length field. */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  /** The free-form `__metadata__` string map (e.g. {format: 'pt'}); empty when absent. */
  metadata: Map<string, string>;
}

interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Parses a whole .safetensors file. f16 and bf16 are widened to f32; f32 tensors whose offset is 4-byte aligned
 * are views on `bytes` (no copy), so the caller must not reuse `bytes` afterwards.
 * Throws BadModelFileError naming `file`, the tensor and the field when the header lies about the data.
 */
export function parseSafetensors(bytes: Uint8Array, file: string): Map<string, Tensor> {
  return parseSafetensorsFile(bytes, file).tensors;
}

/** Like parseSafetensors, and also returns `__metadata__`. */
export function parseSafetensorsFile(bytes: Uint8Array, file: string): SafetensorsFile {
  const { entries, metadata, dataStart } = readHeader(bytes, file);
  const tensors = new Map<string, Tensor>();
  for (const e of entries) {
    tensors.set(e.name, { shape: e.shape, data: toFloat32(bytes, dataStart + e.begin, dataStart + e.end, e.dtype) });
  }
  return { tensors, metadata };
}

/** Tensor names, dtypes and shapes without converting data (for checks before a large conversion). */
export function readSafetensorsHeader(bytes: Uint8Array, file: string): { name: string; dtype: string; shape: number[] }[] {
  return readHeader(bytes, file).entries.map(({ name, dtype, shape }) => ({ name, dtype, shape }));
}

function readHeader(bytes: Uint8Array, file: string, streamedDataLength?: number): { entries: Entry[]; metadata: Map<string, string>; dataStart: number } {
  if (bytes.byteLength < HEADER_LENGTH_BYTES) {
    throw new BadModelFileError(file, 'header length', `the file has ${bytes.byteLength} bytes, fewer than the 8-byte header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const low = view.getUint32(0, true);
  const high = view.getUint32(4, true);
  const headerBytes = high * 2 ** 32 + low;
  if (headerBytes > MAX_HEADER_BYTES || headerBytes > bytes.byteLength - HEADER_LENGTH_BYTES) {
    throw new BadModelFileError(file, 'header length', `says ${headerBytes} bytes but the file has ${bytes.byteLength - HEADER_LENGTH_BYTES} after it`);
  }
  const dataStart = HEADER_LENGTH_BYTES + headerBytes;
  // A stream's length is unknown here: its offsets are checked for holes and overlaps only (the reader checks the end).
  const dataLength = streamedDataLength ?? bytes.byteLength - dataStart;

  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(HEADER_LENGTH_BYTES, dataStart)));
  } catch (e) {
    throw new BadModelFileError(file, 'header', `is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!isObject(header)) throw new BadModelFileError(file, 'header', 'is not a JSON object');

  const metadata = new Map<string, string>();
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      if (value === null) continue;
      if (!isObject(value)) throw new BadModelFileError(file, METADATA_KEY, 'is not an object of strings');
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') throw new BadModelFileError(file, `${METADATA_KEY}.${k}`, 'is not a string');
        metadata.set(k, v);
      }
      continue;
    }
    entries.push(readEntry(name, value, file, dataLength));
  }

  // The format requires the data to be fully indexed without holes or overlaps (no polyglot files).
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const e of byOffset) {
    if (e.begin < expected) {
      throw new BadModelFileError(file, `tensor "${e.name}" data_offsets`, `[${e.begin}, ${e.end}] overlaps the tensor before it, which ends at ${expected}`);
    }
    if (e.begin > expected) {
      throw new BadModelFileError(file, `tensor "${e.name}" data_offsets`, `starts at ${e.begin}, leaving a hole after byte ${expected}`);
    }
    expected = e.end;
  }
  if (streamedDataLength === undefined && expected !== dataLength) {
    throw new BadModelFileError(file, 'data', `the tensors cover ${expected} bytes but ${dataLength} follow the header`);
  }
  return { entries, metadata, dataStart };
}

function readEntry(name: string, value: unknown, file: string, dataLength: number): Entry {
  const where = `tensor "${name}"`;
  if (!isObject(value)) throw new BadModelFileError(file, where, 'is not an object');
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string') throw new BadModelFileError(file, `${where} dtype`, 'is missing or not a string');
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw new BadModelFileError(file, `${where} shape`, `${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw new BadModelFileError(file, `${where} data_offsets`, `${JSON.stringify(offsets)} is not a pair of non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw new BadModelFileError(file, `${where} data_offsets`, `begin ${begin} is after end ${end}`);
  if (end > dataLength) {
    throw new BadModelFileError(file, `${where} data_offsets`, `end ${end} is past the ${dataLength} data bytes of the file`);
  }
  const dtypeBytes = SUPPORTED_DTYPE_BYTES[dtype];
  if (dtypeBytes === undefined) throw new UnsupportedDtypeError(file, name, dtype, SUPPORTED_SAFETENSORS_DTYPES);
  const elements = (shape as number[]).reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(elements * dtypeBytes) || elements * dtypeBytes !== end - begin) {
    throw new BadModelFileError(
      file, `${where} data_offsets`,
      `cover ${end - begin} bytes but shape [${shape.join(', ')}] of ${dtype} needs ${elements * dtypeBytes}`,
    );
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

/** Source bytes of one piece of a streamed tensor at most (whole rows; one row when a row is larger). */
export const STREAM_PIECE_BYTES = 8 * 1024 * 1024;

/** What a streamed safetensors file announces before its data: every tensor's name, dtype and shape, in file order. */
export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
}

/** Receives a streamed file's tensors, one at a time, as consecutive pieces of whole rows converted to f32. */
export interface TensorPieceSink {
  /** The header, before any data: check names and shapes here (throwing stops the stream). */
  header?(entries: SafetensorsEntry[]): void;
  /**
   * Rows [rowStart, rowStart + rows) of `entry` (rows along shape[0]; a 0-d or 1-d tensor is one row); `data` is
   * reused for the next piece once the returned promise settles, so copy what must be kept.
   */
  piece(entry: SafetensorsEntry, rowStart: number, rows: number, data: Float32Array): Promise<void> | void;
  /** Whether `stored` takes this tensor's bytes as the file has them, instead of `piece` its f32. */
  takesStored?(entry: SafetensorsEntry): boolean;
  /** Rows of `entry` as stored (for a sink whose takesStored said yes); `bytes` is reused like piece's `data`. */
  stored?(entry: SafetensorsEntry, rowStart: number, rows: number, bytes: Uint8Array): Promise<void> | void;
}

/**
 * Parses a safetensors file as it streams in: the header first, then each tensor in offset order, converted to f32
 * piece by piece (at most STREAM_PIECE_BYTES of the file at a time) and handed to `sink`. Holds no tensor whole:
 * memory is one piece plus the chunk being read. The same checks as parseSafetensorsFile (header, offsets, holes).
 */
export async function streamSafetensors(chunks: AsyncIterable<Uint8Array>, file: string, sink: TensorPieceSink): Promise<void> {
  const reader = new ChunkReader(chunks[Symbol.asyncIterator](), file);
  const lengthBytes = await reader.read(HEADER_LENGTH_BYTES, 'header length');
  const view = new DataView(lengthBytes.buffer, lengthBytes.byteOffset, HEADER_LENGTH_BYTES);
  const headerBytes = view.getUint32(4, true) * 2 ** 32 + view.getUint32(0, true);
  if (headerBytes > MAX_HEADER_BYTES) throw new BadModelFileError(file, 'header length', `says ${headerBytes} bytes, more than the ${MAX_HEADER_BYTES} the format allows`);
  const head = new Uint8Array(HEADER_LENGTH_BYTES + headerBytes);
  head.set(lengthBytes);
  try {
    head.set(await reader.read(headerBytes, 'header'), HEADER_LENGTH_BYTES);
  } catch (e) {
    if (!(e instanceof BadModelFileError)) throw e;
    // As parseSafetensorsFile says it: the length field is what is wrong when the file is shorter than it claims.
    throw new BadModelFileError(file, 'header length', `says ${headerBytes} bytes but the file has ${reader.consumed - HEADER_LENGTH_BYTES} after it`);
  }
  // The data length is not known before the end of a stream: check the offsets against what the header implies
  // (they must tile [0, end) without holes), then that exactly that many bytes follow.
  const { entries } = readHeader(head, file, Number.MAX_SAFE_INTEGER);
  const ordered = [...entries].sort((a, b) => a.begin - b.begin);
  sink.header?.(ordered.map(({ name, dtype, shape }) => ({ name, dtype, shape })));
  let piece = new Uint8Array(0);
  let out = new Float32Array(0);
  for (const e of ordered) {
    const entry = { name: e.name, dtype: e.dtype, shape: e.shape };
    const rows = e.shape.length === 0 ? 1 : e.shape[0];
    const rowBytes = rows === 0 ? 0 : (e.end - e.begin) / rows;
    const rowsPerPiece = Math.max(1, Math.floor(STREAM_PIECE_BYTES / Math.max(1, rowBytes)));
    const asStored = sink.stored !== undefined && (sink.takesStored?.(entry) ?? false);
    for (let row = 0; row < rows; row += rowsPerPiece) {
      const n = Math.min(rowsPerPiece, rows - row);
      const bytes = n * rowBytes;
      if (piece.byteLength < bytes) piece = new Uint8Array(bytes);
      await reader.readInto(piece, bytes, `tensor "${e.name}" data`);
      if (asStored) {
        await (sink.stored as NonNullable<TensorPieceSink['stored']>)(entry, row, n, piece.subarray(0, bytes));
        continue;
      }
      const count = bytes / SUPPORTED_DTYPE_BYTES[e.dtype];
      if (out.length < count) out = new Float32Array(count);
      const data = out.subarray(0, count);
      convertToFloat32(piece, count, e.dtype, data);
      await sink.piece(entry, row, n, data);
    }
  }
  if (!(await reader.atEnd())) throw new BadModelFileError(file, 'data', `more bytes follow the ${ordered.length ? ordered[ordered.length - 1].end : 0} the tensors cover`);
}

/** Exact reads over a stream of chunks of any size. */
class ChunkReader {
  private chunk: Uint8Array = new Uint8Array(0);
  private at = 0;
  /** Bytes read so far. */
  consumed = 0;
  constructor(private readonly chunks: AsyncIterator<Uint8Array>, private readonly file: string) {}

  async read(n: number, what: string): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    await this.readInto(out, n, what);
    return out;
  }

  async readInto(out: Uint8Array, n: number, what: string): Promise<void> {
    let filled = 0;
    while (filled < n) {
      if (this.at === this.chunk.byteLength && !(await this.next())) {
        throw new BadModelFileError(this.file, what, `the file ends after ${this.consumed} bytes, before ${n - filled} more that ${what} needs`);
      }
      const take = Math.min(n - filled, this.chunk.byteLength - this.at);
      out.set(this.chunk.subarray(this.at, this.at + take), filled);
      this.at += take;
      this.consumed += take;
      filled += take;
    }
  }

  async atEnd(): Promise<boolean> {
    while (this.at === this.chunk.byteLength) if (!(await this.next())) return true;
    return false;
  }

  private async next(): Promise<boolean> {
    const { done, value } = await this.chunks.next();
    if (done) return false;
    this.chunk = value;
    this.at = 0;
    return true;
  }
}

/** `count` values of `dtype` at the start of `bytes` (an array of our own, so aligned) into `out` as f32. */
function convertToFloat32(bytes: Uint8Array, count: number, dtype: string, out: Float32Array): void {
  if (dtype === 'F32') {
    out.set(new Float32Array(bytes.buffer, bytes.byteOffset, count));
    return;
  }
  const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, count);
  if (dtype === 'BF16') {
    const bits = new Uint32Array(out.buffer, out.byteOffset, count);
    for (let i = 0; i < count; i++) bits[i] = halves[i] << 16;
  } else {
    const table = f16Table();
    for (let i = 0; i < count; i++) out[i] = table[halves[i]];
  }
}

function toFloat32(bytes: Uint8Array, start: number, end: number, dtype: string): Float32Array {
  const count = (end - start) / SUPPORTED_DTYPE_BYTES[dtype];
  const absolute = bytes.byteOffset + start;
  if (dtype === 'F32') {
    // safetensors is little-endian, as is every platform a browser runs on; aligned data needs no copy.
    if (absolute % 4 === 0) return new Float32Array(bytes.buffer, absolute, count);
    return new Float32Array(bytes.slice(start, end).buffer);
  }
  const halves = absolute % 2 === 0 ? new Uint16Array(bytes.buffer, absolute, count) : new Uint16Array(bytes.slice(start, end).buffer);
  const out = new Float32Array(count);
  if (dtype === 'BF16') {
    // bf16 is the top half of an f32.
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) bits[i] = halves[i] << 16;
  } else {
    const table = f16Table();
    for (let i = 0; i < count; i++) out[i] = table[halves[i]];
  }
  return out;
}

let f16ToF32: Float32Array | null = null;

/** All 65536 f16 values as f32 (256 KiB), built once: a lookup beats bit twiddling per element. */
function f16Table(): Float32Array {
  if (f16ToF32) return f16ToF32;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) table[h] = decodeF16(h);
  f16ToF32 = table;
  return table;
}

/** IEEE 754 binary16 -> number: 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits. */
export function decodeF16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // subnormal (and zero)
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
