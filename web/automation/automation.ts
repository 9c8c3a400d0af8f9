// Engine host page for automation (the `sieve` CLI and e2e tests): starts the engine worker and exposes a
// JSON-friendly handle on window.sieveHost that Playwright calls with page.evaluate.
import * as Comlink from 'comlink';
import {
  installSieveErrorTransfer, type CompletionRequest, type CompletionChunk, type EngineGenerateRequest, type EngineLoadOptions, type EngineLogitsRequest,
  type LoadProgress,
} from '../../engine/protocol.ts';
import type { AutomationEngine } from './engine-test.worker.ts';
import { runRandomAborts, runWorkerDeath, type RandomAbortsOptions } from './random-aborts.ts';

function toBase64(bytes: Uint8Array): string {
  let s = '';
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) s += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(s);
}

/** Errors cross page.evaluate as plain objects; keep the typed fields. */
function plainError(e: unknown): { error: Record<string, unknown> } {
  const err = e as { name?: string; code?: string; message?: string; remedy?: string; details?: unknown };
  return { error: { name: err?.name ?? 'Error', code: err?.code ?? 'INTERNAL', message: err?.message ?? String(e), remedy: err?.remedy, details: err?.details } };
}

installSieveErrorTransfer();
const worker = new Worker(new URL('./engine-test.worker.ts', import.meta.url), { type: 'module' });
const engine = Comlink.wrap<AutomationEngine>(worker);

const host = {
  /**
   * A model URL, or {url} plus the load options (quantization, kvDtype) and the model store's (cache, accessToken,
   * catalogId: e2e/hub.spec.ts); `progress: true` returns the progress events too.
   */
  async load(arg: string | ({ url: string; progress?: boolean } & Pick<EngineLoadOptions, 'cache' | 'accessToken' | 'catalogId' | 'quantization' | 'prefillChunk' | 'kvDtype'>)) {
    const events: LoadProgress[] = [];
    try {
      const { url, progress, ...store } = typeof arg === 'string' ? { url: arg } as { url: string; progress?: boolean } : arg;
      const onProgress = progress ? Comlink.proxy((p: LoadProgress) => { events.push(p); }) : undefined;
      const info = await engine.load(url, onProgress, store);
      return progress ? { info, progress: events } : { info };
    } catch (e) { return { ...plainError(e), ...(events.length > 0 ? { progress: events } : {}) }; }
  },
  /** The model store: URLs kept (e2e/hub.spec.ts). */
  async cachedModels() {
    try {
      return { models: await engine.listCachedModels() };
    } catch (e) { return plainError(e); }
  },
  async logits(req: EngineLogitsRequest) {
    try {
      const logits = await engine.logits(req);
      return { base64: toBase64(new Uint8Array(logits.buffer, logits.byteOffset, logits.byteLength)), length: logits.length };
    } catch (e) { return plainError(e); }
  },
  async generate(req: EngineGenerateRequest) {
    try {
      return { result: await engine.generate(req) };
    } catch (e) { return plainError(e); }
  },
  /** OpenAI's completions.create, non-streaming: the completion object (usage with prompt_tokens_details). */
  async completion(req: CompletionRequest) {
    try {
      return { completion: await engine.completion({ ...req, stream: false }) };
    } catch (e) { return plainError(e); }
  },
  async profile() {
    try {
      return { profile: await engine.takeDecodeProfile() };
    } catch (e) { return plainError(e); }
  },
  /** Registered attention policy names: the CLI checks --attention against them before any model is fetched. */
  async policies() {
    try {
      return { policies: await engine.listPolicies() };
    } catch (e) { return plainError(e); }
  },
  /**
   * A streaming completion during which the worker's GPU device is destroyed once the first token arrived
   * (the automation worker's test hook): what the stream delivered before, and the error it ended with.
   */
  async loseDeviceDuring(req: CompletionRequest) {
    const chunks: CompletionChunk[] = [];
    let lost = false;
    try {
      await engine.completion({ ...req, stream: true }, Comlink.proxy(async (chunk: CompletionChunk) => {
        chunks.push(chunk);
        if (!lost && chunk.choices.length > 0) lost = await engine.loseDevice();
      }));
      return { chunks, lost };
    } catch (e) { return { chunks, lost, ...plainError(e) }; }
  },
  /** Random aborts through web/client's SieveClient (its own worker): e2e/reliability.spec.ts. */
  async randomAborts(options: RandomAbortsOptions) {
    try {
      return { result: await runRandomAborts(options) };
    } catch (e) { return plainError(e); }
  },
  /** A worker that crashes mid-stream under web/client's SieveClient: e2e/reliability.spec.ts. */
  async workerDeath(arg: string | { url: string; how: 'crash' | 'close' }) {
    try {
      const { url, how } = typeof arg === 'string' ? { url: arg, how: 'crash' as const } : arg;
      return { result: await runWorkerDeath(url, how) };
    } catch (e) { return plainError(e); }
  },
  /** Deletes a model from the store (it waits for loads reading it): when it was asked for and when it was done. */
  async deleteCachedModel(url: string) {
    try {
      const askedAt = Date.now();
      await engine.deleteCachedModel(url);
      return { askedAt, doneAt: Date.now() };
    } catch (e) { return plainError(e); }
  },
  async isModelCached(url: string) {
    try {
      return { cached: await engine.isModelCached(url) };
    } catch (e) { return plainError(e); }
  },
  async unload() {
    await engine.unload();
  },
};

(window as unknown as { sieveHost: typeof host }).sieveHost = host;
(window as unknown as { sieveHostReady: boolean }).sieveHostReady = true;
