// The eval's `webgpu` backend: the whole engine in headless Chromium (the CLI's browser host), each spec through the
// engine's own generate with the prompt in one prefill chunk. Retrieval only: perplexity needs every step's logits,
// which the page's generate does not return (use --backend dawn or reference). It lives with the CLI, beside the
// browser host it drives: the eval module knows nothing of browsers, and imports nothing of the CLI.
import { InvalidArgumentError } from '../errors/index.ts';
import type { LoadedModel } from '../model/index.ts';
import { openBrowserHost, raisePageError } from './browser-host.ts';
import { ANSWER_TOKENS, runItemByItem, type EvalBackend, type ItemRun } from '../eval/index.ts';

/**
 * The prompt in one prefill chunk: GpuModel's MAX_PREFILL_CHUNK (not imported: gpu-model.ts reads WebGPU's globals
 * when it loads, which Node does not have; the page's engine checks the value).
 */
const ONE_CHUNK = 4096;

type HostWindow = { sieveHost: Record<string, (arg?: unknown) => Promise<Record<string, unknown>>> };

export async function createWebGpuBackend(modelPath: string, loaded: LoadedModel): Promise<EvalBackend> {
  const host = await openBrowserHost(modelPath);
  const call = async (method: string, arg?: unknown) => {
    const r = await host.page.evaluate(([m, a]) => (window as unknown as HostWindow).sieveHost[m as string](a), [method, arg] as const);
    if (r.error) raisePageError(r.error as Record<string, unknown>);
    return r;
  };
  try {
    await call('load', { url: host.modelUrl, prefillChunk: ONE_CHUNK });
  } catch (e) {
    await host.close();
    throw e;
  }
  return {
    name: 'webgpu',
    config: loaded.config,
    run: (jobs, shouldStop) => runItemByItem(jobs, shouldStop, async ({ item, specs }) => {
      if (item.task === 'perplexity') throw new InvalidArgumentError('--task', 'perplexity needs every step\'s logits: use --backend dawn or --backend reference');
      const runs: ItemRun[] = [];
      for (const spec of specs) {
        const t0 = performance.now();
        const r = (await call('generate', { ids: [...item.ids], maxTokens: ANSWER_TOKENS, temperature: 0, attention: spec })).result as {
          ids: number[]; usage: { kv_bytes: number; tokens_in_cache: number; prefill_tokens_per_s?: number };
        };
        const ms = performance.now() - t0;
        runs.push({ spec, generated: r.ids, nll: null, kvBytes: r.usage.kv_bytes, tokensInCache: r.usage.tokens_in_cache, setupMs: 0, prefillMs: 0, decodeMs: ms, decodeSteps: Math.max(1, r.ids.length - 1) });
      }
      return runs;
    }),
    close: () => host.close(),
  };
}
