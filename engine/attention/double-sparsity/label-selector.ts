// The GPU side of Double Sparsity (and FASA): a label cache of R chosen key channels per token written on append, the
// partial scores of a decode step's rotated query on them (max over the KV group), and the top budget - 1 older
// slots per KV head as a {kind: 'tokens'} plan (the kernel always reads the step's own token besides).
import { InvalidArgumentError } from '../../errors/index.ts';
import { withDeferredGpuErrorScopes } from '../../gpu/index.ts';
import type { PageData, PagedKVCache } from '../../kv/index.ts';
import { ropeTable, type RopeLayout } from '../../model/index.ts';
import type { AttentionPlan, PolicyStepContext } from '../policy.ts';
import { TokenTopK } from '../tidal/index.ts';
import { kvLibrary, linkWgsl } from '../../wgsl/index.ts';
import labelSelectorSource from './label-selector.wgsl?raw';

/** Threads per workgroup of label-selector.wgsl. */
const WORKGROUP_SIZE = 64;
/** WebGPU's smallest guaranteed maxComputeWorkgroupsPerDimension: writeLabels loops over the rest. */
const MAX_WORKGROUPS_PER_DIMENSION = 65535;
/** Bytes of label-selector.wgsl's Params header before the RoPE rows. */
const PARAMS_HEADER_BYTES = 32;
/** Per-layer regions of the params buffer sit at multiples of WebGPU's default minStorageBufferOffsetAlignment. */
const STORAGE_OFFSET_ALIGNMENT = 256;
/** Query bind groups kept at most (ORT's pool cycles through a few buffers). */
const MAX_QUERY_GROUPS = 64;

export interface LabelSelectorOptions {
  /** Names the GPU objects ('double-sparsity', 'fasa'). */
  label: string;
  numHeads: number;
  ropeLayout: RopeLayout;
  inverseFrequencies: Float64Array;
  /** Per layer, per KV head, the R channels the labels keep (null: a dense layer, which keeps no labels). */
  channels: readonly (readonly (readonly number[])[] | null)[];
  /** Multiplies the partial dot products (1/sqrt(R) for Double Sparsity). */
  scale: number;
  /** Tokens read per step, the step's own included: budget - 1 older slots are selected. */
  budget: number;
}

type Kernel = 'writeLabels' | 'scoreTokens' | 'labelsAndScores';

/** GPU state for one cache (made on the first hook: the policy is created before the model's cache). */
interface SelectorState {
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
  channels: GPUBuffer;
  /** Per arena: [arena page][PAGE][R] f32 (grown with the pool by the cache). */
  labels: PageData;
  scores: GPUBuffer;
  indices: GPUBuffer;
  lengths: GPUBuffer;
  maxList: number;
  topK: TokenTopK;
  /** Per sequence id and layer: slots [0, n) carry labels written by this selector. */
  labeled: Map<number, Int32Array>;
  /** Per layer: the decode step's own label is left to plan()'s first dispatch (item 7: 2 dispatches per layer). */
  labelInPlan: boolean[];
}

/** Workgroups that score `candidates` slots (at least one). */
function scoreGroups(candidates: number): number {
  return Math.max(1, Math.ceil(candidates / WORKGROUP_SIZE));
}

export class LabelSelector {
  /** Channels per label. */
  readonly width: number;
  private state: SelectorState | null = null;
  private readonly channelData: Uint32Array<ArrayBuffer>;

  constructor(readonly options: LabelSelectorOptions) {
    const rows = options.channels.find((c) => c !== null);
    if (!rows || rows.length === 0 || rows[0].length === 0) throw new InvalidArgumentError('channels', `${options.label} keeps labels at no layer`);
    if (!Number.isInteger(options.budget) || options.budget < 1) throw new InvalidArgumentError('attention.budget', `must be a positive integer, got ${options.budget}`);
    const G = rows.length;
    const R = rows[0].length;
    this.width = R;
    this.channelData = new Uint32Array(options.channels.length * G * R);
    options.channels.forEach((layer, l) => layer?.forEach((list, g) => {
      if (list.length !== R) throw new InvalidArgumentError('channels', `layer ${l} KV head ${g} lists ${list.length} channels, not ${R}`);
      this.channelData.set(list, (l * G + g) * R);
    }));
  }

  /** True when `layer` keeps labels (selects at decode). */
  selects(layer: number): boolean {
    return this.options.channels[layer] != null;
  }

  /** Labels this step's tokens (and any slot before them this selector has not labeled: it may start mid-sequence). */
  onAppend(encoder: GPUCommandEncoder, ctx: PolicyStepContext): void {
    if (!this.selects(ctx.layer)) return;
    const st = this.stateFor(ctx);
    const held = st.cache.tokensHeld(ctx.seq);
    let record = st.labeled.get(ctx.seq.id);
    if (!record) {
      record = new Int32Array(st.cache.numLayers);
      st.labeled.set(ctx.seq.id, record);
    }
    const first = Math.min(record[ctx.layer], held - ctx.numTokens);
    record[ctx.layer] = held;
    const inv = this.options.inverseFrequencies;
    // The query of a decode step sits at the last position of the step.
    const { cos, sin } = ropeTable(inv, ctx.startPosition + ctx.numTokens - 1, 1);
    const data = new ArrayBuffer(PARAMS_HEADER_BYTES + inv.length * 8);
    new Uint32Array(data, 0, 6).set([ctx.seq.slot, ctx.layer, first, held - first, held - 1, scoreGroups(held - 1)]);
    new Float32Array(data, PARAMS_HEADER_BYTES).set(cos);
    new Float32Array(data, PARAMS_HEADER_BYTES + inv.length * 4).set(sin);
    ctx.device.queue.writeBuffer(st.params, ctx.layer * st.region, data);
    // A decode step that labels only its own token leaves it to plan(), which every labeled layer runs at decode.
    st.labelInPlan[ctx.layer] = ctx.phase === 'decode' && first === held - 1;
    if (st.labelInPlan[ctx.layer]) return;
    const pass = encoder.beginComputePass({ label: `${this.options.label}-labels-${ctx.layer}` });
    pass.setPipeline(st.pipelines.writeLabels);
    pass.setBindGroup(0, st.groups[ctx.layer]);
    pass.dispatchWorkgroups(Math.ceil(st.cache.numKvHeads * this.width / WORKGROUP_SIZE), Math.min(held - first, MAX_WORKGROUPS_PER_DIMENSION));
    pass.end();
  }

  /** Scores the older slots and lists the top budget - 1 per KV head. */
  plan(encoder: GPUCommandEncoder, ctx: PolicyStepContext): AttentionPlan {
    const st = this.stateFor(ctx);
    if (!this.selects(ctx.layer)) throw new InvalidArgumentError('layer', `${this.options.label} keeps no labels at layer ${ctx.layer} (a dense layer)`);
    if (!ctx.query) throw new InvalidArgumentError('query', `${this.options.label} scores tokens with the step's query; the attention gave none`);
    const candidates = st.cache.tokensHeld(ctx.seq) - 1;
    const G = st.cache.numKvHeads;
    const pass = encoder.beginComputePass({ label: `${this.options.label}-scores-${ctx.layer}` });
    const withLabel = st.labelInPlan[ctx.layer];
    st.labelInPlan[ctx.layer] = false;
    pass.setPipeline(withLabel ? st.pipelines.labelsAndScores : st.pipelines.scoreTokens);
    pass.setBindGroup(0, st.groups[ctx.layer]);
    pass.setBindGroup(1, this.queryGroup(st, ctx.query));
    pass.dispatchWorkgroups(scoreGroups(candidates) + (withLabel ? Math.ceil(this.width / WORKGROUP_SIZE) : 0), G);
    pass.end();
    st.topK.encode(encoder, ctx.layer, {
      scores: st.scores, stride: st.cache.maxTokensPerSequence, rows: G, length: candidates, k: this.options.budget - 1,
      out: st.indices, outStride: st.maxList, outLengths: st.lengths,
    });
    return { kind: 'tokens', indices: st.indices, lengths: st.lengths, maxPerHead: st.maxList };
  }

  /** The partial scores of the last plan ([numKvHeads][maxTokensPerSequence] f32, by slot): tests read them back. */
  get scores(): GPUBuffer | null {
    return this.state?.scores ?? null;
  }

  private queryGroup(st: SelectorState, query: GPUBuffer): GPUBindGroup {
    let group = st.queryGroups.get(query);
    if (!group) {
      if (st.queryGroups.size >= MAX_QUERY_GROUPS) st.queryGroups.clear();
      group = st.cache.device.createBindGroup({ label: `${this.options.label}-query`, layout: st.queryLayout, entries: [{ binding: 0, resource: { buffer: query } }] });
      st.queryGroups.set(query, group);
    }
    return group;
  }

  private stateFor(ctx: PolicyStepContext): SelectorState {
    if (this.state?.cache === ctx.cache) {
      if (this.state.generation !== ctx.cache.generation) {
        this.state.groups = this.state.makeGroups();
        this.state.generation = ctx.cache.generation;
      }
      return this.state;
    }
    // Made in the GPU's error scopes: a buffer or kernel the device refuses fails the step with a typed error
    // (engine/gpu), and the next step makes the state again.
    return withDeferredGpuErrorScopes(ctx.device, `the ${this.options.label} policy's buffers and kernels`, () => this.createState(ctx), {
      release: (st) => { if (this.state === st) this.destroy(); },
    });
  }

  private createState(ctx: PolicyStepContext): SelectorState {
    const { device, cache } = ctx;
    const { numLayers: L, numKvHeads: G, headDim: d, pageSize: P, maxPagesPerSequence: maxPages, maxTokensPerSequence: stride } = cache;
    const R = this.width;
    const H = this.options.numHeads;
    if (this.options.channels.length !== L || this.channelData.length !== L * G * R) {
      throw new InvalidArgumentError('channels', `${this.options.label} was fitted to ${this.options.channels.length} layers of ${this.channelData.length / (this.options.channels.length * R)} KV heads; the cache holds ${L} of ${G}`);
    }
    const label = this.options.label;
    const maxList = Math.max(1, Math.min(this.options.budget - 1, stride));
    const region = Math.ceil((PARAMS_HEADER_BYTES + d * 4) / STORAGE_OFFSET_ALIGNMENT) * STORAGE_OFFSET_ALIGNMENT;
    const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const params = device.createBuffer({ label: `${label}-params`, size: L * region, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    const channels = device.createBuffer({ label: `${label}-channels`, size: this.channelData.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(channels, 0, this.channelData);
    const labels = cache.createPageData(`${label}-labels`, P * R * 4);
    const scores = device.createBuffer({ label: `${label}-scores`, size: G * stride * 4, usage: storage });
    const indices = device.createBuffer({ label: `${label}-tokens`, size: G * maxList * 4, usage: storage });
    const lengths = device.createBuffer({ label: `${label}-lengths`, size: G * 4, usage: storage });
    const entry = (binding: number, type: GPUBufferBindingType): GPUBindGroupLayoutEntry => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type } });
    const staticLayout = device.createBindGroupLayout({
      label: `${label}-static`, entries: [0, 1, 2, 3].map((b) => entry(b, 'read-only-storage')).concat([entry(4, 'storage'), entry(5, 'storage')]),
    });
    const queryLayout = device.createBindGroupLayout({ label: `${label}-query`, entries: [entry(0, 'read-only-storage')] });
    const module = device.createShaderModule({ label, code: linkWgsl(labelSelectorSource, kvLibrary(cache.dtype)) });
    const constants = {
      D: d, R, NUM_HEADS: H, NUM_KV_HEADS: G, NUM_LAYERS: L, PAGE: P, MAX_PAGES: maxPages, STRIDE: stride,
      INTERLEAVED: this.options.ropeLayout === 'interleaved' ? 1 : 0, SCALE: this.options.scale, QR: (H / G) * R,
    };
    // writeLabels reads no query: its own layout, so it needs no query bind group.
    const layouts: Record<Kernel, GPUPipelineLayout> = {
      writeLabels: device.createPipelineLayout({ label: `${label}-labels`, bindGroupLayouts: [staticLayout] }),
      scoreTokens: device.createPipelineLayout({ label: `${label}-scores`, bindGroupLayouts: [staticLayout, queryLayout] }),
      labelsAndScores: device.createPipelineLayout({ label: `${label}-labels-scores`, bindGroupLayouts: [staticLayout, queryLayout] }),
    };
    const pipelines = Object.fromEntries((['writeLabels', 'scoreTokens', 'labelsAndScores'] as const).map((entryPoint) => [entryPoint, device.createComputePipeline({
      label: `${label}-${entryPoint}`, layout: layouts[entryPoint], compute: { module, entryPoint, constants },
    })])) as Record<Kernel, GPUComputePipeline>;
    const makeGroups = () => Array.from({ length: L }, (_, l) => {
      const arena = cache.arenaOf(l);
      const resources: GPUBindingResource[] = [
        { buffer: params, offset: l * region, size: region }, { buffer: arena.pages }, { buffer: cache.blockTables },
        { buffer: channels }, { buffer: labels.buffers[arena.index] }, { buffer: scores },
      ];
      return device.createBindGroup({ label: `${label}-layer-${l}`, layout: staticLayout, entries: resources.map((resource, binding) => ({ binding, resource })) });
    });
    this.destroy();
    this.state = {
      cache, pipelines, groups: makeGroups(), generation: cache.generation, makeGroups, queryLayout, queryGroups: new Map(), params, region, channels, labels, scores, indices, lengths, maxList,
      topK: new TokenTopK(device, L), labeled: new Map(), labelInPlan: new Array<boolean>(L).fill(false),
    };
    return this.state;
  }

  /** Frees the GPU buffers (the labels are as large as R / 2D of the KV pool). */
  destroy(): void {
    const st = this.state;
    if (!st) return;
    st.topK.destroy();
    for (const b of [st.params, st.channels, st.scores, st.indices, st.lengths]) b.destroy();
    st.labels.destroy();
    this.state = null;
  }
}
