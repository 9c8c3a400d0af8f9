// The decode kernels as recorded dispatches: pipelines (cached per shape) and bind groups made once, replayed each step.
import { EMBED_WORKGROUP_SIZE } from './constants.ts';
import { GPU_VARIANT, type DecodeKernelVariant } from './variants.ts';
import argmaxSource from './argmax.wgsl?raw';
import embedSource from './embed.wgsl?raw';
import embedQuantRaw from './embed-quant.wgsl?raw';
import headNormSource from './head-norm.wgsl?raw';
import matvecSource from './matvec.wgsl?raw';
import matvecQuantRaw from './matvec-quant.wgsl?raw';
import { linkWgsl } from '../wgsl/index.ts';

// Both quantized kernels read zero points through engine/wgsl's block-quant library.
const embedQuantSource = linkWgsl(embedQuantRaw);
const matvecQuantSource = linkWgsl(matvecQuantRaw);

/** One dispatch with everything bound; `encodeDispatch` replays it into a pass. */
export interface Dispatch {
  label: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: [number, number];
}

/** Entry points of matvec.wgsl (see its header for the math of each). */
export type MatvecEntry = 'normed' | 'normedPair' | 'normedGated' | 'residual';

/** A weight matrix [out, in]: f32 row-major, or block-quantized (MatMulNBits' layout) when `quantized` is set. */
export interface MatrixBuffer {
  /** f32 values, or the quantized codes [out][blocks][blockSize * bits / 8]. */
  buffer: GPUBuffer;
  shape: number[];
  quantized?: QuantizedMatrixBuffers;
}

/** The other parts of a block-quantized matrix (engine/quant). */
export interface QuantizedMatrixBuffers {
  /** f32 [out * blocksPerRow]. */
  scales: GPUBuffer;
  /** Packed u8 zero points [out][ceil(blocksPerRow * bits / 8)], or null (symmetric: 2^(bits-1)). */
  zeroPoints: GPUBuffer | null;
  bits: 4 | 8;
  blockSize: number;
  blocksPerRow: number;
}

/** Modes of matvec-quant.wgsl (see its header); numbered as its MODE constant. */
export type QuantMatvecMode = 'normed' | 'residual' | 'gated';
const QUANT_MODE: Record<QuantMatvecMode, number> = { normed: 0, residual: 1, gated: 2 };

export interface QuantMatvecIO {
  x: GPUBuffer;
  /** RMSNorm weight (normed). */
  norm?: GPUBuffer;
  /** The up projection (gated: the input is silu(x) * x2). */
  x2?: GPUBuffer;
  a: MatrixBuffer;
  bias?: GPUBuffer | null;
  out: GPUBuffer;
}

export interface MatvecIO {
  /** The input vector [in] (normed entries: the residual stream before RMSNorm). */
  x: GPUBuffer;
  /** RMSNorm weight [in] (normed entries). */
  norm?: GPUBuffer;
  a: MatrixBuffer;
  /** Second matrix, same shape as `a` (normedPair, normedGated). */
  b?: MatrixBuffer;
  biasA?: GPUBuffer | null;
  biasB?: GPUBuffer | null;
  /** [out]; for `residual`, the residual stream that the product is added to. */
  outA: GPUBuffer;
  /** [out] (normedPair). */
  outB?: GPUBuffer;
}

/** The bindings each matvec entry point declares (matvec.wgsl's layout). */
const MATVEC_BINDINGS: Record<MatvecEntry, number[]> = {
  normed: [0, 1, 2, 4, 6],
  normedPair: [0, 1, 2, 3, 4, 5, 6, 7],
  normedGated: [0, 1, 2, 3, 4, 5, 6],
  residual: [0, 2, 4, 6],
};

/** A 1-D grid of `n` workgroups, folded into two dimensions past the per-dimension limit. */
function grid(n: number, limit: number): [number, number] {
  const x = Math.min(n, limit);
  return [x, Math.ceil(n / x)];
}

export interface DecodeKernelOptions {
  /** Workgroup shapes (default: the GPU variant); GpuModel picks them by adapter with decodeVariantFor. */
  variant?: DecodeKernelVariant;
  /** Workgroups per grid dimension (default: the device's limit; a test folds smaller grids). */
  maxWorkgroupsPerDimension?: number;
}

export function encodeDispatch(pass: GPUComputePassEncoder, d: Dispatch): void {
  pass.setPipeline(d.pipeline);
  pass.setBindGroup(0, d.bindGroup);
  pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1]);
}

export class DecodeKernels {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly modules = new Map<string, GPUShaderModule>();
  /** Bound where a matvec has no bias: never read (HAS_BIAS_* false), but the binding must exist. */
  private readonly placeholder: GPUBuffer;

  /** Workgroups per grid dimension: the device's limit (65535 by default; a test folds smaller grids). */
  private readonly maxWorkgroupsPerDimension: number;
  /** The workgroup shapes for this adapter (engine/decode/variants.ts). */
  readonly variant: DecodeKernelVariant;

  constructor(private readonly device: GPUDevice, private readonly rmsNormEps: number, opts: DecodeKernelOptions = {}) {
    this.maxWorkgroupsPerDimension = opts.maxWorkgroupsPerDimension ?? device.limits.maxComputeWorkgroupsPerDimension;
    this.variant = opts.variant ?? GPU_VARIANT;
    this.placeholder = device.createBuffer({ label: 'decode no-bias placeholder', size: 16, usage: GPUBufferUsage.STORAGE });
  }

  /** A matvec of `entry` over `io`; out/in come from `io.a`'s shape. */
  matvec(label: string, entry: MatvecEntry, io: MatvecIO): Dispatch {
    const [out, inFeatures] = io.a.shape;
    if (io.b && (io.b.shape[0] !== out || io.b.shape[1] !== inFeatures)) {
      throw new Error(`internal: ${label}: paired matrices differ, [${io.a.shape}] and [${io.b.shape}]`);
    }
    const { workgroupSize, threadsPerRow } = this.variant.matvec;
    const workgroups = grid(Math.ceil(out / (workgroupSize / threadsPerRow)), this.maxWorkgroupsPerDimension);
    const pipeline = this.pipeline(matvecSource, entry, {
      WG: workgroupSize, TPR: threadsPerRow, IN: inFeatures, OUT: out, EPS: this.rmsNormEps,
      HAS_BIAS_A: io.biasA ? 1 : 0, HAS_BIAS_B: io.biasB ? 1 : 0, WORKGROUPS_X: workgroups[0],
    });
    const resources: (GPUBuffer | undefined)[] = [
      io.x, io.norm, io.a.buffer, io.b?.buffer, io.biasA ?? this.placeholder, io.biasB ?? this.placeholder, io.outA, io.outB,
    ];
    const entries = MATVEC_BINDINGS[entry].map((binding) => {
      const buffer = resources[binding];
      if (!buffer) throw new Error(`internal: ${label} (${entry}) has no buffer for binding ${binding}`);
      return { binding, resource: { buffer } };
    });
    const bindGroup = this.device.createBindGroup({ label: `decode ${label}`, layout: pipeline.getBindGroupLayout(0), entries });
    return { label, pipeline, bindGroup, workgroups };
  }

  /** A matvec over a block-quantized matrix (`io.a.quantized`); see matvec-quant.wgsl for the modes. */
  quantMatvec(label: string, mode: QuantMatvecMode, io: QuantMatvecIO): Dispatch {
    const q = io.a.quantized;
    if (!q) throw new Error(`internal: ${label}: quantMatvec needs a quantized matrix`);
    const [out, inFeatures] = io.a.shape;
    if ((q.blockSize * q.bits) % 32 !== 0) throw new Error(`internal: ${label}: a block of ${q.blockSize} x ${q.bits} bits is not whole 32-bit words`);
    if (mode === 'normed' && !io.norm) throw new Error(`internal: ${label}: normed needs a norm weight`);
    if (mode === 'gated' && !io.x2) throw new Error(`internal: ${label}: gated needs x2`);
    const { workgroupSize, threadsPerRow } = this.variant.quantMatvec;
    const workgroups = grid(Math.ceil(out / (workgroupSize / threadsPerRow)), this.maxWorkgroupsPerDimension);
    const pipeline = this.pipeline(matvecQuantSource, 'main', {
      WG: workgroupSize, TPR: threadsPerRow, IN: inFeatures, OUT: out, BLOCKS: q.blocksPerRow, BLOCK: q.blockSize, BITS: q.bits, MODE: QUANT_MODE[mode], EPS: this.rmsNormEps,
      HAS_ZP: q.zeroPoints ? 1 : 0, HAS_BIAS: io.bias ? 1 : 0, WORKGROUPS_X: workgroups[0],
    });
    const p = this.placeholder;
    const buffers = [io.x, io.norm ?? p, io.a.buffer, q.scales, q.zeroPoints ?? p, io.bias ?? p, io.out, io.x2 ?? p];
    const bindGroup = this.device.createBindGroup({
      label: `decode ${label}`, layout: pipeline.getBindGroupLayout(0), entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    return { label, pipeline, bindGroup, workgroups };
  }

  /**
   * hidden[t] = table[ids[t]] for t < tokens: the embedding rows of the ids in `id` (u32, or non-negative i32).
   * A quantized table is dequantized on the way (embed-quant.wgsl).
   */
  embed(id: GPUBuffer, table: MatrixBuffer, hidden: GPUBuffer, tokens = 1): Dispatch {
    const width = table.shape[1];
    const q = table.quantized;
    if (q) {
      const pipeline = this.pipeline(embedQuantSource, 'embed', { HIDDEN: width, BLOCKS: q.blocksPerRow, BLOCK: q.blockSize, BITS: q.bits, HAS_ZP: q.zeroPoints ? 1 : 0 });
      const buffers = [id, table.buffer, q.scales, q.zeroPoints ?? this.placeholder, hidden];
      const bindGroup = this.device.createBindGroup({
        label: 'decode embed (quantized)', layout: pipeline.getBindGroupLayout(0), entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
      });
      return { label: 'embed', pipeline, bindGroup, workgroups: [Math.ceil(width / EMBED_WORKGROUP_SIZE), tokens] };
    }
    const pipeline = this.pipeline(embedSource, 'embed', { HIDDEN: width });
    const bindGroup = this.device.createBindGroup({
      label: 'decode embed',
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: id } },
        { binding: 1, resource: { buffer: table.buffer } },
        { binding: 2, resource: { buffer: hidden } },
      ],
    });
    return { label: 'embed', pipeline, bindGroup, workgroups: [Math.ceil(width / EMBED_WORKGROUP_SIZE), tokens] };
  }

  /** choice[0] = argmax(logits[0..vocab)) (ties to the lower id), choice[1] = 1 when a logit is NaN or infinite. */
  argmax(logits: GPUBuffer, choice: GPUBuffer, vocab: number): Dispatch {
    const pipeline = this.pipeline(argmaxSource, 'argmax', { VOCAB: vocab, WG: this.variant.argmaxWorkgroupSize });
    const bindGroup = this.device.createBindGroup({
      label: 'decode argmax', layout: pipeline.getBindGroupLayout(0),
      entries: [logits, choice].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    return { label: 'argmax', pipeline, bindGroup, workgroups: [1, 1] };
  }

  /** Per-head RMSNorm of q [tokens][numHeads * headDim] and k [tokens][numKvHeads * headDim], in place. */
  headNorm(label: string, shape: { numHeads: number; numKvHeads: number; headDim: number }, q: GPUBuffer, k: GPUBuffer, qNorm: GPUBuffer, kNorm: GPUBuffer, tokens = 1): Dispatch {
    const pipeline = this.pipeline(headNormSource, 'headNorm', { D: shape.headDim, NUM_HEADS: shape.numHeads, EPS: this.rmsNormEps });
    const bindGroup = this.device.createBindGroup({
      label: `decode ${label}`,
      layout: pipeline.getBindGroupLayout(0),
      entries: [q, k, qNorm, kNorm].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    return { label, pipeline, bindGroup, workgroups: [shape.numHeads + shape.numKvHeads, tokens] };
  }

  destroy(): void {
    this.placeholder.destroy();
  }

  private pipeline(source: string, entryPoint: string, constants: Record<string, number>): GPUComputePipeline {
    let module = this.modules.get(source);
    if (!module) {
      module = this.device.createShaderModule({ label: `decode-${entryPoint}`, code: source });
      this.modules.set(source, module);
    }
    // Two sources share entry point names (embed): the key names the module by its index.
    const key = `${[...this.modules.keys()].indexOf(source)}:${entryPoint}:${JSON.stringify(constants)}`;
    let p = this.pipelines.get(key);
    if (!p) {
      p = this.device.createComputePipeline({ label: `decode-${entryPoint}`, layout: 'auto', compute: { module, entryPoint, constants } });
      this.pipelines.set(key, p);
    }
    return p;
  }
}
