// Recycled Attention on the GPU: full steps read every token with 'probability-column-sums' and record the top-K
// per KV head; the steps between read that list plus the tokens generated since, as a {kind: 'tokens'} plan. The
// schedule is a fixed stride or, dynamic, the query cosine test decided on the GPU (recycled.wgsl: no readback).
import { InvalidArgumentError } from '../../errors/index.ts';
import { withDeferredGpuErrorScopes } from '../../gpu/index.ts';
import type { ModelConfig } from '../../model/index.ts';
import type { AttentionPlan, AttentionPolicy, AttentionSpec, AttentionStatistics, PolicyNeeds, PolicyStepContext } from '../policy.ts';
import { parseAttentionSpec } from '../spec.ts';
import { TokenTopK } from '../tidal/index.ts';
import recycledSource from './recycled.wgsl?raw';
import { recycledParams, type RecycledParams } from './reference.ts';

const WORKGROUP_SIZE = 64;
/** Bytes of recycled.wgsl's Params, and the stride between layers' params (minUniformBufferOffsetAlignment). */
const PARAMS_BYTES = 32;
const PARAMS_STRIDE = 256;
/** Query bind groups kept at most (ORT's pool cycles through a few buffers). */
const MAX_QUERY_GROUPS = 64;

/** What a decode step does at a layer, as the CPU knows it: recycle, full, or check (the GPU decides). */
export const RecycledMode = { Recycle: 0, Full: 1, Check: 2 } as const;
export type RecycledMode = (typeof RecycledMode)[keyof typeof RecycledMode];

type Kernel = 'decide' | 'compose' | 'commit';

interface RecycledState {
  device: GPUDevice;
  topK: TokenTopK;
  pipelines: Record<Kernel, GPUComputePipeline>;
  groups: GPUBindGroup[];
  queryLayout: GPUBindGroupLayout;
  queryGroups: Map<GPUBuffer, GPUBindGroup>;
  params: GPUBuffer;
  scratch: GPUBuffer;
  scratchLen: GPUBuffer;
  indices: GPUBuffer;
  lengths: GPUBuffer;
  maxList: number;
  k: number;
  q: number;
}

export class RecycledPolicy implements AttentionPolicy {
  readonly name = 'recycled';
  readonly needs: PolicyNeeds;
  /** A full or check step rewrites the recycled list and the reference query on the GPU: not undone by truncation. */
  readonly encodesAhead = false;
  private state: RecycledState | null = null;
  /** Fixed schedule: the decode step of the last full step (the same at every layer). */
  private lastFull = -1;
  private numHeads = 0;

  constructor(readonly params: RecycledParams) {
    if (!Number.isInteger(params.budget) || params.budget < 1) throw new InvalidArgumentError('attention.budget', `must be a positive integer, got ${params.budget}`);
    this.needs = {
      denseLayers: [],
      granularity: 'token',
      statistics: (_layer, phase, step) => (phase === 'decode' && this.modeOf(step) !== RecycledMode.Recycle ? 'probability-column-sums' : 'none'),
      metadata: [],
      evicts: false,
      calibration: null,
    };
  }

  checkModel(config: ModelConfig): void {
    this.numHeads = config.numHeads;
  }

  /**
   * The CPU's part of the schedule at decode step `step` (0-based): the first step is full; fixed: every `stride`
   * steps after; dynamic: steps that are multiples of checkEvery are checks (the GPU compares the queries).
   */
  modeOf(step: number): RecycledMode {
    const { stride, dynamic, checkEvery } = this.params;
    if (step === 0) return RecycledMode.Full;
    if (dynamic === 0) return step - Math.max(0, this.lastFull) >= stride ? RecycledMode.Full : RecycledMode.Recycle;
    return step % checkEvery === 0 ? RecycledMode.Check : RecycledMode.Recycle;
  }

  plan(encoder: GPUCommandEncoder, ctx: PolicyStepContext): AttentionPlan {
    const st = this.stateFor(ctx);
    if (!ctx.query) throw new InvalidArgumentError('query', 'Recycled Attention needs the step\'s query; the attention gave none');
    const mode = this.modeOf(ctx.step);
    const tokens = ctx.cache.tokensHeld(ctx.seq);
    const data = new ArrayBuffer(PARAMS_BYTES);
    new Uint32Array(data, 0, 3).set([ctx.layer, tokens, mode]);
    new Float32Array(data, 16, 1)[0] = this.params.dynamic;
    ctx.device.queue.writeBuffer(st.params, ctx.layer * PARAMS_STRIDE, data);
    const pass = encoder.beginComputePass({ label: `recycled-plan-${ctx.layer}` });
    pass.setBindGroup(0, st.groups[ctx.layer]);
    pass.setBindGroup(1, this.queryGroup(st, ctx.query));
    pass.setPipeline(st.pipelines.decide);
    pass.dispatchWorkgroups(1);
    pass.setPipeline(st.pipelines.compose);
    pass.dispatchWorkgroups(Math.max(1, Math.ceil((tokens - 1) / WORKGROUP_SIZE)), ctx.cache.numKvHeads);
    pass.end();
    return { kind: 'tokens', indices: st.indices, lengths: st.lengths, maxPerHead: st.maxList };
  }

  afterAttention(encoder: GPUCommandEncoder, ctx: PolicyStepContext, stats: AttentionStatistics): void {
    const mode = this.modeOf(ctx.step);
    if (mode === RecycledMode.Recycle) return;
    if (stats.kind !== 'probability-column-sums' || !stats.buffer) {
      throw new InvalidArgumentError('statistics', `Recycled Attention records from 'probability-column-sums' at layer ${ctx.layer}; got '${stats.kind}'`);
    }
    const st = this.stateFor(ctx);
    const tokens = ctx.cache.tokensHeld(ctx.seq);
    st.topK.encode(encoder, ctx.layer, {
      scores: stats.buffer, stride: stats.stride, rows: ctx.cache.numKvHeads, length: tokens, k: st.k, out: st.scratch, outStride: st.k, outLengths: st.scratchLen,
    });
    const pass = encoder.beginComputePass({ label: `recycled-commit-${ctx.layer}` });
    pass.setBindGroup(0, st.groups[ctx.layer]);
    pass.setBindGroup(1, this.queryGroup(st, ctx.query as GPUBuffer));
    pass.setPipeline(st.pipelines.commit);
    pass.dispatchWorkgroups(Math.ceil(Math.max(st.k, st.q) / WORKGROUP_SIZE), ctx.cache.numKvHeads);
    pass.end();
    // The fixed schedule counts from the step's full step once its last layer ran.
    if (mode === RecycledMode.Full && ctx.layer === ctx.cache.numLayers - 1) this.lastFull = ctx.step;
  }

  private queryGroup(st: RecycledState, query: GPUBuffer): GPUBindGroup {
    let group = st.queryGroups.get(query);
    if (!group) {
      if (st.queryGroups.size >= MAX_QUERY_GROUPS) st.queryGroups.clear();
      group = st.device.createBindGroup({ label: 'recycled-query', layout: st.queryLayout, entries: [{ binding: 0, resource: { buffer: query, offset: 0, size: st.q * 4 } }] });
      st.queryGroups.set(query, group);
    }
    return group;
  }

  destroy(): void {
    const st = this.state;
    if (!st) return;
    st.topK.destroy();
    for (const b of [st.params, st.scratch, st.scratchLen, st.indices, st.lengths]) b.destroy();
    this.state = null;
  }

  private stateFor(ctx: PolicyStepContext): RecycledState {
    if (this.state?.device === ctx.device) return this.state;
    // Made in the GPU's error scopes: a buffer or kernel the device refuses fails the step with a typed error
    // (engine/gpu), and the next step makes the state again.
    return withDeferredGpuErrorScopes(ctx.device, "the recycled policy's buffers and kernels", () => this.createState(ctx), {
      release: (st) => { if (this.state === st) this.destroy(); },
    });
  }

  private createState(ctx: PolicyStepContext): RecycledState {
    if (!this.numHeads) throw new InvalidArgumentError('policy', 'recycled needs the model (checkModel) before its first step: it compares whole queries');
    const { device, cache } = ctx;
    const { numLayers: L, numKvHeads: G, headDim: d, maxTokensPerSequence: maxList } = cache;
    const k = Math.min(this.params.budget, maxList);
    const q = this.numHeads * d;
    const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const make = (label: string, bytes: number) => device.createBuffer({ label: `recycled-${label}`, size: Math.max(4, bytes), usage: storage });
    const recorded = make('recorded', L * G * k * 4);
    const info = make('info', (L * G + 2 * L) * 4);
    const fullQuery = make('full-query', L * q * 4);
    const scratch = make('scratch', G * k * 4);
    const scratchLen = make('scratch-lengths', G * 4);
    const indices = make('tokens', G * maxList * 4);
    const lengths = make('lengths', G * 4);
    const params = device.createBuffer({ label: 'recycled-params', size: L * PARAMS_STRIDE, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    const entry = (binding: number, type: GPUBufferBindingType): GPUBindGroupLayoutEntry => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type } });
    const staticLayout = device.createBindGroupLayout({
      label: 'recycled-static',
      entries: [entry(0, 'uniform'), entry(1, 'storage'), entry(2, 'storage'), entry(3, 'storage'), entry(4, 'read-only-storage'), entry(5, 'read-only-storage'), entry(6, 'storage'), entry(7, 'storage')],
    });
    const queryLayout = device.createBindGroupLayout({ label: 'recycled-query', entries: [entry(0, 'read-only-storage')] });
    const layout = device.createPipelineLayout({ label: 'recycled', bindGroupLayouts: [staticLayout, queryLayout] });
    const module = device.createShaderModule({ label: 'recycled', code: recycledSource });
    const constants = { NUM_LAYERS: L, NUM_KV_HEADS: G, K: k, Q: q, MAX_LIST: maxList };
    const kernels: Kernel[] = ['decide', 'compose', 'commit'];
    const pipelines = Object.fromEntries(kernels.map((entryPoint) => [entryPoint, device.createComputePipeline({
      label: `recycled-${entryPoint}`, layout, compute: { module, entryPoint, constants },
    })])) as Record<Kernel, GPUComputePipeline>;
    const groups = Array.from({ length: L }, (_, l) => {
      const resources: GPUBindingResource[] = [
        { buffer: params, offset: l * PARAMS_STRIDE, size: PARAMS_BYTES }, { buffer: recorded }, { buffer: info }, { buffer: fullQuery },
        { buffer: scratch }, { buffer: scratchLen }, { buffer: indices }, { buffer: lengths },
      ];
      return device.createBindGroup({ label: `recycled-layer-${l}`, layout: staticLayout, entries: resources.map((resource, binding) => ({ binding, resource })) });
    });
    this.state = {
      device, topK: new TokenTopK(device, L), pipelines, groups, queryLayout, queryGroups: new Map(), params, scratch, scratchLen, indices, lengths, maxList, k, q,
    };
    return this.state;
  }
}

/** The registry's factory: `recycled:budget=256,stride=16` or `recycled:dynamic=0.8,check-every=5`. */
export function createRecycledPolicy(spec: AttentionSpec): RecycledPolicy {
  return new RecycledPolicy(recycledParams(parseAttentionSpec(spec as never) as never));
}
