// The decode kernels as recorded dispatches: pipelines (cached per shape) and bind groups made once, replayed each step.
import { InvalidArgumentError } from '../errors/index.ts';
import { withDeferredGpuErrorScopes } from '../gpu/index.ts';
import type { QuantizationMode } from '../quant/index.ts';
import { EMBED_WORKGROUP_SIZE } from './constants.ts';
import { GPU_VARIANT, matvecShapeFor, type DecodeKernelVariant, type MatvecShape } from './variants.ts';
import argmaxSource from './argmax.wgsl?raw';
import embedSource from './embed.wgsl?raw';
import embedQuantRaw from './embed-quant.wgsl?raw';
import headNormSource from './head-norm.wgsl?raw';
import matvecDense from './matvec-dense.wgsl?raw';
import matvecF16 from './matvec-f16.wgsl?raw';
import matvecInt4 from './matvec-int4.wgsl?raw';
import matvecInt8 from './matvec-int8.wgsl?raw';
import matvecSegments1 from './matvec-segments-1.wgsl?raw';
import matvecSegments2 from './matvec-segments-2.wgsl?raw';
import matvecSegments3 from './matvec-segments-3.wgsl?raw';
import matvecRaw from './matvec.wgsl?raw';
import matvecReduceEnableSubgroup from './matvec-reduce-enable-subgroup.wgsl?raw';
import matvecReduceEnableWorkgroup from './matvec-reduce-enable-workgroup.wgsl?raw';
import matvecReduceSubgroup from './matvec-reduce-subgroup.wgsl?raw';
import matvecReduceWorkgroup from './matvec-reduce-workgroup.wgsl?raw';
import { linkWgsl, WGSL_LIBRARY } from '../wgsl/index.ts';

// The quantized gather dequantizes through engine/wgsl's block-quant library; the plain one reads f32 or f16 tables
// (its HALF override).
const embedQuantSource = linkWgsl(embedQuantRaw);

/**
 * Weights per unit of the f16 matvec (matvec-f16.wgsl): one 16-byte load, as the int formats' units. An f16 matrix's
 * width must be a multiple of it (engine/runtime's writer keeps other matrices f32).
 */
export const F16_UNIT = 8;

/** matvec.wgsl's MAX_RPT (8 partial sums a thread) over gated's 2 per row. */
const GATED_MAX_ROWS_PER_THREAD = 4;

/** How matvec.wgsl's lanes meet: a workgroup-shared tree (any adapter) or subgroup shuffles. */
export type MatvecReduce = 'workgroup' | 'subgroup';

/**
 * matvec.wgsl linked for one weight format, segment count and reduction: the format file, the segment dispatcher
 * and the reduction are the kernel's `//#include weight-format`, `matvec-segments` and `matvec-reduce` (with its
 * `matvec-reduce-enable`). Exported so a test can print the joined text the GPU compiles.
 */
export function matvecSource(format: QuantizationMode, segments: 1 | 2 | 3, reduce: MatvecReduce = 'workgroup'): string {
  const key = `${format}:${segments}:${reduce}`;
  const known = linkedMatvec.get(key);
  if (known) return known;
  const weightFormat = { f32: matvecDense, f16: matvecF16, int8: matvecInt8, int4: matvecInt4 }[format];
  const source = linkWgsl(matvecRaw, {
    ...WGSL_LIBRARY,
    'weight-format': weightFormat,
    'matvec-segments': [matvecSegments1, matvecSegments2, matvecSegments3][segments - 1],
    'matvec-reduce': reduce === 'subgroup' ? matvecReduceSubgroup : matvecReduceWorkgroup,
    'matvec-reduce-enable': reduce === 'subgroup' ? matvecReduceEnableSubgroup : matvecReduceEnableWorkgroup,
  });
  linkedMatvec.set(key, source);
  return source;
}
const linkedMatvec = new Map<string, string>();

/** One dispatch with everything bound; `encodeDispatch` replays it into a pass. */
export interface Dispatch {
  label: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: [number, number];
}

/** Entry points of matvec.wgsl (see its header for the math of each). */
export type MatvecMode = 'normed' | 'residual' | 'gated';

/**
 * A weight matrix [out, in]: f32 row-major, f16 row-major as packed pairs when `f16` is set, or block-quantized
 * (MatMulNBits' layout) when `quantized` is set.
 */
export interface MatrixBuffer {
  /** f32 values, f16 pairs (engine/quant/f16.ts: element 2i in the low half of word i), or the quantized codes [out][blocks][blockSize * bits / 8]. */
  buffer: GPUBuffer;
  shape: number[];
  quantized?: QuantizedMatrixBuffers;
  /** Values stored as f16 (quantization 'f16'), read with core WGSL's unpack2x16float: no shader-f16 needed. */
  f16?: boolean;
}

/** The other parts of a block-quantized matrix (engine/quant). */
export interface QuantizedMatrixBuffers {
  /**
   * f32 per block: [out * blocksPerRow] scales, or with `mins` [out * blocksPerRow][2] (scale, min) pairs. The min
   * shares the scale's buffer, not a buffer of its own, so a fused q/k/v matvec still binds 4 + 3 x 2 = 10 storage
   * buffers (the limit most adapters give; a third buffer per matrix would split it into two dispatches per layer),
   * and a block's scale and min come in one 8-byte read.
   */
  scales: GPUBuffer;
  /** Whether blocks carry an f32 min: w = scale * code - min; else w = (code - 2^(bits-1)) * scale. */
  mins: boolean;
  bits: 4 | 8;
  blockSize: number;
  blocksPerRow: number;
}

export interface MatvecIO {
  /** The input vector [in] (normed, gated: the residual stream before RMSNorm). */
  x: GPUBuffer;
  /** RMSNorm weight [in] (normed, gated). */
  norm?: GPUBuffer;
  /**
   * normed: 1 to 3 matrices of one format and width stacked along the output (q, k, v); residual: 1; gated: gate
   * and up, same shape.
   */
  matrices: MatrixBuffer[];
  /** normed: where each matrix's rows start in `out` (elements; default: one after the other). */
  outOffsets?: number[];
  /** Laid out as `out` (normed: matrix i's bias at outOffsets[i]; residual: [rows]; gated: [gate; up]), or null. */
  bias?: GPUBuffer | null;
  /** [out]; for `residual`, the residual stream that the product is added to. */
  out: GPUBuffer;
}

/** Storage buffers a matvec entry binds: x, norm, bias, out and each matrix's (f32/f16: values; int: codes, scales). */
export function matvecStorageBuffers(matrices: number, quantized: boolean): number {
  return 4 + matrices * (quantized ? 2 : 1);
}

/** The weight format of a matrix buffer. */
export function weightFormatOf(m: MatrixBuffer): QuantizationMode {
  if (m.quantized) return m.quantized.bits === 4 ? 'int4' : 'int8';
  return m.f16 ? 'f16' : 'f32';
}

/**
 * What a matvec kernel is specialised for: the weight format with, for blocks, their size and whether they carry
 * mins ('f32', 'int4/32+min', 'int8/16', ...). Matrices fused in one dispatch must share it.
 */
export function matvecLayoutOf(m: MatrixBuffer): string {
  const q = m.quantized;
  return q ? `int${q.bits}/${q.blockSize}${q.mins ? '+min' : ''}` : weightFormatOf(m);
}

/** Codes of one matvec unit (one 16-byte load): 32 int4 or 16 int8. */
function quantUnit(bits: 4 | 8): number {
  return bits === 4 ? 32 : 16;
}

/**
 * The u32 words of a unit a lane of `v` reads at once in `format` (matvec.wgsl LANE_WORDS): what the shape asks, widened
 * to what the format can split (f32: a unit is one vec4<f32>, read whole; f16: 2 words, a vec4 of input, at least).
 */
export function laneWordsFor(v: MatvecShape, format: QuantizationMode): 1 | 2 | 4 {
  const asked = v.laneWords ?? 4;
  if (format === 'f32') return 4;
  if (format === 'f16') return asked === 1 ? 2 : asked;
  return asked;
}

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
  /** Storage buffers per kernel (default: the device's limit; a test takes WebGPU's default 8 to check the fallback). */
  maxStorageBuffersPerShaderStage?: number;
  /** The adapter's smallest subgroup, where the device does not report its adapterInfo (subgroup reductions need it). */
  subgroupMinSize?: number;
}

export function encodeDispatch(pass: GPUComputePassEncoder, d: Dispatch): void {
  pass.setPipeline(d.pipeline);
  pass.setBindGroup(0, d.bindGroup);
  pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1]);
}

export class DecodeKernels {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly modules = new Map<string, { id: number; module: GPUShaderModule }>();
  private nextModuleId = 0;
  /** Bound where a matvec has no bias: never read (HAS_BIAS_* false), but the binding must exist. */
  private readonly placeholder: GPUBuffer;

  /** Workgroups per grid dimension: the device's limit (65535 by default; a test folds smaller grids). */
  private readonly maxWorkgroupsPerDimension: number;
  /** The workgroup shapes for this adapter (engine/decode/variants.ts). */
  readonly variant: DecodeKernelVariant;
  /** Storage buffers one kernel may bind (the device's limit; a test lowers it to WebGPU's default 8). */
  readonly maxStorageBuffers: number;
  private readonly subgroupMinSize: number | undefined;

  constructor(private readonly device: GPUDevice, private readonly rmsNormEps: number, opts: DecodeKernelOptions = {}) {
    this.maxWorkgroupsPerDimension = opts.maxWorkgroupsPerDimension ?? device.limits.maxComputeWorkgroupsPerDimension;
    this.variant = opts.variant ?? GPU_VARIANT;
    this.maxStorageBuffers = opts.maxStorageBuffersPerShaderStage ?? device.limits.maxStorageBuffersPerShaderStage;
    this.subgroupMinSize = opts.subgroupMinSize;
    this.placeholder = device.createBuffer({ label: 'decode no-bias placeholder', size: 16, usage: GPUBufferUsage.STORAGE });
  }

  /** A matvec (matvec.wgsl) of `mode` over `io`; out/in come from the matrices' shapes. */
  matvec(label: string, mode: MatvecMode, io: MatvecIO): Dispatch {
    const ms = io.matrices;
    if (ms.length < 1 || ms.length > 3 || (mode === 'residual' && ms.length !== 1) || (mode === 'gated' && ms.length !== 2)) {
      throw new Error(`internal: ${label}: ${mode} takes ${mode === 'normed' ? '1 to 3' : mode === 'gated' ? '2' : '1'} matrices, got ${ms.length}`);
    }
    if (mode !== 'residual' && !io.norm) throw new Error(`internal: ${label}: ${mode} needs a norm weight`);
    const format = weightFormatOf(ms[0]);
    const inFeatures = ms[0].shape[1];
    const layout = matvecLayoutOf(ms[0]);
    for (const m of ms) {
      if (m.shape[1] !== inFeatures) throw new Error(`internal: ${label}: fused matrices differ in width`);
      // A file may store fused matrices differently (a GGUF's Q4_K gate with a Q6_K up): one kernel reads one layout.
      if (matvecLayoutOf(m) !== layout) {
        throw new InvalidArgumentError('weights', `${label}: fused matrices are stored as ${ms.map(matvecLayoutOf).join(' and ')}; the WGSL decoder runs them in one kernel, which reads one layout. Use a file that stores them alike`);
      }
      // A unit (int4: 32 codes, int8: 16) lies in one block.
      const q = m.quantized;
      if (q && q.blockSize % quantUnit(q.bits) !== 0) {
        throw new InvalidArgumentError('weights', `${label}: the WGSL decoder reads int${q.bits} blocks of a multiple of ${quantUnit(q.bits)} codes, got blocks of ${q.blockSize}`);
      }
    }
    if (mode === 'gated' && ms[1].shape[0] !== ms[0].shape[0]) throw new Error(`internal: ${label}: gate and up differ in rows`);
    if (format === 'f32' && inFeatures % 4 !== 0) {
      throw new InvalidArgumentError('weights', `${label}: the WGSL decoder reads f32 rows as vec4s; width ${inFeatures} is not a multiple of 4`);
    }
    if (format === 'f16' && inFeatures % F16_UNIT !== 0) {
      throw new InvalidArgumentError('weights', `${label}: the WGSL decoder reads f16 rows ${F16_UNIT} values at a time; width ${inFeatures} is not a multiple of ${F16_UNIT} (load with quantization 'f32')`);
    }
    const quantized = !!ms[0].quantized;
    const storage = matvecStorageBuffers(ms.length, quantized);
    if (storage > this.maxStorageBuffers) throw new Error(`internal: ${label} needs ${storage} storage buffers, the device allows ${this.maxStorageBuffers}`);
    const rows = ms.map((m) => m.shape[0]);
    const pickRows = mode === 'gated' ? rows[0] : rows.reduce((a, b) => a + b, 0);
    const measured = this.variant.matvecPicks.find((p) => p.format === format && p.mode === mode && p.rows === pickRows && p.in === inFeatures);
    const asked = measured?.shape ?? (format === 'int4' ? this.variant.int4Matvec : quantized ? this.variant.quantMatvec : this.variant.matvec);
    // gated keeps 2 partial sums per row in matvec.wgsl's 8 slots: at most 4 rows a thread.
    const fits = mode === 'gated' && asked.rowsPerThread > GATED_MAX_ROWS_PER_THREAD ? { ...asked, rowsPerThread: GATED_MAX_ROWS_PER_THREAD } : asked;
    const v = matvecShapeFor(fits, mode === 'gated' ? rows[0] : rows.reduce((a, b) => a + b, 0));
    const rowsPerWorkgroup = (v.workgroupSize / v.threadsPerRow) * v.rowsPerThread;
    const segmentRows = mode === 'gated' ? [rows[0]] : rows;
    const total = segmentRows.reduce((n, r) => n + Math.ceil(r / rowsPerWorkgroup), 0);
    const workgroups = grid(total, this.maxWorkgroupsPerDimension);
    const offsets = io.outOffsets ?? rows.map((_, i) => rows.slice(0, i).reduce((a, b) => a + b, 0));
    const q = ms[0].quantized;
    const unitsPerRow = q ? q.blocksPerRow * (q.blockSize / quantUnit(q.bits)) : format === 'f16' ? inFeatures / F16_UNIT : inFeatures / 4;
    const segments = (mode === 'normed' ? ms.length : 1) as 1 | 2 | 3;
    const reduce = this.reduceFor(v);
    const laneWords = laneWordsFor(v, format);
    const stage = this.stagingFor(v, format, unitsPerRow, reduce);
    const pipeline = this.pipeline(matvecSource(format, segments, reduce), mode, {
      ...(quantized ? { UNPACK_EXPONENT: v.exponentUnpack ? 1 : 0 } : {}),
      ...(stage ? { STAGE_INPUT: 1, STAGE_STRIDE: stage.stride, STAGED_VEC4S: stage.vec4s } : {}),
      ...(laneWords !== 4 ? { LANE_WORDS: laneWords } : {}),
      WG: v.workgroupSize, TPR: v.threadsPerRow, RPT: v.rowsPerThread, IN: inFeatures, UNITS_PER_ROW: unitsPerRow, EPS: this.rmsNormEps,
      HAS_BIAS: io.bias ? 1 : 0, WORKGROUPS_X: workgroups[0],
      ROWS0: rows[0], OUT_AT0: mode === 'normed' ? offsets[0] : 0, ROWS1: segments > 1 ? rows[1] : 0, ROWS2: segments > 2 ? rows[2] : 0,
      OUT_AT1: segments > 1 ? offsets[1] : 0, OUT_AT2: segments > 2 ? offsets[2] : 0,
      ...(q ? { UNITS_PER_BLOCK: q.blockSize / quantUnit(q.bits), HAS_MIN: q.mins ? 1 : 0 } : {}),
    });
    // residual never reads the norm, but shares its loop (and so the binding) with normed.
    const resources: GPUBuffer[] = [io.x, io.norm ?? this.placeholder, io.bias ?? this.placeholder, io.out];
    const bindings = [0, 1, 2, 3];
    ms.forEach((m, i) => {
      if (m.quantized) {
        resources.push(m.buffer, m.quantized.scales);
        bindings.push(4 + 2 * i, 5 + 2 * i);
      } else {
        resources.push(m.buffer);
        bindings.push(4 + i);
      }
    });
    const bindGroup = this.bindGroup(`decode ${label}`, pipeline, resources.map((buffer, i) => ({ binding: bindings[i], resource: { buffer } })));
    return { label, pipeline, bindGroup, workgroups };
  }

  /**
   * The input staging of a matvec (matvec.wgsl stageInput), where the shape asks for it and the staged input, with
   * the reduction's own workgroup memory, fits the device's workgroup storage; else null (read from global memory).
   */
  stagingFor(v: MatvecShape, format: QuantizationMode, unitsPerRow: number, reduce: MatvecReduce): { stride: number; vec4s: number } | null {
    if (!v.stageInput) return null;
    const unitVec4s = { f32: 1, f16: 2, int8: 4, int4: 8 }[format];
    // Odd strides: 8 lanes' 16-byte reads of consecutive units hit distinct bank quads.
    const stride = unitVec4s % 2 === 0 ? unitVec4s + 1 : unitVec4s;
    const vec4s = unitsPerRow * stride;
    const tree = reduce === 'workgroup' ? v.workgroupSize * (2 * v.rowsPerThread + 1) * 4 : 0;
    const bytes = vec4s * 16 + v.workgroupSize * 4 + tree;
    return bytes <= this.device.limits.maxComputeWorkgroupStorageSize ? { stride, vec4s } : null;
  }

  /**
   * The reduction a matvec of shape `v` gets on this device: subgroup shuffles where the shape asks for them, the
   * device has 'subgroups' and its smallest subgroup holds a row group's lanes (matvec-reduce-subgroup.wgsl's
   * premise); otherwise the workgroup tree. Public so the sweep can report what actually ran.
   */
  reduceFor(v: MatvecShape): MatvecReduce {
    if (!v.subgroups || v.threadsPerRow <= 1 || !this.device.features.has('subgroups')) return 'workgroup';
    const minSize = (this.device as GPUDevice & { adapterInfo?: { subgroupMinSize?: number } }).adapterInfo?.subgroupMinSize ?? this.subgroupMinSize;
    return minSize !== undefined && minSize >= v.threadsPerRow ? 'subgroup' : 'workgroup';
  }

  /**
   * hidden[t] = table[ids[t]] for t < tokens: the embedding rows of the ids in `id` (u32, or non-negative i32).
   * A quantized table is dequantized on the way (embed-quant.wgsl).
   */
  embed(id: GPUBuffer, table: MatrixBuffer, hidden: GPUBuffer, tokens = 1): Dispatch {
    const width = table.shape[1];
    const q = table.quantized;
    if (q) {
      const pipeline = this.pipeline(embedQuantSource, 'embed', { HIDDEN: width, BLOCKS: q.blocksPerRow, BLOCK: q.blockSize, BITS: q.bits, HAS_MIN: q.mins ? 1 : 0 });
      const buffers = [id, table.buffer, q.scales, hidden];
      const bindGroup = this.bindGroup('decode embed (quantized)', pipeline, buffers.map((buffer, binding) => ({ binding, resource: { buffer } })));
      return { label: 'embed', pipeline, bindGroup, workgroups: [Math.ceil(width / EMBED_WORKGROUP_SIZE), tokens] };
    }
    if (table.f16 && width % 2 !== 0) throw new InvalidArgumentError('weights', `embedding width ${width} is odd: f16 rows must be whole pairs`);
    const pipeline = this.pipeline(embedSource, 'embed', { HIDDEN: width, HALF: table.f16 ? 1 : 0 });
    const bindGroup = this.bindGroup('decode embed', pipeline, [id, table.buffer, hidden].map((buffer, binding) => ({ binding, resource: { buffer } })));
    return { label: 'embed', pipeline, bindGroup, workgroups: [Math.ceil(width / EMBED_WORKGROUP_SIZE), tokens] };
  }

  /** choice[0] = argmax(logits[0..vocab)) (ties to the lower id), choice[1] = 1 when a logit is NaN or infinite. */
  argmax(logits: GPUBuffer, choice: GPUBuffer, vocab: number): Dispatch {
    const pipeline = this.pipeline(argmaxSource, 'argmax', { VOCAB: vocab, WG: this.variant.argmaxWorkgroupSize });
    const bindGroup = this.bindGroup('decode argmax', pipeline, [logits, choice].map((buffer, binding) => ({ binding, resource: { buffer } })));
    return { label: 'argmax', pipeline, bindGroup, workgroups: [1, 1] };
  }

  /** Per-head RMSNorm of q [tokens][numHeads * headDim] and k [tokens][numKvHeads * headDim], in place. */
  headNorm(label: string, shape: { numHeads: number; numKvHeads: number; headDim: number }, q: GPUBuffer, k: GPUBuffer, qNorm: GPUBuffer, kNorm: GPUBuffer, tokens = 1): Dispatch {
    const pipeline = this.pipeline(headNormSource, 'headNorm', { D: shape.headDim, NUM_HEADS: shape.numHeads, EPS: this.rmsNormEps });
    const bindGroup = this.bindGroup(`decode ${label}`, pipeline, [q, k, qNorm, kNorm].map((buffer, binding) => ({ binding, resource: { buffer } })));
    return { label, pipeline, bindGroup, workgroups: [shape.numHeads + shape.numKvHeads, tokens] };
  }

  destroy(): void {
    this.placeholder.destroy();
  }

  /** A bind group of `pipeline`'s group 0, in the GPU's error scopes as the pipeline (a refused pipeline's layout is too). */
  private bindGroup(label: string, pipeline: GPUComputePipeline, entries: GPUBindGroupEntry[]): GPUBindGroup {
    return withDeferredGpuErrorScopes(this.device, `the ${label} bind group`, () => this.device.createBindGroup({ label, layout: pipeline.getBindGroupLayout(0), entries }), { bytes: 0 });
  }

  /**
   * A pipeline of `source` (cached per module, entry point and constants), made on first ask: while a decoder or a
   * prefill is built, or by a bench between steps. Made inside the GPU's error scopes (engine/gpu
   * withDeferredGpuErrorScopes): a module or pipeline the device refuses is a typed error at the next readback's
   * checkGpuErrors instead of an invalid pipeline that fails every later step, and it leaves the caches, so the next
   * ask makes it again.
   */
  private pipeline(source: string, entryPoint: string, constants: Record<string, number>): GPUComputePipeline {
    const known = this.modules.get(source);
    // Two sources share entry point names (embed): the key names the module by its number.
    const id = known?.id ?? this.nextModuleId++;
    const key = `${id}:${entryPoint}:${JSON.stringify(constants)}`;
    const cached = this.pipelines.get(key);
    if (cached) return cached;
    return withDeferredGpuErrorScopes(this.device, `the decode ${entryPoint} kernel`, () => {
      let module = known;
      if (!module) {
        module = { id, module: this.device.createShaderModule({ label: `decode-${entryPoint}`, code: source }) };
        this.modules.set(source, module);
      }
      const p = this.device.createComputePipeline({ label: `decode-${entryPoint}`, layout: 'auto', compute: { module: module.module, entryPoint, constants } });
      this.pipelines.set(key, p);
      return p;
    }, {
      bytes: 0,
      release: () => {
        this.pipelines.delete(key);
        if (!known) this.modules.delete(source);
      },
    });
  }

}
