// SieveEngine: what the worker exposes. Owns the device, the loaded model and a queue that runs one request at a time.
import { AbortedError, InvalidArgumentError, NotLoadedError } from './errors/index.ts';
import { generateGreedy, sequenceLogits, type GenerationUsage, type LogitsMode } from './generation/index.ts';
import { createEngineDevice, type EngineDevice } from './gpu/index.ts';
import { loadModel, type LoadedModel, type ProgressCallback } from './model/index.ts';
import { GpuModel, type DecodeProfile } from './runtime/index.ts';
import { loadTokenizer, type TextTokenizer } from './tokenizer/index.ts';
import { createPolicy, type AttentionPolicy, type AttentionSpec } from './attention/index.ts';

export interface ModelInfo {
  source: string;
  format: string;
  architecture: string;
  vocabSize: number;
  numLayers: number;
  hiddenSize: number;
  maxPositionEmbeddings: number;
  weightBytes: number;
  hasTokenizer: boolean;
  adapter: string;
}

export interface EngineLogitsRequest {
  ids: number[];
  mode: LogitsMode;
  /** Attention policy spec (e.g. "dense"); acts on decode steps. */
  attention?: string | AttentionSpec;
}

export interface EngineGenerateRequest {
  prompt?: string;
  ids?: number[];
  maxTokens: number;
  temperature?: number;
  ignoreEos?: boolean;
  attention?: string | AttentionSpec;
}

export interface EngineGenerateResult {
  ids: number[];
  text: string;
  finish_reason: 'stop' | 'length';
  usage: GenerationUsage;
}

/**
 * The CLI grammar `name[:key=value[,key=value]...]` (kebab-case keys, slash-separated lists) as an API spec
 * (camelCase keys). Values that read as numbers become numbers.
 */
export function parseAttentionSpec(text: string): AttentionSpec {
  const [name, params = ''] = text.split(/:(.*)/s, 2);
  if (!name) throw new InvalidArgumentError('attention', 'expected name[:key=value,...]');
  const spec: AttentionSpec = { policy: name.trim() };
  for (const pair of params.split(',').filter((p) => p.trim().length > 0)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new InvalidArgumentError('attention', `"${pair}" is not key=value`);
    const key = pair.slice(0, eq).trim().replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const raw = pair.slice(eq + 1).trim();
    const one = (v: string) => (v !== '' && Number.isFinite(Number(v)) ? Number(v) : v);
    spec[key] = raw.includes('/') ? raw.split('/').map(one) : one(raw);
  }
  return spec;
}

export class SieveEngine {
  private device: EngineDevice | null = null;
  private loaded: LoadedModel | null = null;
  private model: GpuModel | null = null;
  private tokenizer: TextTokenizer | null = null;
  /** Requests run one after another, never interleaved on the one KV sequence. */
  private queue: Promise<unknown> = Promise.resolve();

  private serialize<T>(task: () => Promise<T>): Promise<T> {
    const next = this.queue.then(task, task);
    this.queue = next.catch(() => undefined);
    return next;
  }

  load(url: string, onProgress?: ProgressCallback): Promise<ModelInfo> {
    return this.serialize(async () => {
      if (typeof url !== 'string' || url.length === 0) throw new InvalidArgumentError('model', 'must be a URL of a model folder or .gguf file');
      this.device ??= await createEngineDevice();
      if (this.device.lost) throw this.device.lost;
      const loaded = await loadModel(url, { onProgress });
      const model = await GpuModel.create(this.device, loaded, onProgress);
      this.disposeModel();
      this.loaded = loaded;
      this.model = model;
      this.tokenizer = loadTokenizer(loaded);
      const c = loaded.config;
      return {
        source: loaded.source, format: loaded.format, architecture: c.architecture, vocabSize: c.vocabSize,
        numLayers: c.numLayers, hiddenSize: c.hiddenSize, maxPositionEmbeddings: c.maxPositionEmbeddings,
        weightBytes: model.weightBytes, hasTokenizer: this.tokenizer !== null,
        adapter: [this.device.adapterInfo.vendor, this.device.adapterInfo.architecture, this.device.adapterInfo.description].filter(Boolean).join(' '),
      };
    });
  }

  logits(req: EngineLogitsRequest): Promise<Float32Array> {
    return this.serialize(async () => {
      const model = this.requireModel();
      if (req.mode !== 'prefill' && req.mode !== 'decode') throw new InvalidArgumentError('mode', 'must be "prefill" or "decode"');
      model.setPolicy(this.policyFor(req.attention));
      return this.guard(() => sequenceLogits(model, req.ids, req.mode));
    });
  }

  generate(req: EngineGenerateRequest): Promise<EngineGenerateResult> {
    return this.serialize(async () => {
      const model = this.requireModel();
      if ((req.prompt === undefined) === (req.ids === undefined)) throw new InvalidArgumentError('prompt', 'give exactly one of prompt or ids');
      if (req.temperature !== undefined && req.temperature !== 0) throw new InvalidArgumentError('temperature', 'only greedy decoding (0) is available in this version');
      let ids = req.ids;
      if (req.prompt !== undefined) {
        if (!this.tokenizer) throw new InvalidArgumentError('prompt', `${this.loaded?.source} has no tokenizer files; pass ids instead`);
        ids = this.tokenizer.encode(req.prompt);
      }
      model.setPolicy(this.policyFor(req.attention));
      const r = await this.guard(() => generateGreedy(model, {
        ids: ids as number[], maxTokens: req.maxTokens, eosTokenIds: model.config.eosTokenIds, ignoreEos: req.ignoreEos,
      }));
      return { ids: r.ids, text: this.tokenizer ? this.tokenizer.decode(r.ids) : '', finish_reason: r.finishReason, usage: r.usage };
    });
  }

  /** Decode timings since the last call (bench/decode). */
  takeDecodeProfile(): Promise<DecodeProfile> {
    return this.serialize(async () => this.requireModel().takeProfile());
  }

  unload(): Promise<void> {
    return this.serialize(async () => this.disposeModel());
  }

  private policyFor(spec: string | AttentionSpec | undefined): AttentionPolicy {
    return createPolicy(typeof spec === 'string' || spec === undefined ? parseAttentionSpec(spec ?? 'dense') : spec);
  }

  private requireModel(): GpuModel {
    if (this.device?.lost) throw this.device.lost;
    if (!this.model) throw new NotLoadedError();
    return this.model;
  }

  /** After any failure the sequence is dropped so the next request starts clean. */
  private async guard<T>(task: () => Promise<T>): Promise<T> {
    try {
      return await task();
    } catch (e) {
      await this.model?.reset().catch(() => undefined);
      if (this.device?.lost) throw this.device.lost;
      if (e instanceof DOMException && e.name === 'AbortError') throw new AbortedError();
      throw e;
    }
  }

  private disposeModel(): void {
    this.model?.destroy();
    this.model = null;
    this.loaded = null;
    this.tokenizer = null;
  }
}
