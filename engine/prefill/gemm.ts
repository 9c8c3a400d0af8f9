// The prefill matrix products (gemm.wgsl) as recorded dispatches: pipeline and bind group made once per weight, the
// row count (the chunk's tokens) read from a uniform, so one recording serves every chunk length.
import { linkWgsl } from '../wgsl/index.ts';
import { DEFAULT_GEMM_TILE, type GemmTile, type MatrixBuffer } from '../decode/index.ts';
import gemmRaw from './gemm.wgsl?raw';

// Block dequantization comes through engine/wgsl's block-quant library.
const gemmSource = linkWgsl(gemmRaw);

/** The tiles bench/matvec-sweep.ts times (the default first); each is tested on SwiftShader (gemm.test.ts). */
export const GEMM_TILE_CANDIDATES: readonly GemmTile[] = [
  DEFAULT_GEMM_TILE,
  { rowsPerThread: 8, columnsPerThread: 8 },
  { rowsPerThread: 4, columnsPerThread: 8 },
  { rowsPerThread: 4, columnsPerThread: 4 },
];

export const gemmTileName = (t: GemmTile) => `${16 * t.rowsPerThread}x${16 * t.columnsPerThread}`;

export interface GemmIO {
  /** [M][K] f32 input rows (gated: the gate projection). */
  x: GPUBuffer;
  /** The up projection [M][K] (gated: the input is silu(x) * x2). */
  x2?: GPUBuffer;
  /** [N][K]: f32, f16 pairs, or block-quantized (engine/quant). */
  w: MatrixBuffer;
  bias?: GPUBuffer | null;
  /** [M][N] f32; with `add`, the residual stream the product is added to. */
  out: GPUBuffer;
  add?: boolean;
}

/** A recorded product or norm: encode(pass, rows) dispatches it for `rows` rows of its input. */
export interface RowDispatch {
  label: string;
  encode(pass: GPUComputePassEncoder, rows: number): void;
}

export class PrefillKernels {
  private readonly module: GPUShaderModule;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  /** Bound where a product has no bias, scales or second input: never read, but the binding must exist. */
  private readonly placeholder: GPUBuffer;

  /** `dims`: the uniform whose x is the rows of every product recorded here (the chunk's tokens), written per chunk. */
  constructor(private readonly device: GPUDevice, private readonly rmsNormEps: number, private readonly dims: GPUBuffer, readonly tile: GemmTile = DEFAULT_GEMM_TILE) {
    this.module = device.createShaderModule({ label: 'prefill-gemm', code: gemmSource });
    this.placeholder = device.createBuffer({ label: 'prefill gemm placeholder', size: 16, usage: GPUBufferUsage.STORAGE });
  }

  /** out (=|+=) x . w^T (+ bias) over the rows given at encode time. */
  gemm(label: string, io: GemmIO): RowDispatch {
    const [n, k] = io.w.shape;
    const q = io.w.quantized;
    if (q && (q.blockSize % 16 !== 0 || (q.blockSize * q.bits) % 32 !== 0)) throw new Error(`internal: ${label}: blocks of ${q.blockSize} x ${q.bits} bits do not tile by 16`);
    if (io.w.f16 && k % 2 !== 0) throw new Error(`internal: ${label}: f16 rows of odd width ${k}`);
    const pipeline = this.pipeline('gemm', {
      K: k, N: n, QUANT: q ? 1 : 0, HALF: io.w.f16 ? 1 : 0, BITS: q?.bits ?? 4, BLOCK: q?.blockSize ?? 32, BLOCKS: q?.blocksPerRow ?? 1, HAS_MIN: q?.mins ? 1 : 0,
      HAS_BIAS: io.bias ? 1 : 0, ADD: io.add ? 1 : 0, INPUT: io.x2 ? 1 : 0, TM: this.tile.rowsPerThread, TN: this.tile.columnsPerThread,
    });
    const p = this.placeholder;
    const buffers: [number, GPUBuffer][] = [[0, io.x], [1, io.x2 ?? p], [2, io.w.buffer], [3, q?.scales ?? p], [5, io.bias ?? p], [6, io.out]];
    const bindGroup = this.device.createBindGroup({
      label: `prefill ${label}`, layout: pipeline.getBindGroupLayout(0),
      entries: [...buffers.map(([binding, buffer]) => ({ binding, resource: { buffer } })), { binding: 7, resource: { buffer: this.dims } }],
    });
    const columnTiles = Math.ceil(n / (16 * this.tile.columnsPerThread));
    const tileRows = 16 * this.tile.rowsPerThread;
    return {
      label,
      encode(pass, rows) {
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bindGroup);
        pass.dispatchWorkgroups(columnTiles, Math.ceil(rows / tileRows));
      },
    };
  }

  /** out[r] = rmsnorm(x[r]) * norm for the rows given at encode time (`width` values each). */
  rmsNorm(label: string, x: GPUBuffer, norm: GPUBuffer, out: GPUBuffer, width: number): RowDispatch {
    const pipeline = this.pipeline('rmsNorm', { K: width, EPS: this.rmsNormEps });
    const bindGroup = this.device.createBindGroup({
      label: `prefill ${label}`, layout: pipeline.getBindGroupLayout(0),
      entries: [[0, x], [5, norm], [6, out]].map(([binding, buffer]) => ({ binding: binding as number, resource: { buffer: buffer as GPUBuffer } })),
    });
    return {
      label,
      encode(pass, rows) {
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bindGroup);
        pass.dispatchWorkgroups(rows);
      },
    };
  }

  destroy(): void {
    this.placeholder.destroy();
  }

  private pipeline(entryPoint: 'gemm' | 'rmsNorm', constants: Record<string, number>): GPUComputePipeline {
    const key = `${entryPoint}:${JSON.stringify(constants)}`;
    let p = this.pipelines.get(key);
    if (!p) {
      p = this.device.createComputePipeline({ label: `prefill-${entryPoint}`, layout: 'auto', compute: { module: this.module, entryPoint, constants } });
      this.pipelines.set(key, p);
    }
    return p;
  }
}
