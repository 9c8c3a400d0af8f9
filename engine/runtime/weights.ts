// Uploads a model's weights to the GPU once; ORT's prefill sessions and our decode kernels read the same buffers.
// Weights arrive as a stream (GpuWeightWriter is the loader's WeightSink): each tensor's buffers are made when its
// first rows arrive, and every piece of rows is written as f32, converted to f16 pairs (engine/quant/f16.ts),
// quantized to int4 / int8 on the GPU from its stored f32, f16 or bf16 values (engine/quant/gpu/gpu-quantize.ts: one
// staging window, a kernel writing the blocks in place), or repacked from a GGUF's ggml blocks (engine/quant: codes,
// and scales or (scale, min) pairs, two buffers) and written at its offset, so no tensor is ever whole on the CPU, in
// any format. Each tensor keeps its own format: a GGUF mixes them (Q4_K_M: Q4_K, Q6_K, F32). The queue is drained
// every UPLOAD_IN_FLIGHT_BYTES: a bounded staging pool.
import { BadModelFileError, BufferLimitError, InvalidArgumentError } from '../errors/index.ts';
import { withGpuErrorScopes } from '../gpu/index.ts';
import type { LoadedModel, ProgressCallback, WeightSink } from '../model/index.ts';
import { decodeVariantFor, F16_UNIT } from '../decode/index.ts';
import {
  blobBytes, blocksPerRow, ggmlRepackSpec, gpuScales, isQuantizedWeight, packF16Pairs, quantizationSpec, quantizeMatrix,
  repackGgmlBlocks, storageSpec, type QuantizationMode, type QuantizationSpec, type QuantizedMatrix,
} from '../quant/index.ts';
import { GpuBlockQuantizer, gpuQuantizes, type QuantizedTarget } from '../quant/gpu/index.ts';

export interface GpuWeight {
  /** f32 values, f16 pairs (`f16`), or a quantized weight's codes [rows][blocks][blockSize * bits / 8]. */
  buffer: GPUBuffer;
  /** The logical shape ([out, in] for a matrix), whatever the storage. */
  shape: number[];
  /** Stored as f16 pairs (engine/quant/f16.ts: element 2i in the low half of word i). */
  f16?: boolean;
  /** Blocks (engine/decode QuantizedMatrixBuffers). */
  quantized?: {
    /** f32 [rows * blocksPerRow] scales, or with `mins` [rows * blocksPerRow][2] (scale, min) pairs. */
    scales: GPUBuffer;
    /** Whether w = scale * code - min (GGUF Q4_K, Q5_K); else w = (code - 2^(bits-1)) * scale. */
    mins: boolean;
    bits: 4 | 8;
    blockSize: number;
    blocksPerRow: number;
  };
}

/** How a weight is stored, for engine.info: 'f32', 'f16', or blocks as 'int4/32', 'int8/16', 'int4/32+min'. */
export function gpuWeightFormat(w: GpuWeight): string {
  const q = w.quantized;
  return q ? `int${q.bits}/${q.blockSize}${q.mins ? '+min' : ''}` : w.f16 ? 'f16' : 'f32';
}

/** Where int4 / int8 blocks are made at load: the GPU quantizer (quantize.wgsl) or the CPU reference (the same bytes). */
export type QuantizeOn = 'gpu' | 'cpu';

/**
 * The GPU on real GPUs; the CPU on CPU adapters (SwiftShader, llvmpipe), where the "GPU" is the same cores running an
 * emulation: 8M f16 values took 0.63 s through quantize.wgsl on SwiftShader against 0.115 s in quantizeMatrix
 * (Dawn in Node here, 2 idle cores; 5.5 s against 0.74 s under a load of 23), and sieve-tiny's int4 weights 0.77 s
 * against 0.27 s. engine/quant/gpu/gpu-quantize.ts has the H200's reason for the GPU.
 */
export function quantizeOnFor(adapter: { vendor?: string; architecture?: string; description?: string }): QuantizeOn {
  return decodeVariantFor(adapter).name === 'cpu-adapter' ? 'cpu' : 'gpu';
}

/**
 * Bytes written to the queue before waiting for the GPU to take them: the staging memory the browser (or Dawn) holds
 * for uploads stays near this, whatever the model's size. 64 MiB: large enough that the ~30 ms wait (dawn.node,
 * DESIGN.md) costs about 40 waits for a 2.5 GB model.
 */
export const UPLOAD_IN_FLIGHT_BYTES = 64 * 1024 * 1024;

const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

export class GpuWeights {
  /** @internal written by GpuWeightWriter */
  readonly byName = new Map<string, GpuWeight>();
  /** GPU bytes of all weights as stored (quantized parts included, allocation padding excluded). */
  bytes = 0;
  /**
   * Settles with the device's answer for every buffer of upload(): rejects with the typed error of the first refused.
   * A streaming load's writer hears each tensor's answer as it goes, so its weights are accepted already.
   */
  accepted: Promise<void> = Promise.resolve();

  /** The block spec of `format` (int8, int4), or null (f32, f16). */
  readonly quantization: QuantizationSpec | null;

  /**
   * @internal use GpuWeightWriter or upload. `format`: what the load option asked for (f32, f16 and bf16 matrices are
   * stored in it); a GGUF's block tensors keep their own (formats() tells).
   */
  constructor(readonly format: QuantizationMode) {
    this.quantization = quantizationSpec(format);
  }

  /** Tensors per storage format (gpuWeightFormat), e.g. { 'int4/32+min': 5, 'int8/16': 3, f32: 3 } for a Q4_K_M GGUF. */
  formats(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const w of this.byName.values()) counts[gpuWeightFormat(w)] = (counts[gpuWeightFormat(w)] ?? 0) + 1;
    return counts;
  }

  /**
   * Uploads weights already on the CPU (the CPU reference's LoadedModel, tests, benches) through the same writer a
   * streaming load uses. `format`: weights that isQuantizedWeight names are stored in it (default f32). An untied
   * checkpoint's lm_head.weight is uploaded even when tie_word_embeddings says to use embed_tokens.
   */
  static upload(device: GPUDevice, model: LoadedModel, onProgress?: ProgressCallback, format: QuantizationMode = 'f32', quantizeOn: QuantizeOn = 'gpu'): GpuWeights {
    // The CPU copy exists already: nothing is gained by waiting for the queue. Upload stays synchronous (decoders in
    // tests are built in constructors over it), and the device's answers for the tensors' buffers come as `accepted`
    // (error scopes answer asynchronously whatever the caller does); GpuModel.create awaits it before building.
    const writer = new GpuWeightWriter(device, model.source, format, onProgress, Infinity, quantizeOn);
    const answers: Promise<void>[] = [];
    try {
      for (const name of model.weights.names()) {
        const t = model.weights.get(name);
        const written = writer.piece(name, t.shape, 0, t.shape.length === 0 ? 1 : t.shape[0], t.data);
        if (written) answers.push(written);
      }
      const weights = writer.finish();
      // The first refusal (OUT_OF_GPU_MEMORY naming the tensor and its bytes, GPU_VALIDATION, a tensor over the
      // buffer limit) rejects it, and every weight is freed: a half-uploaded model is never used.
      weights.accepted = Promise.all([...answers, weights.accepted]).then(() => undefined, (e) => { weights.destroy(); throw e; });
      return weights;
    } catch (e) {
      void Promise.allSettled(answers);
      writer.destroy();
      throw e;
    }
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  get(name: string): GpuWeight {
    const w = this.byName.get(name);
    if (!w) throw new Error(`internal: weight ${name} was not uploaded`);
    return w;
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  destroy(): void {
    for (const w of this.byName.values()) {
      w.buffer.destroy();
      w.quantized?.scales.destroy();
    }
    this.byName.clear();
  }
}

/**
 * A piece of rows on its way to a tensor's buffers: f32 values, f16 pairs (rows * cols / 2 words; cols is even),
 * blocks made on the CPU (a GGUF's repacked, or quantized on a CPU adapter), or stored f32 / f16 / bf16 values that
 * the GPU quantizes (gpu-quantize.ts).
 */
type Piece =
  | { kind: 'f32'; data: Float32Array }
  | { kind: 'f16'; halves: Uint32Array }
  | { kind: 'blocks'; q: QuantizedMatrix }
  | { kind: 'quantize'; dtype: string; stored: Uint8Array; spec: QuantizationSpec };

/** One GPU buffer of a tensor being written; parts whose rows are not 4-byte multiples are kept whole until the end. */
interface PartWriter {
  buffer: GPUBuffer;
  bytesPerRow: number;
  /** CPU bytes of a part whose row offsets writeBuffer cannot take (rows not a 4-byte multiple: small). */
  pending: Uint8Array | null;
}

/** A tensor being written: its buffers, and where the GPU quantizer writes (quantized from stored values). */
interface TensorWriter {
  name: string;
  parts: PartWriter[];
  target: QuantizedTarget | null;
}

/** The loader's WeightSink for the GPU: buffers per tensor, each piece of rows written at its offset. */
export class GpuWeightWriter implements WeightSink {
  private readonly weights: GpuWeights;
  private readonly limit: number;
  private current: TensorWriter | null = null;
  private inFlight = 0;
  private uploaded = 0;
  /** GPU bytes of each tensor written, as counted in weights.bytes. */
  private readonly tensorBytes = new Map<string, number>();

  private readonly quantization: QuantizationSpec | null;
  /** Made at the first tensor the GPU quantizes; its names by target index, for the NaN refusal's message. */
  private quantizer: GpuBlockQuantizer | null = null;
  private readonly quantized: string[] = [];
  /** The device's answers for each piece's quantize dispatches (heard together by finish()'s accepted). */
  private readonly verdicts: Promise<unknown>[] = [];

  constructor(
    private readonly device: GPUDevice,
    private readonly source: string,
    private readonly format: QuantizationMode,
    private readonly onProgress?: ProgressCallback,
    private readonly inFlightBytes = UPLOAD_IN_FLIGHT_BYTES,
    private readonly quantizeOn: QuantizeOn = 'gpu',
  ) {
    this.weights = new GpuWeights(format);
    this.quantization = this.weights.quantization;
    this.limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  }

  piece(name: string, shape: number[], rowStart: number, rows: number, data: Float32Array): Promise<void> | void {
    const spec = storageSpec(name, 'F32', shape, this.quantization);
    // int4 / int8 (the load option's blocks are symmetric, what the GPU quantizer writes): on the GPU, or on a CPU
    // adapter by the CPU reference (the same bytes; quantizeOnFor says why).
    if (spec && this.quantizeOn === 'cpu') return this.write(name, shape, rowStart, rows, { kind: 'blocks', q: this.quantizeOnCpu(name, data, rows, shape[1], spec) });
    if (spec) return this.write(name, shape, rowStart, rows, { kind: 'quantize', dtype: 'F32', stored: bytesOf(data), spec });
    if (this.storesF16(name, shape)) return this.write(name, shape, rowStart, rows, { kind: 'f16', halves: packF16Pairs(data, rows * shape[1]) });
    return this.write(name, shape, rowStart, rows, { kind: 'f32', data });
  }

  /** quantizeMatrix, its refusal of NaN and infinities said as the GPU path says it (BAD_MODEL_FILE naming the tensor). */
  private quantizeOnCpu(name: string, data: Float32Array, rows: number, cols: number, spec: QuantizationSpec): QuantizedMatrix {
    try {
      return quantizeMatrix(data, rows, cols, spec);
    } catch (e) {
      if (!(e instanceof InvalidArgumentError)) throw e;
      throw new BadModelFileError(this.source, `tensor "${name}"`, `${NON_FINITE} (${e.message})`);
    }
  }

  /**
   * Under 'f16', the matrices isQuantizedWeight names (the embedding, an untied head, the linear layers) whose rows
   * are whole units of the f16 matvec (F16_UNIT values: every real model's). Norms and biases stay f32: a few KiB
   * against megabytes of matrices, read once per step, and every output goes through them, so f16's rounding there
   * would cost accuracy for no measurable speed. A matrix of another width stays f32 (the f32 matvec takes any
   * multiple of 4), and the ones a kernel fuses (q/k/v, gate/up) share a width, so they share a format.
   */
  private storesF16(name: string, shape: number[]): boolean {
    return this.format === 'f16' && shape.length === 2 && isQuantizedWeight(name) && shape[1] % F16_UNIT === 0;
  }

  /**
   * Stored bytes are taken as they are where that saves the CPU a pass over them: a GGUF's ggml blocks, repacked into
   * their own block format (engine/quant storageSpec); an f16 matrix's halves where it is kept as f16 (little-endian
   * f16 values, two to a 32-bit word, are already packF16Pairs' layout; through f32 and back, the halves of
   * Qwen2.5-0.5B took most of a 9.6 s load on the H200, bench/compare 2026-12-04); and an f32, f16 or bf16 matrix
   * stored as int4 or int8, which the GPU quantizes from its stored values (quantizing on the CPU took most of
   * Llama-3.2-1B's 24.7 s q4 load there, run 2).
   */
  takesBlocks(name: string, dtype: string, shape: number[]): boolean {
    if (dtype === 'F16' && this.storesF16(name, shape)) return true;
    const spec = storageSpec(name, dtype, shape, this.quantization);
    return spec !== null && (ggmlRepackSpec(dtype) !== null || (this.quantizeOn === 'gpu' && gpuQuantizes(dtype, spec)));
  }

  blocks(name: string, shape: number[], rowStart: number, rows: number, dtype: string, stored: Uint8Array): Promise<void> | void {
    if (dtype === 'F16' && this.storesF16(name, shape)) {
      // A view where the bytes start on a word (the safetensors stream's pieces do); a copy otherwise.
      const words = stored.byteOffset % 4 === 0 ? stored : stored.slice();
      return this.write(name, shape, rowStart, rows, { kind: 'f16', halves: new Uint32Array(words.buffer, words.byteOffset, words.byteLength / 4) });
    }
    const spec = storageSpec(name, dtype, shape, this.quantization);
    if (spec && this.quantizeOn === 'gpu' && gpuQuantizes(dtype, spec)) return this.write(name, shape, rowStart, rows, { kind: 'quantize', dtype, stored, spec });
    const values = shape.length === 2 ? repackGgmlBlocks(dtype, stored, rows, shape[1]) : null;
    if (!values) throw new Error(`internal: ${name}'s ${dtype} blocks cannot be repacked (takesBlocks said no)`);
    return this.write(name, shape, rowStart, rows, { kind: 'blocks', q: values });
  }

  /** Writes a piece of rows: f32 values, f16 pairs, a quantized piece's codes and scales (or (scale, min) pairs), or stored values the GPU quantizes. */
  private write(name: string, shape: number[], rowStart: number, rows: number, piece: Piece): Promise<void> | void {
    const totalRows = shape.length === 0 ? 1 : shape[0];
    if (rowStart === 0) {
      // A tensor's buffers are made in the GPU's error scopes: a device that refuses them fails the load here, typed.
      const layout = pieceLayout(piece, shape, rows);
      const bytes = layout.reduce((sum, part) => sum + part.bytesPerRow * totalRows, 0);
      const scoped = withGpuErrorScopes(this.device, `${this.source}: tensor ${name}`, () => this.begin(name, shape, totalRows, piece, layout), {
        bytes,
        release: () => { this.current = null; this.drop(name); },
      });
      // begin ran, and the scopes were popped, before withGpuErrorScopes returned: when it made the buffers, the rows
      // are written now, not after the device answers (GpuWeights.upload is synchronous and feeds the next tensor at
      // once). When it threw, the promise rejects with its error.
      if (this.current?.name !== name) return scoped;
      const written = this.writeRows(name, shape, rowStart, rows, totalRows, piece);
      return scoped.then(() => written);
    }
    return this.writeRows(name, shape, rowStart, rows, totalRows, piece);
  }

  private writeRows(name: string, shape: number[], rowStart: number, rows: number, totalRows: number, piece: Piece): Promise<void> | void {
    const t = this.current;
    if (!t || t.name !== name) throw new Error(`internal: rows of ${name} arrived before its first rows`);
    if (piece.kind === 'quantize') {
      const target = t.target as QuantizedTarget;
      const quantizer = this.quantizer as GpuBlockQuantizer;
      // The dispatches (and a staging buffer grown for them) in the error scopes too; their answers are heard at
      // accepted, so the stream never waits for the device per piece.
      const verdict = withGpuErrorScopes(this.device, `${this.source}: quantizing tensor ${name}`, () => {
        this.inFlight += quantizer.quantize(piece.stored, piece.dtype, rows, shape[1], rowStart, target);
      });
      verdict.catch(() => undefined);
      this.verdicts.push(verdict);
    } else {
      const parts: ArrayBufferView[] = piece.kind === 'f32' ? [piece.data] : piece.kind === 'f16' ? [piece.halves] : [piece.q.data, gpuScales(piece.q)];
      parts.forEach((part, i) => this.writePart(t.parts[i], rowStart, part));
      this.inFlight += parts.reduce((sum, p) => sum + p.byteLength, 0);
    }
    // Progress counts the tensor as f32 (what the loader's sizes say), whatever it is stored as.
    if (rowStart + rows === totalRows) this.end(name, shape.reduce((a, b) => a * b, 1) * 4);
    if (this.inFlight >= this.inFlightBytes) return this.drain();
  }

  /** Frees a tensor already written (a GGUF's duplicated classifier, dropped once the stream showed it). */
  drop(name: string): void {
    const w = this.weights.byName.get(name);
    if (!w) return;
    for (const b of [w.buffer, w.quantized?.scales]) b?.destroy();
    this.weights.bytes -= this.tensorBytes.get(name) ?? 0;
    this.weights.byName.delete(name);
  }

  /**
   * The uploaded weights; the writer is spent. Their `accepted` settles once the device has answered for every
   * quantize dispatch and no block held NaN or an infinity (one readback); on a refusal every weight is freed.
   */
  finish(): GpuWeights {
    if (this.current) throw new Error(`internal: ${this.current.name} never got its last rows`);
    const quantizer = this.quantizer;
    if (quantizer) {
      // The staging window goes now (its last dispatches keep it alive until they ran): the weights do not need it.
      quantizer.releaseStaging();
      const weights = this.weights;
      weights.accepted = this.checked(quantizer).then(() => undefined, (e) => { weights.destroy(); throw e; });
      weights.accepted.catch(() => undefined); // heard by whoever awaits it (GpuModel.build); never unhandled meanwhile
    }
    return this.weights;
  }

  /** Frees everything written so far (a load that failed midway). */
  destroy(): void {
    this.current?.parts.forEach((p) => p.buffer.destroy());
    this.current = null;
    this.quantizer?.destroy();
    this.quantizer = null;
    this.weights.destroy();
  }

  private async checked(quantizer: GpuBlockQuantizer): Promise<void> {
    try {
      await Promise.all(this.verdicts);
      const refused = await quantizer.refusedTensor();
      if (refused !== null) {
        throw new BadModelFileError(this.source, `tensor "${this.quantized[refused]}"`, NON_FINITE);
      }
    } finally {
      quantizer.destroy();
    }
  }

  private begin(name: string, shape: number[], totalRows: number, piece: Piece, layout: PartLayout[]): void {
    if (this.current) throw new Error(`internal: ${name} began before ${this.current.name} ended`);
    const made: PartWriter[] = [];
    try {
      for (const part of layout) {
        const bytes = part.bytesPerRow * totalRows;
        if (bytes > this.limit) throw new BufferLimitError(`${this.source}: ${part.what(name)}`, bytes, this.limit, 'maxStorageBufferBindingSize');
        // ORT's kernels read in 16-byte vectors: pad the allocation, never the logical size.
        const buffer = this.device.createBuffer({ label: part.label(name), size: Math.max(16, Math.ceil(bytes / 16) * 16), usage: USAGE });
        made.push({ buffer, bytesPerRow: part.bytesPerRow, pending: part.bytesPerRow % 4 === 0 ? null : new Uint8Array(Math.ceil(bytes / 4) * 4) });
        this.weights.bytes += bytes;
        this.tensorBytes.set(name, (this.tensorBytes.get(name) ?? 0) + bytes);
      }
      if (piece.kind === 'quantize') this.quantizer ??= new GpuBlockQuantizer(this.device);
    } catch (e) {
      for (const p of made) p.buffer.destroy();
      throw e;
    }
    const [buffer, scales] = made.map((p) => p.buffer);
    let target: QuantizedTarget | null = null;
    if (piece.kind === 'quantize') {
      target = { codes: buffer, scales, spec: piece.spec, tensor: this.quantized.length };
      this.quantized.push(name);
    }
    this.current = { name, parts: made, target };
    const blockSpec = piece.kind === 'blocks' ? piece.q.spec : piece.kind === 'quantize' ? piece.spec : null;
    this.weights.byName.set(name, piece.kind === 'f16' ? { buffer, shape, f16: true } : !blockSpec
      ? { buffer, shape }
      : {
        buffer, shape,
        quantized: { scales, mins: piece.kind === 'blocks' && piece.q.mins !== null, bits: blockSpec.bits, blockSize: blockSpec.blockSize, blocksPerRow: blocksPerRow(shape[1], blockSpec) },
      });
  }

  private writePart(part: PartWriter, rowStart: number, data: ArrayBufferView): void {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const offset = rowStart * part.bytesPerRow;
    if (part.pending) part.pending.set(bytes, offset);
    else this.device.queue.writeBuffer(part.buffer, offset, bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private end(name: string, f32Bytes: number): void {
    const t = this.current as TensorWriter;
    for (const p of t.parts) if (p.pending) this.device.queue.writeBuffer(p.buffer, 0, p.pending.buffer, 0, p.pending.byteLength);
    this.current = null;
    this.uploaded += f32Bytes;
    this.onProgress?.({ phase: 'upload', loadedBytes: this.uploaded, totalBytes: 0, file: name });
  }

  /** Waits until the GPU has taken what was written: the upload's staging memory stays bounded. */
  private async drain(): Promise<void> {
    this.inFlight = 0;
    await this.device.queue.onSubmittedWorkDone();
  }
}

const NON_FINITE = 'holds NaN or an infinity, which int4 and int8 blocks cannot store (the file is damaged)';

/** One buffer of a tensor: its bytes per row of the weight, and its names for labels and messages. */
interface PartLayout {
  bytesPerRow: number;
  label(name: string): string;
  what(name: string): string;
}

/** A tensor's buffers, from its first piece of `rows` rows: one (values), or codes and per-block f32s. */
function pieceLayout(piece: Piece, shape: number[], rows: number): PartLayout[] {
  const perRow = (view: ArrayBufferView) => view.byteLength / Math.max(1, rows);
  if (piece.kind === 'f32') return [{ bytesPerRow: perRow(piece.data), label: (n) => n, what: (n) => `tensor ${n}` }];
  if (piece.kind === 'f16') return [{ bytesPerRow: perRow(piece.halves), label: (n) => n, what: (n) => `tensor ${n}` }];
  const spec = piece.kind === 'blocks' ? piece.q.spec : piece.spec;
  const mins = piece.kind === 'blocks' && piece.q.mins !== null;
  const blocks = blocksPerRow(shape[1], spec);
  const scalesLabel = (n: string) => `${n} ${mins ? 'scales and mins' : 'scales'}`;
  return [
    { bytesPerRow: blocks * blobBytes(spec), label: (n) => n, what: (n) => `tensor ${n} (quantized)` },
    { bytesPerRow: blocks * (mins ? 8 : 4), label: scalesLabel, what: (n) => `tensor ${scalesLabel(n)}` },
  ];
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}
