// WebLLM (@mlc-ai/web-llm, MLCEngine in this process, on Dawn's navigator.gpu) with a prebuilt WebGPU model library
// from mlc-ai/binary-mlc-llm-libs and the same checkpoint converted by export/to_mlc.py (export.json's `mlc` entry per
// cell format says where). Two things make it run in Node: the Cache API it keeps its files in (caches.open) is
// given here, in memory, so a "cached" load is a second load in the same process with every file already fetched (a
// browser's would read its disk cache); and the prompt goes through its text completion API as `<a> <b> ...`, which
// the converter's word-level tokenizer maps to exactly the ids a, b, ... (no template, no prefix tokens).
// 0.2.79 is the newest WebLLM whose prebuilt libraries (v0_2_48) are in binary-mlc-llm-libs as stored here.
import { createRequire } from 'node:module';
import type { EngineUnderTest, ModelRef } from '../protocol.ts';
import { packageVersions } from '../versions.ts';

/** An in-memory Cache API (the part WebLLM's ArtifactCache uses: open, match, add, put, keys, delete). */
function installCaches(): void {
  if ((globalThis as { caches?: unknown }).caches) return;
  const stores = new Map<string, Map<string, { body: ArrayBuffer; headers: [string, string][]; status: number }>>();
  const key = (r: RequestInfo | URL) => (typeof r === 'string' ? r : r instanceof URL ? r.href : r.url);
  const open = async (name: string) => {
    let s = stores.get(name);
    if (!s) stores.set(name, (s = new Map()));
    const store = s;
    const put = async (r: RequestInfo | URL, response: Response) => {
      if (!response.ok) throw new Error(`${key(r)}: HTTP ${response.status}`);
      store.set(key(r), { body: await response.arrayBuffer(), headers: [...response.headers], status: response.status });
    };
    return {
      match: async (r: RequestInfo | URL) => {
        const e = store.get(key(r));
        return e ? new Response(e.body.slice(0), { status: e.status, headers: e.headers }) : undefined;
      },
      put,
      add: async (r: RequestInfo | URL) => put(r, await fetch(r)),
      keys: async () => [...store.keys()].map((u) => new Request(u)),
      delete: async (r: RequestInfo | URL) => store.delete(key(r)),
    };
  };
  (globalThis as { caches?: unknown }).caches = {
    open, has: async (n: string) => stores.has(n), delete: async (n: string) => stores.delete(n), keys: async () => [...stores.keys()],
  };
}

// The little of its API used here, typed locally: bench/compare's packages are not installed when the root typechecks.
interface WebLLMEngine {
  setAppConfig(config: unknown): void;
  reload(modelId: string): Promise<void>;
  unload(): Promise<void>;
  completions: { create(request: Record<string, unknown>): Promise<AsyncIterable<{ choices: { text?: string }[] }>> };
}

export interface MlcExport { dir: string; quantization: string; lib: string; bytes: number }

export function createWebLLM(): EngineUnderTest {
  installCaches();
  let engine: WebLLMEngine | null = null;
  // The running load's stage reporter: WebLLM's progress texts name the step (fetching shard i, loading shard i onto
  // the GPU, compiling), which is where a failure inside its wasm runtime happened.
  let stage: (text: string) => void = () => undefined;
  let mlc: MlcExport | null = null;
  const mlcOf = (ref: ModelRef) => (ref.exportInfo as { mlc?: Record<string, MlcExport> }).mlc?.[ref.format] ?? null;
  return {
    describe: (format) => (mlc
      ? `WebLLM ${mlc.quantization} (prebuilt library ${mlc.lib}; weights converted by export/to_mlc.py, unquantized: the checkpoint's numbers; MLC KV ${mlc.quantization.endsWith('f16') ? 'f16' : 'f32'})`
      : `WebLLM: no MLC conversion for ${format}`),
    versions: async () => {
      const v = packageVersions();
      return { '@mlc-ai/web-llm': v['@mlc-ai/web-llm'], webgpu: v.webgpu, library: mlc?.lib ?? '' };
    },
    async load(ref, onStage) {
      stage = onStage;
      mlc = mlcOf(ref);
      if (!mlc) throw new Error(`no MLC conversion of this model for ${ref.format} (export/to_mlc.py makes one where a prebuilt library of the shape exists)`);
      const base = new URL(mlc.dir, ref.url).href; // .../mlc-q0f16/resolve/main/
      // The tokenizer's emscripten glue, in Node's branch, calls a free createRequire(<page URL>) for fs and path.
      (globalThis as { createRequire?: unknown }).createRequire ??= () => createRequire(import.meta.url);
      // WebLLM reads the page's location.origin (for relative URLs; ours are absolute), and its bundled emscripten glue
      // stands location.href in for import.meta.url, which Node's branch turns into a file path: this module's.
      (globalThis as { location?: unknown }).location ??= { origin: new URL(ref.url).origin, href: import.meta.url };
      const appConfig = {
        model_list: [{ model: base.replace(/resolve\/main\/$/, ''), model_id: 'sieve-compare', model_lib: new URL('model.wasm', base).href }],
        useIndexedDBCache: false,
      };
      if (!engine) {
        onStage('import @mlc-ai/web-llm');
        const { MLCEngine } = (await import('@mlc-ai/web-llm' as string)) as { MLCEngine: new (o: Record<string, unknown>) => WebLLMEngine };
        onStage('new MLCEngine');
        engine = new MLCEngine({ appConfig, logLevel: 'INFO', initProgressCallback: (r: { text: string }) => stage(r.text) });
      }
      engine.setAppConfig(appConfig);
      onStage(`reload (library ${mlc.lib}, ${mlc.quantization}, ${(mlc.bytes / 1e6).toFixed(0)} MB of parameters)`);
      await engine.reload('sieve-compare');
    },
    async generate(ids, maxTokens, onToken) {
      if (!engine) throw new Error('not loaded');
      const stream = await engine.completions.create({
        prompt: ids.map((i) => `<${i}>`).join(' '), max_tokens: maxTokens, temperature: 0, top_p: 1, ignore_eos: true,
        frequency_penalty: 0, presence_penalty: 0, stream: true,
      });
      const out: number[] = [];
      for await (const chunk of stream) {
        const text = chunk.choices[0]?.text ?? '';
        for (const m of text.matchAll(/<(\d+)>/g)) { out.push(Number(m[1])); onToken(); }
      }
      // Text completion starts each request from an empty cache: every turn of the chat is prefilled again.
      return { ids: out, cachedTokens: null };
    },
    async unload() {
      await engine?.unload();
    },
    weightBytesPerToken: (ref) => mlcOf(ref)?.bytes ?? 0,
    kvBytesPerToken: (ref) => {
      const c = ref.exportInfo.config;
      return 2 * c.num_hidden_layers * c.num_key_value_heads * c.head_dim * ((mlcOf(ref)?.quantization ?? '').endsWith('f16') ? 2 : 4);
    },
  };
}
