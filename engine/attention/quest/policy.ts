// Quest on the GPU: page key bounds kept on append, the page upper bound of q.k and the top pages per KV head as a
// {kind: 'pages'} plan; the first layers dense, the page holding the new token always read (by the kernel).
import { InvalidArgumentError } from '../../errors/index.ts';
import { withDeferredGpuErrorScopes } from '../../gpu/index.ts';
import type { PageData, PagedKVCache } from '../../kv/index.ts';
import { ropeInverseFrequencies, ropeTable, type ModelConfig } from '../../model/index.ts';
import type { AttentionPlan, AttentionPolicy, AttentionSpec, PolicyNeeds, PolicyStepContext } from '../policy.ts';
import { parseAttentionSpec } from '../spec.ts';
import { TokenTopK } from '../tidal/index.ts';
import { kvLibrary, linkWgsl } from '../../wgsl/index.ts';
import questSource from './quest.wgsl?raw';
import { questPagesToRead, questParams, type QuestParams } from './reference.ts';

/** Threads per workgroup of quest.wgsl. */
const WORKGROUP_SIZE = 64;
/** Bytes of quest.wgsl's Params header before the RoPE rows. */
const PARAMS_HEADER_BYTES = 32;
/** Per-layer regions of the params buffer sit at multiples of WebGPU's default minStorageBufferOffsetAlignment. */
const STORAGE_OFFSET_ALIGNMENT = 256;
/** Query bind groups kept at most (ORT's pool cycles through a few buffers). */
const MAX_QUERY_GROUPS = 64;

type Kernel = 'keepBounds' | 'boundsAndScores';

/** GPU state for one cache (made on the first hook: the policy is created before the model). */
interface QuestState {
  cache: PagedKVCache;
  pipelines: Record<Kernel, GPUComputePipeline>;
  groups: GPUBindGroup[];
  /** The cache generation `groups` were made for, and how to make them again when the pool grows. */
  generation: number;
  makeGroups: () => GPUBindGroup[];
  queryLayout: GPUBindGroupLayout;
  queryGroups: Map<GPUBuffer, GPUBindGroup>;
  params: GPUBuffer;
  region: number;
  /** Per arena: [arena page][min|max][d] f32 (grown with the pool by the cache). */
  bounds: PageData;
  scores: GPUBuffer;
  indices: GPUBuffer;
  lengths: GPUBuffer;
  maxList: number;
  /** The top pages per KV head, one params slot per layer. */
  topK: TokenTopK;
}

/** Workgroups that score `candidates` pages (at least one). */
function scoreGroups(candidates: number): number {
  return Math.max(1, Math.ceil(candidates / WORKGROUP_SIZE));
}

export class QuestPolicy implements AttentionPolicy {
  readonly name = 'quest';
  readonly needs: PolicyNeeds;
  private state: QuestState | null = null;
  private inverseFrequencies: Float64Array | null = null;
  private numHeads = 0;
  private interleaved = false;

  constructor(readonly params: QuestParams) {
    if (!Number.isInteger(params.budget) || params.budget < 1) throw new InvalidArgumentError('attention.budget', `must be a positive integer, got ${params.budget}`);
    const dense = Array.from({ length: params.denseLayers }, (_, l) => l);
    this.needs = {
      denseLayers: dense, granularity: 'page', statistics: () => 'none', metadata: ['page-key-min-max'], evicts: false, calibration: null,
    };
  }

  /** The model's RoPE and head count (the query is scored after RoPE, at the step's position). */
  checkModel(config: ModelConfig): void {
    if (this.params.denseLayers > config.numLayers) {
      throw new InvalidArgumentError('attention.denseLayers', `the model has ${config.numLayers} layers; ${this.params.denseLayers} dense layers are more than it has`);
    }
    this.inverseFrequencies = ropeInverseFrequencies(config);
    this.numHeads = config.numHeads;
    this.interleaved = config.ropeLayout === 'interleaved';
  }

  onAppend(encoder: GPUCommandEncoder, ctx: PolicyStepContext): void {
    if (ctx.layer < this.params.denseLayers) return;
    const st = this.stateFor(ctx);
    const P = st.cache.pageSize;
    const held = st.cache.tokensHeld(ctx.seq);
    const first = held - ctx.numTokens;
    const inv = this.inverseFrequencies as Float64Array;
    // The query of a decode step sits at the last position of the step.
    const { cos, sin } = ropeTable(inv, ctx.startPosition + ctx.numTokens - 1, 1);
    const data = new ArrayBuffer(PARAMS_HEADER_BYTES + inv.length * 8);
    const candidates = Math.floor((held - 1) / P);
    new Uint32Array(data, 0, 7).set([ctx.seq.slot, ctx.layer, first, ctx.numTokens, candidates, questPagesToRead(this.params.budget, P) - 1, scoreGroups(candidates)]);
    new Float32Array(data, PARAMS_HEADER_BYTES).set(cos);
    new Float32Array(data, PARAMS_HEADER_BYTES + inv.length * 4).set(sin);
    ctx.device.queue.writeBuffer(st.params, ctx.layer * st.region, data);
    // A decode step keeps the newest page's bounds in plan()'s first dispatch (item 7: two dispatches per layer).
    if (ctx.phase === 'decode') return;
    const pagesTouched = Math.floor((held - 1) / P) - Math.floor(first / P) + 1;
    const pass = encoder.beginComputePass({ label: `quest-bounds-${ctx.layer}` });
    pass.setPipeline(st.pipelines.keepBounds);
    pass.setBindGroup(0, st.groups[ctx.layer]);
    pass.dispatchWorkgroups(Math.ceil(st.cache.numKvHeads * st.cache.headDim / WORKGROUP_SIZE), pagesTouched);
    pass.end();
  }

  plan(encoder: GPUCommandEncoder, ctx: PolicyStepContext): AttentionPlan {
    const st = this.stateFor(ctx);
    if (!ctx.query) throw new InvalidArgumentError('query', 'Quest scores pages with the step\'s query; the attention gave none');
    const P = st.cache.pageSize;
    const candidates = Math.floor((st.cache.tokensHeld(ctx.seq) - 1) / P);
    const G = st.cache.numKvHeads;
    const pass = encoder.beginComputePass({ label: `quest-plan-${ctx.layer}` });
    pass.setBindGroup(0, st.groups[ctx.layer]);
    pass.setBindGroup(1, this.queryGroup(st, ctx.query));
    pass.setPipeline(st.pipelines.boundsAndScores);
    pass.dispatchWorkgroups(scoreGroups(candidates) + Math.ceil(st.cache.headDim / WORKGROUP_SIZE), G);
    pass.end();
    // Ties to the lower page, as the reference breaks them (the older page wins).
    st.topK.encode(encoder, ctx.layer, {
      scores: st.scores, stride: st.cache.maxPagesPerSequence, rows: G, length: candidates, k: questPagesToRead(this.params.budget, P) - 1,
      out: st.indices, outStride: st.maxList, outLengths: st.lengths,
    });
    return { kind: 'pages', indices: st.indices, lengths: st.lengths, maxPerHead: st.maxList };
  }

  private queryGroup(st: QuestState, query: GPUBuffer): GPUBindGroup {
    let group = st.queryGroups.get(query);
    if (!group) {
      if (st.queryGroups.size >= MAX_QUERY_GROUPS) st.queryGroups.clear();
      group = st.cache.device.createBindGroup({ label: 'quest-query', layout: st.queryLayout, entries: [{ binding: 0, resource: { buffer: query } }] });
      st.queryGroups.set(query, group);
    }
    return group;
  }

  destroy(): void {
    const st = this.state;
    if (!st) return;
    for (const b of [st.params, st.scores, st.indices, st.lengths]) b.destroy();
    st.bounds.destroy();
    st.topK.destroy();
    this.state = null;
  }

  private stateFor(ctx: PolicyStepContext): QuestState {
    if (this.state?.cache === ctx.cache) {
      if (this.state.generation !== ctx.cache.generation) {
        this.state.groups = this.state.makeGroups();
        this.state.generation = ctx.cache.generation;
      }
      return this.state;
    }
    // Made in the GPU's error scopes: a buffer or kernel the device refuses fails the step with a typed error
    // (engine/gpu), and the next step makes the state again.
    return withDeferredGpuErrorScopes(ctx.device, "the quest policy's buffers and kernels", () => this.createState(ctx), {
      release: (st) => { if (this.state === st) this.destroy(); },
    });
  }

  private createState(ctx: PolicyStepContext): QuestState {
    if (!this.inverseFrequencies) throw new InvalidArgumentError('policy', 'quest needs the model (checkModel) before its first step: it scores pages with the rotated query');
    const { device, cache } = ctx;
    const { numLayers: L, numKvHeads: G, headDim: d, pageSize: P, maxPagesPerSequence: maxPages } = cache;
    const maxList = Math.max(1, Math.min(questPagesToRead(this.params.budget, P) - 1, maxPages));
    const region = Math.ceil((PARAMS_HEADER_BYTES + d * 4) / STORAGE_OFFSET_ALIGNMENT) * STORAGE_OFFSET_ALIGNMENT;
    const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const params = device.createBuffer({ label: 'quest-params', size: L * region, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    const bounds = cache.createPageData('quest-bounds', 2 * d * 4);
    const scores = device.createBuffer({ label: 'quest-scores', size: G * maxPages * 4, usage: storage });
    const indices = device.createBuffer({ label: 'quest-pages', size: G * maxList * 4, usage: storage });
    const lengths = device.createBuffer({ label: 'quest-lengths', size: G * 4, usage: storage });
    const entry = (binding: number, type: GPUBufferBindingType): GPUBindGroupLayoutEntry => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type } });
    const staticLayout = device.createBindGroupLayout({
      label: 'quest-static',
      entries: [entry(0, 'read-only-storage'), entry(1, 'read-only-storage'), entry(2, 'read-only-storage'), entry(3, 'storage'), entry(4, 'storage')],
    });
    const queryLayout = device.createBindGroupLayout({ label: 'quest-query', entries: [entry(0, 'read-only-storage')] });
    const layout = device.createPipelineLayout({ label: 'quest', bindGroupLayouts: [staticLayout, queryLayout] });
    // keepBounds reads no query: its own layout, so it needs no query bind group.
    const boundsLayout = device.createPipelineLayout({ label: 'quest-bounds', bindGroupLayouts: [staticLayout] });
    const module = device.createShaderModule({ label: 'quest', code: linkWgsl(questSource, kvLibrary(cache.dtype)) });
    const constants = {
      D: d, NUM_HEADS: this.numHeads, NUM_KV_HEADS: G, NUM_LAYERS: L, PAGE: P, MAX_PAGES: maxPages,
      INTERLEAVED: this.interleaved ? 1 : 0, QD: (this.numHeads / G) * d,
    };
    const kernels: Kernel[] = ['keepBounds', 'boundsAndScores'];
    const pipelines = Object.fromEntries(kernels.map((entryPoint) => [entryPoint, device.createComputePipeline({
      label: `quest-${entryPoint}`, layout: entryPoint === 'keepBounds' ? boundsLayout : layout, compute: { module, entryPoint, constants },
    })])) as Record<Kernel, GPUComputePipeline>;
    const makeGroups = () => Array.from({ length: L }, (_, l) => {
      const arena = cache.arenaOf(l);
      const resources: GPUBindingResource[] = [
        { buffer: params, offset: l * region, size: region }, { buffer: arena.pages }, { buffer: cache.blockTables },
        { buffer: bounds.buffers[arena.index] }, { buffer: scores },
      ];
      return device.createBindGroup({ label: `quest-layer-${l}`, layout: staticLayout, entries: resources.map((resource, binding) => ({ binding, resource })) });
    });
    this.destroy();
    this.state = { cache, pipelines, groups: makeGroups(), generation: cache.generation, makeGroups, queryLayout, queryGroups: new Map(), params, region, bounds, scores, indices, lengths, maxList,
      topK: new TokenTopK(device, L) };
    return this.state;
  }
}

/** The registry's factory: `quest:budget=512,dense-layers=2`. */
export function createQuestPolicy(spec: AttentionSpec): QuestPolicy {
  return new QuestPolicy(questParams(parseAttentionSpec(spec as never) as never));
}
