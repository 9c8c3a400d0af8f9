// The CLI's `--backend reference`: the plain CPU forward in Node, behind the same generation code as the engine.
import { parseAttentionSpec } from '../attention/cpu.ts';
import { InvalidArgumentError } from '../errors/index.ts';
import { sequenceLogits, type ForwardBackend } from '../generation/index.ts';
import type { LoadedModel } from '../model/index.ts';
import { loadModelFromPath } from '../model/node.ts';
import { ReferenceModel } from '../reference/index.ts';
import { createChatTemplate, loadTokenizer } from '../tokenizer/index.ts';
import { completionRequestOf, generateIds, samplingDefaultsFromGenerationConfig } from '../api/index.ts';
import type { CliRunner } from './main.ts';

/**
 * The spec is validated by the engine's own grammar (typed errors list the valid policies and keys); only dense runs
 * on this backend until the evicting references are wired into it.
 */
function checkAttention(spec: string | undefined): void {
  const parsed = parseAttentionSpec(spec ?? 'dense');
  if (parsed.policy !== 'dense') throw new InvalidArgumentError('--attention', `policy "${parsed.policy}" is not available on the reference backend yet; valid: dense`);
}

export class ReferenceBackend implements ForwardBackend {
  private readonly model: ReferenceModel;
  constructor(readonly loaded: LoadedModel) {
    this.model = new ReferenceModel(loaded.config, loaded.weights);
  }
  get config() { return this.loaded.config; }
  async prefill(ids: number[], rows: 'all' | 'last') {
    const logits = this.model.prefill(ids);
    return rows === 'all' ? logits : logits.slice((ids.length - 1) * this.config.vocabSize);
  }
  async decode(id: number) { return this.model.decode(id); }
  async reset() { this.model.reset(); }
  cacheUsage() {
    const c = this.config;
    const tokens = this.model.position;
    return { tokensInCache: tokens, kvBytes: tokens * c.numLayers * c.numKvHeads * c.headDim * 2 * 4 };
  }
}

export async function openReferenceRunner(modelPath: string): Promise<CliRunner> {
  const loaded = await loadModelFromPath(modelPath);
  const backend = new ReferenceBackend(loaded);
  const tokenizer = loadTokenizer(loaded);
  const chatTemplate = createChatTemplate(loaded.tokenizerFiles.tokenizerConfig);
  return {
    async logits(opts) {
      checkAttention(opts.attention);
      return sequenceLogits(backend, opts.ids, opts.decode ? 'decode' : 'prefill');
    },
    async generate(opts) {
      checkAttention(opts.attention);
      const req = opts.request;
      if ((req.prompt === undefined) === (req.ids === undefined)) throw new InvalidArgumentError('--prompt', 'give exactly one of --prompt or --ids');
      if (req.prompt !== undefined && !tokenizer) throw new InvalidArgumentError('--prompt', `${loaded.source} has no tokenizer files; pass --ids instead`);
      const r = await generateIds(backend, tokenizer, chatTemplate, completionRequestOf(req), req.chat ?? false, {
        defaults: samplingDefaultsFromGenerationConfig(loaded.tokenizerFiles.generationConfig),
      });
      return r;
    },
    async close() {},
  };
}
