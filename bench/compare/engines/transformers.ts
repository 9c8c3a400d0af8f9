// Transformers.js 4.x, its web build (the one a page uses: onnxruntime-web on WebGPU) imported in Node, given Dawn as
// navigator.gpu. Three things make it run here (issue 17): the build reads `process.release.name` at import and
// would treat Node as Node (onnxruntime-node, local paths), so that is hidden during the import and the model files
// come over the driver's local HTTP server; ORT's wasm is given from the root's onnxruntime-web (the one Sieve runs:
// bench/compare's install links it) instead of a CDN; and dawn.node's SharedArrayBuffer writeBuffer (dawn.ts).
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-web/webgpu';
import type { EngineUnderTest, ModelRef } from '../protocol.ts';
import { packageVersions } from '../versions.ts';

// The little of its API used here, typed locally: bench/compare's packages are not installed when the root typechecks.
interface CausalLM {
  generate(options: Record<string, unknown>): Promise<{ tolist(): bigint[][] }>;
  dispose(): Promise<unknown>;
}
interface Transformers {
  env: { version: string; allowLocalModels: boolean; allowRemoteModels: boolean; useBrowserCache: boolean; remoteHost: string; remotePathTemplate: string };
  AutoModelForCausalLM: { from_pretrained(id: string, options: Record<string, unknown>): Promise<CausalLM> };
  Tensor: new (type: string, data: BigInt64Array, dims: number[]) => unknown;
}

declare const __ORT_WASM_URL__: string | undefined;

async function importWebBuild(): Promise<Transformers> {
  // The wasm beside ORT's module (from source: the root's node_modules; bundled: build.mjs copies it beside the bundle).
  const wasm = typeof __ORT_WASM_URL__ !== 'undefined'
    ? new URL(__ORT_WASM_URL__, import.meta.url)
    : new URL('../../../node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.wasm', import.meta.url);
  ort.env.wasm.wasmPaths = new URL('.', wasm).href;
  ort.env.wasm.wasmBinary = readFileSync(wasm);
  ort.env.wasm.numThreads = 1;
  const release = process.release;
  Object.defineProperty(process, 'release', { value: { ...release, name: 'browser' }, configurable: true });
  try {
    // By path: the package's exports give Node its Node build; the web build is the `default` condition's file.
    return (await import('../node_modules/@huggingface/transformers/dist/transformers.web.js' as string)) as Transformers;
  } finally {
    Object.defineProperty(process, 'release', { value: release, configurable: true });
  }
}

const DTYPE = { fp32: 'fp32', fp16: 'fp16', q4: 'q4' } as const;
const WEIGHT_BYTES_PER_PARAM = { fp32: 4, fp16: 2 } as const;

export function createTransformers(): EngineUnderTest {
  let T: Transformers | null = null;
  let model: CausalLM | null = null;
  return {
    describe: (format) => ({
      fp32: 'Transformers.js fp32 (model.onnx: f32 weights, activations and KV)',
      fp16: 'Transformers.js fp16 (model_fp16.onnx: f16 weights, activations and KV)',
      q4: 'Transformers.js q4 (model_q4.onnx: MatMulNBits 4-bit blocks of 32, f32 scales, f32 activations and KV)',
    })[format],
    versions: async () => {
      const v = packageVersions();
      return { '@huggingface/transformers': T?.env.version ?? v['@huggingface/transformers'], 'onnxruntime-web': ort.env.versions.web ?? v['onnxruntime-web'], webgpu: v.webgpu };
    },
    async load(ref: ModelRef, onStage) {
      T ??= await importWebBuild();
      const { env, AutoModelForCausalLM } = T;
      env.allowLocalModels = false;
      env.allowRemoteModels = true;
      env.useBrowserCache = false;
      const base = new URL(ref.url);
      env.remoteHost = base.origin + '/';
      env.remotePathTemplate = '{model}/';
      const info = ref.exportInfo.exports[ref.format];
      if (!info) throw new Error(`no ${ref.format} export in ${ref.url}`);
      model = await AutoModelForCausalLM.from_pretrained(base.pathname.replace(/^\/|\/$/g, ''), {
        device: 'webgpu', dtype: DTYPE[ref.format], use_external_data_format: info.externalDataChunks || false,
        // Its file statuses (initiate, download, done, ready), not the byte counts between them.
        progress_callback: (p: { status: string; file?: string }) => { if (p.status !== 'progress') onStage(`${p.status}${p.file ? ` ${p.file}` : ''}`); },
      });
    },
    async generate(ids, maxTokens, onToken) {
      if (!T || !model) throw new Error('not loaded');
      const input = new T.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]);
      let puts = 0;
      const out = await model.generate({
        inputs: input, max_new_tokens: maxTokens, do_sample: false, eos_token_id: null,
        // The first put is the prompt, then one per generated token.
        streamer: { put: () => { if (puts++ > 0) onToken(); }, end: () => undefined },
      });
      return { ids: out.tolist()[0].slice(ids.length).map(Number), cachedTokens: null };
    },
    async unload() {
      await model?.dispose();
      model = null;
    },
    weightBytesPerToken: (ref) => {
      const c = ref.exportInfo.config;
      const params = matrixParams(c);
      return ref.format === 'q4' ? params / 2 + (params / 32) * 4 : params * WEIGHT_BYTES_PER_PARAM[ref.format];
    },
    kvBytesPerToken: (ref) => 2 * ref.exportInfo.config.num_hidden_layers * ref.exportInfo.config.num_key_value_heads * ref.exportInfo.config.head_dim * (ref.format === 'fp16' ? 2 : 4),
  };
}

/** Parameters of the matrices a decode step reads: every layer's projections and the (tied) LM head. */
export function matrixParams(c: ModelRef['exportInfo']['config']): number {
  const h = c.hidden_size, d = c.head_dim, L = c.num_hidden_layers;
  const q = (c.num_attention_heads as number) * d, kv = c.num_key_value_heads * d, f = c.intermediate_size as number;
  return L * (h * q + 2 * h * kv + q * h + 3 * h * f) + c.vocab_size * h;
}
