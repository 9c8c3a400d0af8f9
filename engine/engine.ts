// SieveEngine: what the worker exposes. Owns the device, the loaded model and a queue that runs one request at a time.
import { AbortedError, InvalidArgumentError, NotLoadedError } from './errors/index.ts';
import type { KvDtype } from './kv/index.ts';
import { sequenceLogits, validateIds, type LogitsMode, type PrefillProgress } from './generation/index.ts';
import { createEngineDevice, withGpuErrorScopes, type EngineDevice } from './gpu/index.ts';
import { streamModel, type FileSource, type ModelConfig, type ModelFiles, type LoadProgress, type ProgressCallback } from './model/index.ts';
import {
  catalogModelConfig, checkCapabilities, deleteCachedModel, defaultModelStorage, findCatalogModel, isModelCached, modelNeeds, openCachedModelSource,
  type CachedModelSource, type CatalogModel,
} from './hub/index.ts';
import { checkGpuModelOptions, GpuModel, GpuWeightWriter, quantizeOnFor, type DecodeProfile, type GpuModelOptions } from './runtime/index.ts';
import { codeBytesPerF32Byte, parseQuantization, type QuantizationMode } from './quant/index.ts';
import { defaultWeightFormat } from './decode/index.ts';
import { createChatTemplate, loadTokenizer, type ChatTemplate, type TextTokenizer } from './tokenizer/index.ts';
import {
  createChatCompletion, createCompletion, generateIds, samplingDefaultsFromGenerationConfig, validateChatCompletionRequest,
  validateCompletionRequest, type ChatCompletion, type ChatCompletionChunk, type ChatCompletionRequest, type Completion,
  type CompletionChunk, type CompletionOptions, type CompletionRequest, type GeneratedIds, type GenerateRequest, completionRequestOf, type SamplingDefaults,
} from './api/index.ts';
import { listPolicies } from './attention/index.ts';
import { FairQueue } from './scheduling/index.ts';
import { createPolicy, parseAttentionSpec, type AttentionPolicy, type AttentionSpec, type AttentionSpecInput } from './attention/index.ts';
import {
  calibrationFileName, calibrationFolderOfUrl, checkCalibrationFits, isCalibrationMethod, parseCalibration, readCalibrationBeside,
  type CalibrationArtifact, type CalibrationMethod,
} from './calibration/index.ts';

export interface ModelInfo {
  source: string;
  format: string;
  architecture: string;
  vocabSize: number;
  numLayers: number;
  hiddenSize: number;
  maxPositionEmbeddings: number;
  /** GPU bytes of the weights as stored (quantized codes, scales and zero points included). */
  weightBytes: number;
  /** How the matrices are stored on the GPU: 'f32', 'f16', or 'int8' / 'int4' blocks (the load option, or the adapter's default). */
  quantization: QuantizationMode;
  /**
   * Tensors per storage format on the GPU: 'f32', or blocks as int<bits>/<block size>, '+min' where blocks carry an
   * f32 min. A GGUF's quantized tensors keep their own format: Q4_K_M gives { 'int4/32+min': ..., 'int8/16': ..., f32: ... }.
   */
  weightFormats: Record<string, number>;
  hasTokenizer: boolean;
  adapter: string;
}

/** engine.stats(): what the engine holds on the GPU now, and the limits of the adapter it runs on. */
export interface EngineStats {
  /** Null when no model is loaded. */
  model: {
    /** GPU bytes of the weights as stored. */
    weightBytes: number;
    /** Element type of the KV cache's K and V (the load option kvDtype, or the adapter's default). */
    kvDtype: KvDtype;
    /** GPU bytes of the KV pool as allocated now (it grows by steps as sequences need it). */
    kvPoolBytes: number;
    /** GPU bytes the pool may grow to: kvMemory's whole pages (contextLength is what they hold). */
    kvPoolLimitBytes: number;
    /** Bytes of the pool's pages that sequences hold now. */
    kvInUseBytes: number;
    /** The most pool bytes held at once since the model was loaded. */
    kvPeakBytes: number;
    /** Pool bytes one cached token takes (all layers and KV heads, K, V and its position). */
    kvBytesPerToken: number;
    /** Positions a dense sequence can hold (the trained context, or less when the pool holds fewer). */
    contextLength: number;
    /** GPU bytes of the prefill chunk's activations (the WGSL prefill path's buffers, sized by prefillChunk). */
    prefillActivationBytes: number;
  } | null;
  /** Every buffer on the engine's device, ORT's included. Null before the first load made the device. */
  gpu: { liveBuffers: number; liveBytes: number; peakBytes: number } | null;
  /** The adapter's limits the engine runs under (null before the device exists). */
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number } | null;
}

export interface EngineLogitsRequest {
  ids: number[];
  mode: LogitsMode;
  /** Attention policy spec (e.g. "dense"); acts on decode steps. */
  attention?: string | AttentionSpec;
}

/** How load() fetches: GpuModelOptions plus the browser model store (engine/hub). */
export interface EngineLoadOptions extends GpuModelOptions {
  /**
   * Keep the model's files in the browser (OPFS): downloads resume after an interruption, are checked for size and
   * sha256, and a later load reads them with no request at all.
   */
  cache?: boolean;
  /** Hugging Face access token for gated or private repositories (sent as `Authorization: Bearer`); implies cache. */
  accessToken?: string;
  /**
   * A models/catalog.json id: before any download, the adapter is checked against the model's config and the
   * storage quota against its files' sizes; its known sha256 are verified. Implies cache.
   */
  catalogId?: string;
  /**
   * Calibration artifacts (the JSON `sieve calibrate` writes; one, or a list with one per method) for the policies
   * that need one (double-sparsity, fasa). Checked against the model at load; used instead of the
   * `<method>.calibration.json` the engine otherwise reads beside the model when such a policy is first asked for.
   */
  calibration?: unknown;
  /** Whose turn the load takes in the engine's queue (EngineRequestOptions.owner). */
  owner?: string;
}

export type EngineGenerateRequest = GenerateRequest;

/** In-process callers' per-request options (across the worker, the client maps its signal onto interrupt()). */
export interface EngineRequestOptions {
  /** Aborts the request, running or still queued: it ends with finish_reason "abort". */
  signal?: AbortSignal;
  /**
   * Who asks: requests take turns between owners (engine/scheduling's FairQueue). The shared worker names each tab;
   * callers that name none share one first-come-first-served line.
   */
  owner?: string;
}

/** The queue line of callers that name no owner. */
const DEFAULT_OWNER = '';

export type EngineGenerateResult = GeneratedIds;


/** How long a failed request waits for the device's lost promise before it reports the failure as it came. */
const LOST_SETTLE_MS = 100;

function isAsyncIterable<T>(x: unknown): x is AsyncIterable<T> {
  return typeof x === 'object' && x !== null && Symbol.asyncIterator in x;
}

export class SieveEngine {
  private device: EngineDevice | null = null;
  private loaded: ModelFiles | null = null;
  private model: GpuModel | null = null;
  private tokenizer: TextTokenizer | null = null;
  private chatTemplate: ChatTemplate | null = null;
  private samplingDefaults: SamplingDefaults = {};
  /** Calibration artifacts by method: given at load, or read beside the model on first use (null: none there). */
  private calibrations = new Map<CalibrationMethod, CalibrationArtifact | null>();
  /** The model's URL, where `<method>.calibration.json` is looked for beside it. */
  private modelUrl = '';
  /** The last load that succeeded (URL and options), made again on a new device after a device loss. */
  private lastLoad: { url: string; options: EngineLoadOptions } | null = null;
  /** The policy of the last request and its spec (JSON of the normalized spec): see policyFor. */
  private lastPolicy: { key: string; policy: AttentionPolicy } | null = null;
  /** Aborts the task running now, whatever it is doing (a download, a calibration fetch, prefill, decode): interrupt(). */
  private inFlight: AbortController | null = null;
  /** Requests run one after another, never interleaved on the one KV sequence, in turns between owners. */
  private readonly queue = new FairQueue();

  /**
   * Runs `task` in its owner's turn (first come, first served within one owner). Its abort controller exists from the
   * moment it starts, so an interrupt() while it awaits anything (the calibration fetch of its policy included) is
   * kept; `signal` (in-process callers) aborts it too, whether it is running or still queued (then it starts already
   * aborted).
   */
  private serialize<T>(task: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal, owner = DEFAULT_OWNER): Promise<T> {
    const run = async () => {
      const controller = new AbortController();
      const onAbort = () => controller.abort();
      if (signal?.aborted) controller.abort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.inFlight = controller;
      try {
        return await task(controller.signal);
      } catch (e) {
        throw asAbortedError(e, controller.signal);
      } finally {
        signal?.removeEventListener('abort', onAbort);
        if (this.inFlight === controller) this.inFlight = null;
      }
    };
    return this.queue.run(owner, run);
  }

  /**
   * `options.signal` (in-process; across the worker, the client's signal calls interrupt()) stops the load: the
   * download is cancelled (a cached download keeps its bytes, so the next load resumes), what was made on the GPU is
   * freed, and the load throws AbortedError.
   */
  load(url: string, onProgress?: ProgressCallback, options: EngineLoadOptions = {}): Promise<ModelInfo> {
    return this.serialize((signal) => this.loadNow(url, onProgress, options, signal), options.signal, options.owner);
  }

  /** load()'s work, inside a serialized task (also the reload after a device loss). */
  private async loadNow(url: string, onProgress: ProgressCallback | undefined, options: EngineLoadOptions, signal: AbortSignal): Promise<ModelInfo> {
    {
      // Aborted while queued: the model loaded before stays (below, it is freed before the new one streams in).
      if (signal.aborted) throw new AbortedError('The model load was aborted.');
      if (typeof url !== 'string' || url.length === 0) throw new InvalidArgumentError('model', 'must be a URL of a model folder or .gguf file');
      const entry = options.catalogId ? findCatalogModel(options.catalogId) : null;
      if (options.catalogId && !entry) throw new InvalidArgumentError('catalogId', `"${options.catalogId}" is not in models/catalog.json`);
      // A catalog model loads in the format its entry says it needs to fit a tab, unless the caller asks for another;
      // an entry that needs no smaller format than f32, and a load that names none, take the adapter's default
      // (defaultWeightFormat: f16 on real GPUs, f32 on CPU adapters).
      const asked = options.quantization ?? (entry?.quantization === 'f32' ? undefined : entry?.quantization);
      parseQuantization(asked); // before any download
      checkGpuModelOptions(options);
      const engineDevice = await this.usableDevice();
      const quantization = parseQuantization(asked, defaultWeightFormat(engineDevice.adapterInfo));
      const cached = await this.cachedSource(url, onProgress, options, entry, quantization, signal);
      // The store's source holds the model's lock until the load is done (a delete in another tab waits for it).
      try {
        return await this.loadFrom(url, cached, engineDevice, onProgress, options, quantization, signal);
      } finally {
        cached?.close();
      }
    }
  }

  /** The rest of loadNow, with the model's files at `cached` (the model store) or at `url`. */
  private async loadFrom(
    url: string, cached: CachedModelSource | null, engineDevice: EngineDevice, onProgress: ProgressCallback | undefined, options: EngineLoadOptions,
    quantization: QuantizationMode, signal: AbortSignal,
  ): Promise<ModelInfo> {
    {
      const { maxStorageBufferBindingSize, maxBufferSize } = engineDevice.limits;
      const source: FileSource | string = cached ?? url;
      // A cached source reports its downloads itself (with rate and time left); the loader's own fetch events would repeat them.
      const loaderProgress = cached && onProgress ? (p: LoadProgress) => { if (p.phase !== 'fetch') void onProgress(p); } : onProgress;
      // The loader checks f32 tensor sizes; an f16 tensor is half of that, a quantized one's largest buffer (its codes) bits/32.
      const maxTensorBytes = Math.floor(Math.min(maxStorageBufferBindingSize, maxBufferSize) / codeBytesPerF32Byte(quantization));
      // The old model is freed before the new one's first buffer: two models at once are what a tab cannot hold.
      await this.disposeModel();
      // Weights stream from the network (or the model store) to the GPU tensor by tensor; none stays on the CPU.
      const writer = new GpuWeightWriter(
        engineDevice.device, typeof source === 'string' ? source : source.description, quantization, onProgress, undefined, quantizeOnFor(engineDevice.adapterInfo),
      );
      let loaded: ModelFiles;
      let calibrations: Map<CalibrationMethod, CalibrationArtifact | null>;
      try {
        loaded = await streamModel(source, writer, { onProgress: loaderProgress, maxTensorBytes, signal });
        calibrations = givenCalibrations(options.calibration, loaded.config);
      } catch (e) {
        writer.destroy();
        throw e;
      }
      // Pipelines, ORT sessions and working buffers are made in the GPU's error scopes (the weights were, per tensor).
      const askedBefore = engineDevice.buffers.liveBytes;
      const model = await withGpuErrorScopes(engineDevice.device, `${loaded.source}: the model's kernels and working buffers`,
        () => GpuModel.build(engineDevice, loaded.config, writer.finish(), onProgress, { ...options, quantization, signal }),
        { bytes: () => engineDevice.buffers.liveBytes - askedBefore, release: (m) => m.destroy() });
      if (signal.aborted) { model.destroy(); throw new AbortedError('The model load was aborted.'); }
      await cached?.markComplete();
      const { signal: _signal, owner: _owner, ...again } = options;
      this.lastLoad = { url, options: again };
      this.loaded = loaded;
      this.model = model;
      this.calibrations = calibrations;
      this.modelUrl = url;
      this.tokenizer = loadTokenizer(loaded);
      this.chatTemplate = createChatTemplate(loaded.tokenizerFiles.tokenizerConfig);
      this.samplingDefaults = samplingDefaultsFromGenerationConfig(loaded.tokenizerFiles.generationConfig);
      const c = loaded.config;
      return {
        source: loaded.source, format: loaded.format, architecture: c.architecture, vocabSize: c.vocabSize,
        numLayers: c.numLayers, hiddenSize: c.hiddenSize, maxPositionEmbeddings: c.maxPositionEmbeddings,
        weightBytes: model.weightBytes, quantization: model.quantization, weightFormats: model.weightFormats, hasTokenizer: this.tokenizer !== null,
        adapter: [engineDevice.adapterInfo.vendor, engineDevice.adapterInfo.architecture, engineDevice.adapterInfo.description].filter(Boolean).join(' '),
      };
    }
  }

  /**
   * The engine's device, made anew when the last one was lost (a driver reset, the GPU process crashing, the tab
   * backgrounded too long): a lost device never comes back, so only a new one makes "reload the model" work.
   */
  private async usableDevice(): Promise<EngineDevice> {
    if (this.device?.lost) {
      await this.disposeModel(); // its buffers belong to the dead device; destroy() on them is harmless
      this.device = null;
    }
    this.device ??= await createEngineDevice();
    return this.device;
  }

  /**
   * The loaded model, for a request. After a device loss the model is loaded again on a new device from where it
   * came (a model kept in the browser's store loads with no download), so the conversation goes on: its cache is
   * rebuilt by this request's prefill.
   */
  private async readyModel(signal: AbortSignal): Promise<GpuModel> {
    if (this.device?.lost && this.lastLoad) {
      const { url, options } = this.lastLoad;
      await this.loadNow(url, undefined, options, signal);
    }
    return this.requireModel();
  }

  /**
   * The model store's source for a load that asks for it (cache, accessToken or catalogId), after the checks made
   * before any download: the catalog model's largest tensor and features against the adapter, and (in
   * openCachedModelSource) the storage quota against its files.
   */
  private async cachedSource(
    url: string, onProgress: ProgressCallback | undefined, options: EngineLoadOptions, entry: CatalogModel | null, quantization: QuantizationMode,
    signal: AbortSignal,
  ): Promise<CachedModelSource | null> {
    if (!options.cache && !options.accessToken && !entry) return null;
    const device = this.device as EngineDevice;
    if (entry) checkCapabilities(entry.name, modelNeeds(catalogModelConfig(entry), quantization), { limits: device.limits, features: device.device.features });
    return openCachedModelSource(this.absoluteUrl(url), {
      accessToken: options.accessToken,
      files: entry?.files,
      signal,
      onProgress: onProgress && ((p) => void onProgress({
        phase: 'fetch', file: p.file, loadedBytes: p.loadedBytes, totalBytes: p.totalBytes, bytesPerSecond: p.bytesPerSecond,
        timeLeftMs: p.timeLeftMs, fromCache: p.fromCache, resumedFrom: p.resumedFrom,
      })),
    });
  }

  /** A page-relative URL made absolute against the worker's location (same origin as the page), as the store keys it. */
  private absoluteUrl(url: string): string {
    const base = (globalThis as { location?: { href?: string } }).location?.href;
    return base ? new URL(url, base).href : url;
  }

  /** URLs of the models kept in this browser's model store. */
  async listCachedModels(): Promise<string[]> {
    return (await defaultModelStorage()).list();
  }

  /**
   * Whether every file of the model (the URL it was loaded from) is in this browser's model store, so a load reads
   * it with no request: the chat page asks before picking a default model offline. A partial download is not.
   */
  async isModelCached(url: string): Promise<boolean> {
    return isModelCached(this.absoluteUrl(url));
  }

  /** Deletes a model's files from the browser's model store (the URL it was loaded from). */
  async deleteCachedModel(url: string): Promise<void> {
    await deleteCachedModel(this.absoluteUrl(url));
  }

  logits(req: EngineLogitsRequest): Promise<Float32Array> {
    return this.serialize(async (signal) => {
      const model = await this.readyModel(signal);
      if (req.mode !== 'prefill' && req.mode !== 'decode') throw new InvalidArgumentError('mode', 'must be "prefill" or "decode"');
      model.setPolicy(await this.policyFor(req.attention));
      return this.guard(() => sequenceLogits(model, req.ids, req.mode));
    });
  }

  generate(req: EngineGenerateRequest, options: EngineRequestOptions = {}): Promise<EngineGenerateResult> {
    return this.serialize(async (signal) => {
      const model = await this.readyModel(signal);
      if ((req.prompt === undefined) === (req.ids === undefined)) throw new InvalidArgumentError('prompt', 'give exactly one of prompt or ids');
      if (req.ids !== undefined) validateIds(req.ids, model.config.vocabSize); // errors name `ids`, as the caller wrote it
      const request = completionRequestOf(req);
      model.setPolicy(await this.policyFor(validateCompletionRequest(request, model.config.vocabSize).attention));
      return this.guard(() => generateIds(model, this.tokenizer, this.chatTemplate, request, req.chat ?? false, { defaults: this.samplingDefaults, signal }, req.jsonSchema));
    }, options.signal, options.owner);
  }


  /**
   * OpenAI's chat.completions.create. With `stream: true`, chunks go to `onChunk` (a comlink-proxied callback
   * across the worker boundary, awaited for back-pressure) and the promise resolves with null once the last one
   * (carrying usage) was delivered; otherwise it resolves with the completion object. `onPrefillProgress` hears
   * {done, total} prompt tokens as the prompt's prefill chunks finish (not awaited).
   */
  chatCompletion(
    request: ChatCompletionRequest, onChunk?: (chunk: ChatCompletionChunk) => unknown, onPrefillProgress?: (p: PrefillProgress) => unknown,
    options: EngineRequestOptions = {},
  ): Promise<ChatCompletion | null> {
    return this.serialize(async (signal) => {
      const model = await this.readyModel(signal);
      if (!this.tokenizer || !this.chatTemplate) throw new InvalidArgumentError('messages', `${this.loaded?.source} has no tokenizer; use completions with token ids`);
      const params = validateChatCompletionRequest(request, model.config.vocabSize, this.samplingDefaults);
      model.setPolicy(await this.policyFor(params.attention));
      if (params.stream && !onChunk) throw new InvalidArgumentError('stream', 'streaming needs a chunk callback');
      return this.runRequest(signal, (o) => createChatCompletion(model, this.tokenizer as TextTokenizer, this.chatTemplate as ChatTemplate, request, o), onChunk, onPrefillProgress);
    }, options.signal, options.owner);
  }

  /** OpenAI's completions.create for raw prompts (text, or token ids for models without a tokenizer). */
  completion(
    request: CompletionRequest, onChunk?: (chunk: CompletionChunk) => unknown, onPrefillProgress?: (p: PrefillProgress) => unknown,
    options: EngineRequestOptions = {},
  ): Promise<Completion | null> {
    return this.serialize(async (signal) => {
      const model = await this.readyModel(signal);
      const params = validateCompletionRequest(request, model.config.vocabSize, this.samplingDefaults);
      model.setPolicy(await this.policyFor(params.attention));
      if (params.stream && !onChunk) throw new InvalidArgumentError('stream', 'streaming needs a chunk callback');
      return this.runRequest(signal, (o) => createCompletion(model, this.tokenizer, request, o), onChunk, onPrefillProgress);
    }, options.signal, options.owner);
  }

  /**
   * Pauses or resumes `owner`'s waiting requests (the shared worker's frozen tabs): they keep their place in the queue
   * while the other owners' run (FairQueue.pause). A request already running is not affected.
   */
  pauseOwner(owner: string, paused: boolean): void {
    this.queue.pause(owner, paused);
  }

  /**
   * Stops the task in flight: a request ends with finish_reason "abort" and the text so far (or, stopped before it
   * generated, with none); a load throws AbortedError.
   */
  interrupt(): void {
    this.inFlight?.abort();
  }

  /** Names of the registered attention policies (the chat page's picker). */
  listPolicies(): string[] {
    return listPolicies();
  }

  private async runRequest<R, C>(
    signal: AbortSignal,
    start: (options: CompletionOptions) => Promise<R | AsyncIterable<C>>,
    onChunk: ((chunk: C) => unknown) | undefined,
    onPrefillProgress?: (p: PrefillProgress) => unknown,
  ): Promise<R | null> {
    return this.guard(async () => {
      const r = await start({
        signal, modelName: this.loaded?.source, defaults: this.samplingDefaults,
        // Across the worker boundary a comlink proxy: a promise nobody waits for; a throwing page callback is its own affair.
        onPrefillProgress: onPrefillProgress ? (p) => { void Promise.resolve(onPrefillProgress(p)).catch(() => undefined); } : undefined,
      });
      if (!isAsyncIterable<C>(r)) return r;
      for await (const chunk of r) await onChunk?.(chunk);
      return null;
    });
  }

  /** GPU memory held now (weights, KV pool, KV in use, peaks) and the device limits. */
  stats(): Promise<EngineStats> {
    return this.serialize(async () => {
      const d = this.device;
      const m = this.model;
      return {
        model: m ? { ...m.memoryStats(), contextLength: m.denseContextLength() } : null,
        gpu: d ? { liveBuffers: d.buffers.liveBuffers, liveBytes: d.buffers.liveBytes, peakBytes: d.buffers.peakBytes } : null,
        limits: d ? { ...d.limits } : null,
      };
    });
  }

  /** Decode timings since the last call (bench/decode). */
  takeDecodeProfile(): Promise<DecodeProfile> {
    return this.serialize(async () => this.requireModel().takeProfile());
  }

  unload(options: EngineRequestOptions = {}): Promise<void> {
    return this.serialize(async () => {
      this.lastLoad = null; // unloaded on purpose: nothing to bring back after a device loss
      await this.disposeModel();
    }, options.signal, options.owner);
  }

  /**
   * The request's policy: the CLI grammar or an API object, validated against the policy's parameter table, made for
   * the loaded model with the calibration its method needs (CalibrationMissingError says how to make one).
   */
  private async policyFor(spec: AttentionSpecInput | undefined): Promise<AttentionPolicy> {
    const parsed = parseAttentionSpec(spec ?? 'dense');
    // A policy whose state describes the cached tokens goes on with the next turn under the same spec: per-page
    // metadata (Quest's key bounds, Double Sparsity's and FASA's labels) and an evicting policy's kept set and scores,
    // so the conversation's cache is reused (GpuModel resets the cache for a new such policy). Recycled Attention's
    // schedule is the request's own: it is made per request, as are the stateless ones.
    const key = JSON.stringify(parsed);
    const previous = this.lastPolicy;
    const carriesState = (p: AttentionPolicy) => p.needs.metadata.length > 0 || p.needs.evicts;
    if (previous && previous.key === key && carriesState(previous.policy)) return previous.policy;
    const policy = await this.createPolicyFor(parsed);
    this.lastPolicy = { key, policy };
    return policy;
  }

  private async createPolicyFor(parsed: ReturnType<typeof parseAttentionSpec>): Promise<AttentionPolicy> {
    const config = this.requireModel().config;
    if (!isCalibrationMethod(parsed.policy)) return createPolicy(parsed, { config });
    const method = parsed.policy;
    const folder = calibrationFolderOfUrl(this.modelUrl);
    if (!this.calibrations.has(method)) {
      const found = folder ? await readCalibrationBeside(folder, method) : null;
      if (found) checkCalibrationFits(found, config, `${folder?.description}/${calibrationFileName(method)}`);
      this.calibrations.set(method, found);
    }
    const searched = folder
      ? `none was given at load, and there is no ${calibrationFileName(method)} beside the model at ${folder.description}`
      : 'none was given at load';
    return createPolicy(parsed, { config, calibration: this.calibrations.get(method) ?? undefined, calibrationSearched: searched });
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
      // A lost device fails the work in flight (a readback, a session run) before its lost promise settles: give it a
      // moment, so the caller hears DEVICE_LOST rather than the symptom.
      const lost = this.device ? await this.device.lostWithin(LOST_SETTLE_MS) : null;
      if (lost) throw lost;
      await this.model?.reset().catch(() => undefined);
      throw e;
    }
  }

  private async disposeModel(): Promise<void> {
    const model = this.model;
    this.model = null;
    await model?.destroy();
    this.loaded = null;
    this.tokenizer = null;
    this.chatTemplate = null;
    this.samplingDefaults = {};
    this.calibrations = new Map();
    this.modelUrl = '';
    this.lastPolicy = null; // destroyed with the model
  }
}

/** The load option `calibration` (one artifact or a list) by method, each validated and checked against the model. */
function givenCalibrations(option: unknown, config: ModelConfig): Map<CalibrationMethod, CalibrationArtifact | null> {
  const given = new Map<CalibrationMethod, CalibrationArtifact | null>();
  if (option === undefined || option === null) return given;
  const list = Array.isArray(option) ? option : [option];
  list.forEach((json, i) => {
    const name = Array.isArray(option) ? `calibration[${i}]` : 'calibration';
    const artifact = parseCalibration(json, name);
    checkCalibrationFits(artifact, config, name);
    if (given.has(artifact.method)) throw new InvalidArgumentError(name, `a second ${artifact.method} calibration; give one per method`);
    given.set(artifact.method, artifact);
  });
  return given;
}

/** An abort that surfaced as the platform's AbortError (fetch, ORT) is the engine's AbortedError. */
function asAbortedError(e: unknown, signal: AbortSignal): unknown {
  if (e instanceof AbortedError) return e;
  if (signal.aborted && e instanceof Error && e.name === 'AbortError') return new AbortedError();
  return e;
}
