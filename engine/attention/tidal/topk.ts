// Per-row top-k on the GPU (topk.wgsl): the selection kernel of TidalDecode and Recycled Attention, until the shared
// selector of engine/attention/select/ (contracts.md) lands; same semantics: ties to the lower index, ascending output.
import { InvalidArgumentError } from '../../errors/index.ts';
import topKSource from './topk.wgsl?raw';

/** Bytes of topk.wgsl's Params, and the stride between encodes' params (minUniformBufferOffsetAlignment). */
const PARAMS_BYTES = 32;
const PARAMS_STRIDE = 256;

export interface TopKArgs {
  scores: GPUBuffer;
  /** Floats between rows of `scores`; `scoresOffset` floats before row 0. */
  stride: number;
  scoresOffset?: number;
  rows: number;
  /** Candidates 0 .. length-1 of every row. */
  length: number;
  k: number;
  /** u32 [rows][outStride]: the chosen candidates, ascending; outLengths u32 [rows]: min(k, length). */
  out: GPUBuffer;
  outStride: number;
  outLengths: GPUBuffer;
}

export class TokenTopK {
  private readonly pipeline: GPUComputePipeline;
  private readonly params: GPUBuffer;
  private readonly groups = new Map<string, GPUBindGroup>();
  private readonly ids = new WeakMap<GPUBuffer, number>();
  private nextId = 1;

  /** `slots`: how many encodes one command buffer may hold (each has its own params). */
  constructor(readonly device: GPUDevice, readonly slots: number) {
    this.pipeline = device.createComputePipeline({
      label: 'token-top-k', layout: 'auto', compute: { module: device.createShaderModule({ label: 'token-top-k', code: topKSource }), entryPoint: 'topK' },
    });
    this.params = device.createBuffer({ label: 'token-top-k-params', size: slots * PARAMS_STRIDE, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  }

  /** Frees the params buffer; the kernel cannot encode after this. */
  destroy(): void {
    this.params.destroy();
    this.groups.clear();
  }

  /** Encodes one selection; `slot` (< slots) picks its params, so encodes of one command buffer must differ in it. */
  encode(encoder: GPUCommandEncoder, slot: number, args: TopKArgs): void {
    const { scores, stride, rows, length, k, out, outStride, outLengths } = args;
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.slots) throw new InvalidArgumentError('slot', `must be in [0, ${this.slots}), got ${slot}`);
    if (Math.min(k, length) > outStride) throw new InvalidArgumentError('outStride', `${outStride} cannot hold min(k, length) = ${Math.min(k, length)} entries`);
    if (length > stride) throw new InvalidArgumentError('length', `${length} candidates do not fit a row of ${stride}`);
    this.device.queue.writeBuffer(this.params, slot * PARAMS_STRIDE, new Uint32Array([stride, args.scoresOffset ?? 0, length, k, outStride, 0, 0, 0]), 0, PARAMS_BYTES / 4);
    const key = `${slot}:${this.id(scores)}:${this.id(out)}:${this.id(outLengths)}`;
    let group = this.groups.get(key);
    if (!group) {
      group = this.device.createBindGroup({
        label: 'token-top-k', layout: this.pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: this.params, offset: slot * PARAMS_STRIDE, size: PARAMS_BYTES } },
          { binding: 1, resource: { buffer: scores } }, { binding: 2, resource: { buffer: out } }, { binding: 3, resource: { buffer: outLengths } },
        ],
      });
      this.groups.set(key, group);
    }
    const pass = encoder.beginComputePass({ label: 'token-top-k' });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(rows);
    pass.end();
  }

  private id(buffer: GPUBuffer): number {
    let id = this.ids.get(buffer);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(buffer, id);
    }
    return id;
  }
}
