// The CLI's `--backend reference`: the plain CPU forward in Node, behind the same generation code as the engine.
import { createReferenceEvictionPolicy, EvictingReferenceModel, parseAttentionSpec } from '../attention/cpu.ts';
import { InvalidArgumentError } from '../errors/index.ts';
import { sequenceLogits, type ForwardBackend } from '../generation/index.ts';
import type { LoadedModel } from '../model/index.ts';
import { loadModelFromPath } from '../model/node.ts';
import { ReferenceModel } from '../reference/index.ts';
import { createChatTemplate, loadTokenizer } from '../tokenizer/index.ts';
import { completionRequestOf, generateIds, samplingDefaultsFromGenerationConfig } from '../api/index.ts';
import type { CliRunner } from './main.ts';

/**
 * The CPU forward behind a request's attention spec: ReferenceModel for dense, the evicting reference forward for
 * StreamingLLM, H2O and A2SF (the selecting policies have no reference backend: they change speed, not results
 * beyond their budget, and are checked against their references in the GPU tests). The spec is validated by the
 * engine's own grammar (typed errors list the valid policies and keys).
 */
export class ReferenceBackend implements ForwardBackend {
  private model: ReferenceModel | EvictingReferenceModel;
  /** The ids the sequence holds, for prefix reuse (options.reusePrefix, dense only). */
  private held: number[] = [];

  /** `reusePrefix`: a request that starts with the ids held continues after them (as the engine does), dense only. */
  constructor(readonly loaded: LoadedModel, readonly attention?: string, readonly options: { reusePrefix?: boolean } = {}) {
    this.model = this.createModel();
  }

  get config() { return this.loaded.config; }

  async prefill(ids: number[], rows: 'all' | 'last') {
    const logits = this.model.prefill(ids);
    this.held.push(...ids);
    return rows === 'all' ? logits : logits.slice((ids.length - 1) * this.config.vocabSize);
  }

  async decode(id: number) {
    this.held.push(id);
    return this.model.decode(id);
  }

  async reset() {
    this.model = this.createModel();
    this.held = [];
  }

  cachedPrefixLength(ids: readonly number[]): number {
    if (!this.options.reusePrefix || !(this.model instanceof ReferenceModel)) return 0;
    let n = 0;
    while (n < ids.length && n < this.held.length && ids[n] === this.held[n]) n++;
    return n;
  }

  async truncate(n: number) {
    if (!(this.model instanceof ReferenceModel)) throw new InvalidArgumentError('n', 'an evicting policy keeps no exact prefix to truncate to');
    this.model.truncate(n);
    this.held.length = n;
  }

  /** Unbounded under an evicting policy, as on the GPU. */
  contextLength() {
    return this.model instanceof EvictingReferenceModel ? Infinity : this.config.maxPositionEmbeddings;
  }

  cacheUsage() {
    const c = this.config;
    const tokens = this.model instanceof EvictingReferenceModel ? this.model.tokensInCache : this.model.position;
    return { tokensInCache: tokens, kvBytes: tokens * c.numLayers * c.numKvHeads * c.headDim * 2 * 4 };
  }

  private createModel(): ReferenceModel | EvictingReferenceModel {
    const c = this.config;
    const spec = parseAttentionSpec(this.attention ?? 'dense');
    const policy = createReferenceEvictionPolicy(spec, c.numLayers);
    if (policy === undefined) {
      throw new InvalidArgumentError('--attention', `policy "${spec.policy}" is not available on the reference backend; valid: dense, streaming, h2o, a2sf (use --backend webgpu)`);
    }
    return policy ? new EvictingReferenceModel(c, this.loaded.weights, policy) : new ReferenceModel(c, this.loaded.weights);
  }
}

export async function openReferenceRunner(modelPath: string): Promise<CliRunner> {
  const loaded = await loadModelFromPath(modelPath);
  const backendFor = (attention: string | undefined) => new ReferenceBackend(loaded, attention);
  const tokenizer = loadTokenizer(loaded);
  const chatTemplate = createChatTemplate(loaded.tokenizerFiles.tokenizerConfig);
  return {
    async logits(opts) {
      return sequenceLogits(backendFor(opts.attention), opts.ids, opts.decode ? 'decode' : 'prefill');
    },
    async generate(opts) {
      const backend = backendFor(opts.attention);
      const req = opts.request;
      if ((req.prompt === undefined) === (req.ids === undefined)) throw new InvalidArgumentError('--prompt', 'give exactly one of --prompt or --ids');
      if (req.prompt !== undefined && !tokenizer) throw new InvalidArgumentError('--prompt', `${loaded.source} has no tokenizer files; pass --ids instead`);
      const r = await generateIds(backend, tokenizer, chatTemplate, completionRequestOf(req), req.chat ?? false, {
        defaults: samplingDefaultsFromGenerationConfig(loaded.tokenizerFiles.generationConfig),
      }, req.jsonSchema);
      return r;
    },
    async close() {},
  };
}
