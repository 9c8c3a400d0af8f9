// Block quantization at load on the GPU (quantize.wgsl): a weight's stored rows (f32, f16 or bf16, as the checkpoint
// has them) go to one reused staging buffer, and a kernel writes engine/quant's symmetric int4 / int8 blocks straight
// into the tensor's buffers: the same bytes as quantizeMatrix (the CPU reference, which stays as the oracle of every
// quantized kernel test and of this one, and as the load's quantizer on CPU adapters: engine/runtime quantizeOnFor).
// Why on the GPU: quantizing on the CPU took most of a q4 cold load (H200 yardstick 2026-12-04 run 2: Llama-3.2-1B q4
// 24.7 s against 4.4 s for f16 and Transformers.js's 4.9 s).
import { InvalidArgumentError } from '../../errors/index.ts';
import quantizeSource from './quantize.wgsl?raw';
import { blobBytes, blocksPerRow, type QuantizationSpec } from '../block-quant.ts';

/** Checkpoint dtypes the kernel reads, with their bytes per value and the kernel's SRC override. */
const SOURCE_DTYPES: Record<string, { bytes: number; src: number }> = { F32: { bytes: 4, src: 0 }, F16: { bytes: 2, src: 1 }, BF16: { bytes: 2, src: 2 } };

/** Whether the GPU quantizer reads `dtype` (a safetensors or GGUF dtype name) as stored. */
export function gpuQuantizes(dtype: string, spec: QuantizationSpec | null): boolean {
  return spec !== null && spec.symmetric && dtype in SOURCE_DTYPES;
}

/**
 * Source bytes quantized per dispatch at most (whole rows; one row when a row is larger): the staging buffer's size,
 * so the GPU memory a load adds to its weights is this, whatever the model. 8 MiB as the loader's pieces
 * (STREAM_PIECE_BYTES), so a streamed piece is one dispatch.
 */
export const QUANTIZE_WINDOW_BYTES = 8 * 1024 * 1024;

const WORKGROUP = 64;
const MAX_GROUPS_X = 65535;
const PARAMS_BYTES = 32;
/** The refused flag's value while no block held NaN or an infinity. */
const NONE_REFUSED = 0xffffffff;

/** A tensor's GPU buffers in engine/quant's layout, the quantizer's output. */
export interface QuantizedTarget {
  codes: GPUBuffer;
  scales: GPUBuffer;
  spec: QuantizationSpec;
  /** The value refusedTensor() returns when one of its blocks held NaN or an infinity (its index in the load). */
  tensor: number;
}

export class GpuBlockQuantizer {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private staging: GPUBuffer | null = null;
  private readonly params: GPUBuffer;
  private readonly refused: GPUBuffer;
  private module: GPUShaderModule | null = null;

  /** `windowBytes`: source bytes per dispatch at most (tests make it small to cross windows inside a piece). */
  constructor(private readonly device: GPUDevice, private readonly windowBytes = QUANTIZE_WINDOW_BYTES) {
    this.params = device.createBuffer({ label: 'quantize params', size: PARAMS_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.refused = device.createBuffer({ label: 'quantize refused', size: 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
    device.queue.writeBuffer(this.refused, 0, new Uint32Array([NONE_REFUSED]));
  }

  /**
   * Quantizes `rows` whole rows of a [.., cols] weight, `stored` as the file has them in `dtype`, into `target` from row
   * `rowStart` on. Encoded and submitted now; `stored` may be reused as soon as this returns (writeBuffer copies it).
   * Returns the source bytes written to the queue (the caller's drain bound counts them).
   */
  quantize(stored: Uint8Array, dtype: string, rows: number, cols: number, rowStart: number, target: QuantizedTarget): number {
    const source = SOURCE_DTYPES[dtype];
    const { spec } = target;
    if (!source || !spec.symmetric) throw new InvalidArgumentError('dtype', `the GPU quantizer reads F32, F16 or BF16 into symmetric blocks, not ${dtype}`);
    const rowBytes = cols * source.bytes;
    if (stored.byteLength !== rows * rowBytes) throw new InvalidArgumentError('stored', `${stored.byteLength} bytes are not ${rows} rows of ${cols} ${dtype} values`);
    const perRow = blocksPerRow(cols, spec);
    const rowsPerDispatch = Math.max(1, Math.floor(this.windowBytes / rowBytes));
    const pipeline = this.pipeline(spec, source.src);
    const staging = this.stagingFor(Math.min(rows, rowsPerDispatch) * rowBytes);
    const bindGroup = this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: staging } },
        { binding: 1, resource: { buffer: target.codes } },
        { binding: 2, resource: { buffer: target.scales } },
        { binding: 3, resource: { buffer: this.params } },
        { binding: 4, resource: { buffer: this.refused } },
      ],
    });
    for (let r = 0; r < rows; r += rowsPerDispatch) {
      const n = Math.min(rowsPerDispatch, rows - r);
      const bytes = stored.subarray(r * rowBytes, (r + n) * rowBytes);
      // writeBuffer takes whole words from a word-aligned offset; a piece that is not (an odd count of halves, or a
      // GGUF tensor at an odd offset in its chunk) is copied first.
      const words = bytes.byteLength % 4 === 0 && bytes.byteOffset % 4 === 0 ? bytes : padded(bytes);
      this.device.queue.writeBuffer(staging, 0, words.buffer, words.byteOffset, words.byteLength);
      const blocks = n * perRow;
      const groups = Math.ceil(blocks / WORKGROUP);
      const gx = Math.min(groups, MAX_GROUPS_X);
      const gy = Math.ceil(groups / gx);
      this.device.queue.writeBuffer(this.params, 0, new Uint32Array([blocks, cols, perRow, (rowStart + r) * perRow, target.tensor, gx * WORKGROUP, 0, 0]));
      // One submit per window: the next window's writeBuffer into the same staging buffer is ordered after it.
      const encoder = this.device.createCommandEncoder({ label: 'quantize' });
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(gx, gy);
      pass.end();
      this.device.queue.submit([encoder.finish()]);
    }
    return stored.byteLength;
  }

  /** The smallest `tensor` of a target that held NaN or an infinity, or null: one readback, after the last quantize. */
  async refusedTensor(): Promise<number | null> {
    const read = this.device.createBuffer({ label: 'quantize refused readback', size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    try {
      const encoder = this.device.createCommandEncoder();
      encoder.copyBufferToBuffer(this.refused, 0, read, 0, 4);
      this.device.queue.submit([encoder.finish()]);
      await read.mapAsync(GPUMapMode.READ);
      const index = new Uint32Array(read.getMappedRange())[0];
      read.unmap();
      return index === NONE_REFUSED ? null : index;
    } finally {
      read.destroy();
    }
  }

  /** Frees the staging window (once the last tensor is quantized: the weights no longer need it). */
  releaseStaging(): void {
    this.staging?.destroy();
    this.staging = null;
  }

  destroy(): void {
    this.releaseStaging();
    this.params.destroy();
    this.refused.destroy();
  }

  private stagingFor(bytes: number): GPUBuffer {
    const size = Math.ceil(Math.max(16, bytes) / 16) * 16;
    if (this.staging && this.staging.size >= size) return this.staging;
    // Grown to the largest window asked (at most QUANTIZE_WINDOW_BYTES, or one row past it); submitted work that still
    // reads the old one finishes first (destroy waits for it).
    this.staging?.destroy();
    this.staging = this.device.createBuffer({ label: 'quantize staging', size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    return this.staging;
  }

  private pipeline(spec: QuantizationSpec, src: number): GPUComputePipeline {
    const key = `${spec.bits}/${spec.blockSize}/${src}`;
    let p = this.pipelines.get(key);
    if (!p) {
      if ((spec.blockSize * spec.bits) % 32 !== 0 || blobBytes(spec) % 4 !== 0) throw new InvalidArgumentError('quantization.blockSize', `${spec.blockSize} of ${spec.bits} bits is not whole words`);
      p = this.device.createComputePipeline({
        label: `quantize int${spec.bits}/${spec.blockSize} from ${Object.keys(SOURCE_DTYPES)[src]}`,
        layout: 'auto',
        compute: { module: (this.module ??= this.device.createShaderModule({ label: 'quantize', code: quantizeSource })), entryPoint: 'main', constants: { BITS: spec.bits, BLOCK: spec.blockSize, SRC: src } },
      });
      this.pipelines.set(key, p);
    }
    return p;
  }
}

function padded(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
  out.set(bytes);
  return out;
}
