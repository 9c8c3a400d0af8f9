// The GPU sampler (sampler.wgsl): one dispatch that turns a step's logits into the next id, over buffers made once
// with the decoder; a request's parameters, logit bias and penalty history are written once when its stream starts.
import { samplingSeed, seedKey, type DeviceSampling } from '../generation/index.ts';
import type { Dispatch } from './kernels.ts';
import samplerSource from './sampler.wgsl?raw';

/** sampler.wgsl's Params: 12 words. */
const PARAMS_BYTES = 48;
const SEEN = 0x80000000;
const FLAG = { sample: 1, penalties: 2, bias: 4, minP: 8 } as const;

export class GpuSampler {
  /** The dispatch, encoded after the lm_head into the same pass (it reads the logits, writes the decoder's id buffer). */
  readonly dispatch: Dispatch;
  private readonly params: GPUBuffer;
  private readonly history: GPUBuffer;
  private readonly bias: GPUBuffer;
  private readonly paramData = new ArrayBuffer(PARAMS_BYTES);
  private readonly historyData: Uint32Array<ArrayBuffer>;
  private readonly biasData: Float32Array<ArrayBuffer>;
  private readonly stepData = new Uint32Array(1);

  constructor(
    private readonly device: GPUDevice,
    /** [vocab] f32 (STORAGE): the step's logits, left holding the processed values. */
    logits: GPUBuffer,
    /** u32 [4] (STORAGE | COPY_DST): the decoder's id buffer (see sampler.wgsl's layout). */
    private readonly choice: GPUBuffer,
    readonly vocab: number,
    workgroupSize: number,
  ) {
    const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
    this.params = device.createBuffer({ label: 'sampler params', size: PARAMS_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.history = device.createBuffer({ label: 'sampler history', size: Math.max(16, vocab * 4), usage: storage });
    this.bias = device.createBuffer({ label: 'sampler bias', size: Math.max(16, vocab * 4), usage: storage });
    this.historyData = new Uint32Array(vocab);
    this.biasData = new Float32Array(vocab);
    const pipeline = device.createComputePipeline({
      label: 'decode sampler', layout: 'auto',
      compute: { module: device.createShaderModule({ label: 'sampler', code: samplerSource }), entryPoint: 'sample', constants: { VOCAB: vocab, WG: workgroupSize } },
    });
    const bindGroup = device.createBindGroup({
      label: 'decode sampler', layout: pipeline.getBindGroupLayout(0),
      entries: [logits, this.params, this.history, this.bias, choice].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    this.dispatch = { label: 'sampler', pipeline, bindGroup, workgroups: [1, 1] };
  }

  /**
   * Sets the request whose ids the next dispatches choose: its parameters, bias and penalty history (queue writes, so
   * they land before the next submitted step), and the step counter of the noise: the number of ids generated so far.
   */
  begin(s: DeviceSampling): void {
    const p = s.params;
    const penalties = p.repetitionPenalty !== 1 || p.presencePenalty !== 0 || p.frequencyPenalty !== 0;
    const flags = (p.temperature > 0 ? FLAG.sample : 0) | (penalties ? FLAG.penalties : 0) | (p.logitBias.size > 0 ? FLAG.bias : 0) | (p.minP > 0 ? FLAG.minP : 0);
    const words = new Uint32Array(this.paramData, 0, 4);
    words.set([flags, p.topK, seedKey(samplingSeed(s.seed)), 0]);
    // Rounded to f32 as the CPU processors round them (engine/generation/processors.ts).
    new Float32Array(this.paramData, 16, 8).set([
      p.temperature > 0 ? 1 / p.temperature : 1, p.topP, p.minP > 0 ? Math.log(p.minP) : 0,
      p.repetitionPenalty, 1 / p.repetitionPenalty, p.presencePenalty, p.frequencyPenalty, 0,
    ]);
    this.device.queue.writeBuffer(this.params, 0, this.paramData);
    if (penalties) {
      const h = this.historyData;
      h.fill(0);
      // The prompt's ids carry the SEEN bit; a generated id is seen by its count.
      for (const id of s.history.prompt) h[id] = SEEN;
      for (const [id, count] of s.history.generatedCounts) h[id] = (h[id] & SEEN) | count;
      this.device.queue.writeBuffer(this.history, 0, h);
    }
    if (p.logitBias.size > 0) {
      const b = this.biasData;
      b.fill(0);
      for (const [id, v] of p.logitBias) if (id < this.vocab) b[id] = v;
      this.device.queue.writeBuffer(this.bias, 0, b);
    }
    this.stepData[0] = s.history.generated.length;
    this.device.queue.writeBuffer(this.choice, 8, this.stepData);
  }

  destroy(): void {
    for (const b of [this.params, this.history, this.bias]) b.destroy();
  }
}
