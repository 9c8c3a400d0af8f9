// TidalDecode on the GPU: dense layers before the selection layer; the selection and re-selection layers attend
// densely with the kernels' 'logits' statistic and pick the top tokens per KV head; the layers after them read that
// list as a {kind: 'tokens'} plan (the kernel adds the step's own token).
import { InvalidArgumentError } from '../../errors/index.ts';
import { withDeferredGpuErrorScopes } from '../../gpu/index.ts';
import type { ModelConfig } from '../../model/index.ts';
import type { AttentionPlan, AttentionPolicy, AttentionSpec, AttentionStatistics, PolicyNeeds, PolicyStepContext } from '../policy.ts';
import { parseAttentionSpec } from '../spec.ts';
import { resolveTidalParams, tidalLayerRole, tidalSpecParams, type TidalParams, type TidalSpecParams } from './reference.ts';
import { TokenTopK } from './topk.ts';

interface TidalState {
  device: GPUDevice;
  topK: TokenTopK;
  indices: GPUBuffer;
  lengths: GPUBuffer;
  maxList: number;
}

export class TidalPolicy implements AttentionPolicy {
  readonly name = 'tidal';
  readonly needs: PolicyNeeds;
  private resolved: TidalParams | null = null;
  private state: TidalState | null = null;

  constructor(readonly params: TidalSpecParams) {
    if (!Number.isInteger(params.budget) || params.budget < 1) throw new InvalidArgumentError('attention.budget', `must be a positive integer, got ${params.budget}`);
    const self = this;
    this.needs = {
      // The selection layers attend densely too (the logits cover every slot); computed once the depth is known.
      get denseLayers(): readonly number[] {
        const p = self.resolved;
        if (!p) return Array.from({ length: self.params.selectLayer + 1 }, (_, l) => l);
        return p.reselectLayer === null ? [...Array.from({ length: p.selectLayer + 1 }, (_, l) => l)] : [...Array.from({ length: p.selectLayer + 1 }, (_, l) => l), p.reselectLayer];
      },
      granularity: 'token',
      statistics: (layer, phase) => (phase === 'decode' && this.resolved && tidalLayerRole(layer, this.resolved) === 'select' ? 'logits' : 'none'),
      metadata: [],
      evicts: false,
      calibration: null,
    };
  }

  /** Resolves the re-selection layer for the model's depth: a layer past the last is an InvalidArgumentError. */
  checkModel(config: ModelConfig): void {
    this.resolved = resolveTidalParams(this.params, config.numLayers);
  }

  /** The layers as resolved for the model (null before checkModel). */
  get layers(): TidalParams | null {
    return this.resolved;
  }

  afterAttention(encoder: GPUCommandEncoder, ctx: PolicyStepContext, stats: AttentionStatistics): void {
    const p = this.resolvedFor(ctx);
    if (tidalLayerRole(ctx.layer, p) !== 'select') return;
    if (stats.kind !== 'logits' || !stats.buffer) throw new InvalidArgumentError('statistics', `TidalDecode selects from the 'logits' statistic at layer ${ctx.layer}; got '${stats.kind}'`);
    const st = this.stateFor(ctx);
    const tokens = ctx.cache.tokensHeld(ctx.seq);
    // The step's own token (the newest slot) is always read by the kernel: the older ones are the candidates.
    st.topK.encode(encoder, ctx.layer === p.selectLayer ? 0 : 1, {
      scores: stats.buffer, stride: stats.stride, rows: ctx.cache.numKvHeads, length: tokens - 1, k: p.budget - 1,
      out: st.indices, outStride: st.maxList, outLengths: st.lengths,
    });
  }

  plan(_encoder: GPUCommandEncoder, ctx: PolicyStepContext): AttentionPlan {
    const p = this.resolvedFor(ctx);
    if (tidalLayerRole(ctx.layer, p) !== 'sparse') return { kind: 'dense' };
    const st = this.stateFor(ctx);
    return { kind: 'tokens', indices: st.indices, lengths: st.lengths, maxPerHead: st.maxList };
  }

  private resolvedFor(ctx: PolicyStepContext): TidalParams {
    this.resolved ??= resolveTidalParams(this.params, ctx.cache.numLayers);
    return this.resolved;
  }

  destroy(): void {
    const st = this.state;
    if (!st) return;
    st.topK.destroy();
    for (const b of [st.indices, st.lengths]) b.destroy();
    this.state = null;
  }

  private stateFor(ctx: PolicyStepContext): TidalState {
    if (this.state?.device === ctx.device) return this.state;
    // Made in the GPU's error scopes: a buffer or kernel the device refuses fails the step with a typed error
    // (engine/gpu), and the next step makes the state again.
    return withDeferredGpuErrorScopes(ctx.device, "the tidal policy's buffers and kernels", () => this.createState(ctx), {
      release: (st) => { if (this.state === st) this.destroy(); },
    });
  }

  private createState(ctx: PolicyStepContext): TidalState {
    const maxList = Math.max(1, Math.min(this.params.budget - 1, ctx.cache.maxTokensPerSequence));
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    this.state = {
      device: ctx.device,
      topK: new TokenTopK(ctx.device, 2),
      indices: ctx.device.createBuffer({ label: 'tidal-tokens', size: ctx.cache.numKvHeads * maxList * 4, usage }),
      lengths: ctx.device.createBuffer({ label: 'tidal-lengths', size: ctx.cache.numKvHeads * 4, usage }),
      maxList,
    };
    return this.state;
  }
}

/** The registry's factory: `tidal:budget=256,select-layer=2,reselect-layer=13`. */
export function createTidalPolicy(spec: AttentionSpec): TidalPolicy {
  return new TidalPolicy(tidalSpecParams(parseAttentionSpec(spec as never) as never));
}
