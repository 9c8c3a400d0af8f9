// The GPU side shared by StreamingLLM, H2O and A2SF: running scores per (layer, KV head, slot) fed by the kernels'
// probability column sums, and eviction to sinks + top + recent on the GPU after every step (evict.wgsl).
import { InvalidArgumentError } from '../../errors/index.ts';
import { withDeferredGpuErrorScopes } from '../../gpu/index.ts';
import type { PagedKVCache } from '../../kv/index.ts';
import type { ModelConfig } from '../../model/index.ts';
import { forgettingForLayers } from '../a2sf/reference.ts';
import type {
  AttentionPlan, AttentionPolicy, AttentionStatistics, EvictionResult, PolicyNeeds, PolicyRewindContext, PolicyStepContext,
} from '../policy.ts';
import { kvLibrary, linkWgsl } from '../../wgsl/index.ts';
import evictSource from './evict.wgsl?raw';

export interface EvictingPolicyOptions {
  name: string;
  /** The first positions, never evicted. */
  sinks: number;
  /** Best-scored older tokens kept (H2O's heavy, A2SF's select); 0 for StreamingLLM. */
  top: number;
  /** The newest tokens, always kept (StreamingLLM's window). */
  recent: number;
  /**
   * Forgetting factor (A2SF; 1 for H2O), one for all layers or one per layer: score = a^n * score + step mass.
   * Null: the policy keeps no scores and asks for no statistics (StreamingLLM).
   */
  forgetting: number | readonly number[] | null;
}

/** Threads per workgroup of evict.wgsl (WG). */
const WORKGROUP_SIZE = 64;
/** Stride of the per-layer uniforms: WebGPU's default minUniformBufferOffsetAlignment. */
const LAYER_UNIFORM_STRIDE = 256;
/** Bytes of evict.wgsl's Params. */
const PARAMS_BYTES = 32;
/**
 * Decode steps the undo log holds (a ring): rewind() undoes at most UNDO_STEPS - 1 of the latest, enough for the
 * engine's encode-ahead (DECODE_ENCODE_AHEAD = 2, engine/runtime).
 */
export const UNDO_STEPS = 4;
/** The undo log's header per (step, layer, KV head): victim slot, its position, two pad words (evict.wgsl). */
const LOG_HEADER = 4;


/** GPU state of one policy instance on one cache (created on the first hook: the policy is made before the model). */
interface EvictionState {
  cache: PagedKVCache;
  params: GPUBuffer;
  layers: GPUBuffer;
  scores: GPUBuffer;
  forgetting: GPUBuffer;
  evict: GPUComputePipeline;
  accumulate: GPUComputePipeline;
  undo: GPUComputePipeline;
  /** [UNDO_STEPS][layers][KV heads][logStride] f32: what undo needs of each recent decode step (evict.wgsl). */
  undoLog: GPUBuffer;
  undoParams: GPUBuffer;
  evictGroups: GPUBindGroup[];
  undoGroups: GPUBindGroup[];
  /** The cache generation the arena-bound groups were made for, and how to make them again when the pool grows. */
  generation: number;
  makeGroups: () => { evict: GPUBindGroup[]; undo: GPUBindGroup[] };
  /** Per statistics buffer (PagedAttention keeps one), per layer. */
  accumulateGroups: Map<GPUBuffer, GPUBindGroup[]>;
  /** The step whose params were written last: "startPosition:numTokens". */
  writtenFor: string;
}

/**
 * One instance serves one sequence at a time (the engine creates a policy per request). Tokens the cache holds stay
 * at most sinks + top + recent after every step; a decode step holds one more before its eviction, so the pages
 * held are at most ceil((budget + 1) / page size) per (layer, KV head).
 */
export class EvictingPolicy implements AttentionPolicy {
  readonly name: string;
  readonly needs: PolicyNeeds;
  readonly budget: number;
  /** Steps encoded ahead are undone from the undo log (evict.wgsl): at most UNDO_STEPS - 1 of them. */
  readonly maxRewind = UNDO_STEPS - 1;
  private state: EvictionState | null = null;
  /** Per-layer factors once checkModel saw the model's depth. */
  private factors: Float64Array | null = null;

  constructor(readonly options: EvictingPolicyOptions) {
    const { name, sinks, top, recent, forgetting } = options;
    for (const [key, v] of [['sinks', sinks], ['top', top], ['recent', recent]] as const) {
      if (!Number.isInteger(v) || v < 0) throw new InvalidArgumentError(`attention.${key}`, `must be a non-negative integer, got ${v}`);
    }
    if (recent < 1) throw new InvalidArgumentError('attention.recent', 'must keep at least the token just generated (1)');
    if (top > 0 && !forgetting) throw new InvalidArgumentError('attention', `${name} keeps top-scored tokens, so it needs scores`);
    this.name = name;
    this.budget = sinks + top + recent;
    const scored = forgetting !== null;
    this.needs = {
      denseLayers: 'all',
      granularity: 'token',
      statistics: () => (scored ? 'probability-column-sums' : 'none'),
      metadata: scored ? ['token-scores'] : [],
      evicts: true,
      calibration: null,
      prefillRowDecay: scored ? (layer: number) => this.factorOf(layer) : undefined,
    };
  }

  checkModel(config: ModelConfig): void {
    const { forgetting } = this.options;
    this.factors = forgetting === null ? null : forgettingForLayers(forgetting, config.numLayers);
  }

  private factorOf(layer: number): number {
    const { forgetting } = this.options;
    if (forgetting === null) return 1;
    if (this.factors) return this.factors[layer];
    if (typeof forgetting === 'number') return forgetting;
    throw new InvalidArgumentError('attention.forgetting', `a per-layer list needs the model's depth: set the ${this.name} policy on a model first`);
  }

  plan(): AttentionPlan {
    return { kind: 'dense' };
  }

  afterPrefill(encoder: GPUCommandEncoder, ctx: PolicyStepContext, stats: AttentionStatistics): void {
    this.accumulate(encoder, ctx, stats);
  }

  afterAttention(encoder: GPUCommandEncoder, ctx: PolicyStepContext, stats: AttentionStatistics): void {
    this.accumulate(encoder, ctx, stats);
  }

  evict(encoder: GPUCommandEncoder, ctx: PolicyStepContext): EvictionResult | null {
    const held = ctx.cache.tokensHeld(ctx.seq);
    if (held <= this.budget) return null;
    const st = this.stateFor(ctx);
    this.writeParams(st, ctx);
    const pass = encoder.beginComputePass({ label: `${this.name}-evict` });
    pass.setPipeline(st.evict);
    for (let l = 0; l < ctx.cache.numLayers; l++) {
      pass.setBindGroup(0, st.evictGroups[l]);
      pass.dispatchWorkgroups(ctx.cache.numKvHeads);
    }
    pass.end();
    return { tokensHeld: this.budget };
  }

  /**
   * Undoes the latest `heldBefore.length` decode steps (encoded ahead past a stop): the newest first, each head's
   * victim back in its slot and its scores as before the step, one submit each (their parameters differ). The caller
   * then truncates the cache to heldBefore[0] (the count, and the pages of the dropped tokens).
   */
  rewind(steps: number, ctx: PolicyRewindContext): void {
    if (steps === 0) return;
    if (steps > this.maxRewind || ctx.heldBefore.length !== steps) throw new InvalidArgumentError('steps', `${this.name} undoes at most ${this.maxRewind} steps, given ${steps} (${ctx.heldBefore.length} counts)`);
    const st = this.state;
    if (!st) return;
    this.refreshGroups(st);
    const { device, cache } = ctx;
    for (let j = steps - 1; j >= 0; j--) {
      device.queue.writeBuffer(st.undoParams, 0, new Uint32Array([ctx.seq.slot, (ctx.firstStep + j) % UNDO_STEPS, ctx.heldBefore[j], this.options.forgetting ? 1 : 0]));
      const encoder = device.createCommandEncoder({ label: `${this.name}-undo` });
      const pass = encoder.beginComputePass({ label: `${this.name}-undo` });
      pass.setPipeline(st.undo);
      for (let l = 0; l < cache.numLayers; l++) {
        pass.setBindGroup(0, st.undoGroups[l]);
        pass.dispatchWorkgroups(cache.numKvHeads);
      }
      pass.end();
      device.queue.submit([encoder.finish()]);
    }
    // The next step's parameters are written again (its position equals the first dropped step's).
    st.writtenFor = '';
  }

  destroy(): void {
    const st = this.state;
    if (!st) return;
    for (const b of [st.params, st.layers, st.scores, st.forgetting, st.undoLog, st.undoParams]) b.destroy();
    this.state = null;
  }

  private accumulate(encoder: GPUCommandEncoder, ctx: PolicyStepContext, stats: AttentionStatistics): void {
    if (!this.options.forgetting) return;
    if (stats.kind !== 'probability-column-sums' || !stats.buffer) throw new InvalidArgumentError('attention', `${this.name} got ${stats.kind} statistics instead of probability column sums`);
    const st = this.stateFor(ctx);
    if (stats.stride !== ctx.cache.maxTokensPerSequence) throw new InvalidArgumentError('attention', `statistics stride ${stats.stride} differs from the cache's ${ctx.cache.maxTokensPerSequence} slots`);
    this.writeParams(st, ctx);
    let groups = st.accumulateGroups.get(stats.buffer);
    if (!groups) {
      groups = Array.from({ length: ctx.cache.numLayers }, (_, l) => ctx.device.createBindGroup({
        label: `${this.name}-accumulate-layer-${l}`,
        layout: st.accumulate.getBindGroupLayout(0),
        entries: [
          { binding: 3, resource: { buffer: ctx.cache.counts } },
          { binding: 4, resource: { buffer: st.params } },
          { binding: 5, resource: { buffer: st.layers, offset: l * LAYER_UNIFORM_STRIDE, size: 16 } },
          { binding: 6, resource: { buffer: st.scores } },
          { binding: 7, resource: { buffer: stats.buffer as GPUBuffer } },
          { binding: 8, resource: { buffer: st.forgetting } },
          { binding: 9, resource: { buffer: st.undoLog } },
        ],
      }));
      st.accumulateGroups.set(stats.buffer, groups);
    }
    const pass = encoder.beginComputePass({ label: `${this.name}-accumulate-${ctx.layer}` });
    pass.setPipeline(st.accumulate);
    pass.setBindGroup(0, groups[ctx.layer]);
    pass.dispatchWorkgroups(Math.ceil(ctx.cache.tokensHeld(ctx.seq) / WORKGROUP_SIZE), ctx.cache.numKvHeads);
    pass.end();
  }

  /** The step's parameters, written once per step (queue writes land before the step's commands are submitted). */
  private writeParams(st: EvictionState, ctx: PolicyStepContext): void {
    const key = `${ctx.seq.slot}:${ctx.startPosition}:${ctx.numTokens}:${ctx.step}`;
    if (st.writtenFor === key) return;
    st.writtenFor = key;
    const { sinks, top, recent } = this.options;
    const newest = ctx.startPosition + ctx.numTokens - 1;
    // Decode steps log what their undo needs, in the ring slot of their step number.
    const log = ctx.phase === 'decode' ? 1 : 0;
    ctx.device.queue.writeBuffer(st.params, 0, new Uint32Array([ctx.seq.slot, ctx.numTokens, newest, sinks, top, recent, ctx.step % UNDO_STEPS, log]));
  }

  private stateFor(ctx: PolicyStepContext): EvictionState {
    if (this.state) {
      if (this.state.cache !== ctx.cache) throw new InvalidArgumentError('attention', `a ${this.name} policy serves one cache; create one per model`);
      this.refreshGroups(this.state);
      return this.state;
    }
    // Made in the GPU's error scopes: a buffer or kernel the device refuses fails the step with a typed error
    // (engine/gpu), and the next step makes the state again.
    return withDeferredGpuErrorScopes(ctx.device, `the ${this.name} policy's buffers and kernels`, () => this.createState(ctx), {
      release: (st) => { if (this.state === st) this.destroy(); },
    });
  }

  private createState(ctx: PolicyStepContext): EvictionState {
    const { device, cache } = ctx;
    const L = cache.numLayers;
    const G = cache.numKvHeads;
    const stride = cache.maxTokensPerSequence;
    const params = device.createBuffer({ label: `${this.name}-params`, size: PARAMS_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    const layers = device.createBuffer({ label: `${this.name}-layers`, size: L * LAYER_UNIFORM_STRIDE, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    const layerData = new Uint32Array(L * LAYER_UNIFORM_STRIDE / 4);
    for (let l = 0; l < L; l++) layerData[l * LAYER_UNIFORM_STRIDE / 4] = l;
    device.queue.writeBuffer(layers, 0, layerData);
    // Zeroed at creation (WebGPU clears new buffers): StreamingLLM's scores stay 0 and are never read as ranks.
    const scores = device.createBuffer({ label: `${this.name}-scores`, size: L * G * stride * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    const forgetting = device.createBuffer({ label: `${this.name}-forgetting`, size: L * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(forgetting, 0, Float32Array.from({ length: L }, (_, l) => this.factorOf(l)));
    const module = device.createShaderModule({ label: 'evict', code: linkWgsl(evictSource, kvLibrary(cache.dtype)) });
    const logStride = LOG_HEADER + 2 * cache.headDim + this.budget;
    const undoLog = device.createBuffer({ label: `${this.name}-undo-log`, size: UNDO_STEPS * L * G * logStride * 4, usage: GPUBufferUsage.STORAGE });
    const undoParams = device.createBuffer({ label: `${this.name}-undo-params`, size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    const constants = {
      D: cache.headDim, NUM_KV_HEADS: G, NUM_LAYERS: L, PAGE: cache.pageSize, MAX_PAGES: cache.maxPagesPerSequence, STRIDE: stride, LOG_STRIDE: logStride,
    };
    const make = (entryPoint: string) => device.createComputePipeline({ label: `${this.name}-${entryPoint}`, layout: 'auto', compute: { module, entryPoint, constants } });
    const evict = make('evict');
    const accumulate = make('accumulate');
    const undo = make('undo');
    const groupsOf = (pipeline: GPUComputePipeline, label: string, bindings: number[]) => Array.from({ length: L }, (_, l) => {
      const arena = cache.arenaOf(l);
      const resources: Record<number, GPUBindingResource> = {
        0: { buffer: arena.pages }, 1: { buffer: arena.positions }, 2: { buffer: cache.blockTables }, 3: { buffer: cache.counts },
        4: { buffer: params }, 5: { buffer: layers, offset: l * LAYER_UNIFORM_STRIDE, size: 16 }, 6: { buffer: scores },
        9: { buffer: undoLog }, 10: { buffer: undoParams },
      };
      return device.createBindGroup({
        label: `${this.name}-${label}-layer-${l}`, layout: pipeline.getBindGroupLayout(0),
        entries: bindings.map((binding) => ({ binding, resource: resources[binding] })),
      });
    });
    const makeGroups = () => ({ evict: groupsOf(evict, 'evict', [0, 1, 2, 3, 4, 5, 6, 9]), undo: groupsOf(undo, 'undo', [0, 1, 2, 5, 6, 9, 10]) });
    const groups = makeGroups();
    this.state = {
      cache, params, layers, scores, forgetting, evict, accumulate, undo, undoLog, undoParams, evictGroups: groups.evict, undoGroups: groups.undo,
      generation: cache.generation, makeGroups, accumulateGroups: new Map(), writtenFor: '',
    };
    return this.state;
  }

  /** After the pool grew (new arena buffers), the arena-bound groups again. */
  private refreshGroups(st: EvictionState): void {
    if (st.generation === st.cache.generation) return;
    const groups = st.makeGroups();
    st.evictGroups = groups.evict;
    st.undoGroups = groups.undo;
    st.generation = st.cache.generation;
  }
}
