// One engine's process (its own JS heap, its own Dawn device): `child.ts <sieve|transformers|webllm|probe>`, driven
// by driver.ts over the IPC channel, one request at a time.
import { adapterInfo, compileMeter, DAWN_FLAGS, gpuMeter, measureBandwidth, measureReadBandwidth } from './dawn.ts';
import type { EngineUnderTest, GenerateResult, LoadResult, ModelRef, Request, Response, StageMessage, Stats } from './protocol.ts';

const which = process.argv[2];

async function openEngine(): Promise<EngineUnderTest | null> {
  if (which === 'sieve') return (await import('./engines/sieve.ts')).createSieve();
  if (which === 'transformers') return (await import('./engines/transformers.ts')).createTransformers();
  if (which === 'webllm') return (await import('./engines/webllm.ts')).createWebLLM();
  if (which === 'probe') return null;
  throw new Error(`unknown engine ${which}`);
}

const jsBytes = () => { const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers; };
let peakJs = jsBytes();
let model: ModelRef | null = null;

async function generate(engine: EngineUnderTest, ids: number[], maxTokens: number): Promise<GenerateResult> {
  const times: number[] = [];
  const t0 = performance.now();
  const r = await engine.generate(ids, maxTokens, () => { times.push(performance.now()); });
  const end = performance.now();
  if (r.ids.length !== maxTokens) throw new Error(`asked for ${maxTokens} tokens, got ${r.ids.length}`);
  if (times.length !== maxTokens) throw new Error(`onToken ran ${times.length} times for ${maxTokens} tokens`);
  return { ids: r.ids, firstTokenMs: times[0] - t0, decodeMs: times[times.length - 1] - times[0], totalMs: end - t0, cachedTokens: r.cachedTokens };
}

async function main() {
  const engine = await openEngine();
  const handle = async (req: Request): Promise<unknown> => {
    switch (req.cmd) {
      case 'probe':
        return { adapter: await adapterInfo(), dawnFlags: DAWN_FLAGS, bandwidthBytesPerS: await measureBandwidth(req.bandwidthBytes), readBandwidthBytesPerS: await measureReadBandwidth(req.bandwidthBytes) };
      case 'load': {
        if (!engine) throw new Error('probe has no engine');
        // Peak JS memory during the load: sampled between the engine's awaits, and at the end.
        peakJs = jsBytes();
        const sampler = setInterval(() => { peakJs = Math.max(peakJs, jsBytes()); }, 5);
        const compileBefore = { ...compileMeter };
        const t0 = performance.now();
        const stages: LoadResult['stages'] = [];
        const onStage = (stage: string) => {
          if (stages.at(-1)?.stage === stage) return;
          stages.push({ stage, atMs: performance.now() - t0 });
          // Also to the driver at once (and to stderr, which the driver keeps in the engine's log): if the engine's
          // runtime ends the process, the last stage reached is known.
          process.send?.({ id: -1, stage } satisfies StageMessage);
          console.error(`[stage ${(performance.now() - t0).toFixed(0)} ms] ${stage}`);
        };
        try {
          await engine.load(req.model, onStage);
          model = req.model;
          const loaded = performance.now();
          peakJs = Math.max(peakJs, jsBytes());
          // To the first token: shader compilation for prefill and decode included.
          onStage('first token');
          await generate(engine, [1, 2, 3, 4], 2);
          const r: LoadResult = { ms: loaded - t0, firstTokenMs: performance.now() - t0, peakJsBytes: Math.max(peakJs, jsBytes()), peakGpuBytes: gpuMeter.peak, stages,
            compile: { modules: compileMeter.modules - compileBefore.modules, pipelines: compileMeter.pipelines - compileBefore.pipelines, asyncPipelines: compileMeter.asyncPipelines - compileBefore.asyncPipelines, ms: compileMeter.ms - compileBefore.ms, asyncWallMs: compileMeter.asyncWallMs - compileBefore.asyncWallMs } };
          return r;
        } finally {
          clearInterval(sampler);
        }
      }
      case 'generate':
        if (!engine) throw new Error('probe has no engine');
        return generate(engine, req.ids, req.maxTokens);
      case 'unload':
        await engine?.unload();
        model = null;
        return { liveGpuBytes: gpuMeter.live };
      case 'stats': {
        if (!engine) throw new Error('probe has no engine');
        const s: Stats = {
          peakGpuBytes: gpuMeter.peak, liveGpuBytes: gpuMeter.live, peakJsBytes: peakJs, versions: await engine.versions(),
          describe: model ? engine.describe(model.format) : '', weightBytesPerToken: model ? engine.weightBytesPerToken(model) : 0,
          kvBytesPerToken: model ? engine.kvBytesPerToken(model) : 0,
        };
        return s;
      }
      case 'exit':
        setTimeout(() => process.exit(0), 10);
        return null;
    }
  };
  process.on('message', (req: Request) => {
    handle(req).then(
      (result) => process.send?.({ id: req.id, ok: true, result } satisfies Response),
      (e: unknown) => {
        // Some engines reject with plain objects (WebLLM's runtime, a GPU error): say what is in them.
        const err = e instanceof Error ? e : new Error(typeof e === 'object' && e !== null ? `${e.constructor?.name ?? 'object'} ${JSON.stringify(e, Object.getOwnPropertyNames(e))}` : String(e));
        // Node's fetch says only "fetch failed"; the why (a socket closed, a timeout, out of memory) is its cause.
        for (let c = (err as { cause?: unknown }).cause, depth = 0; c && depth < 3; c = (c as { cause?: unknown }).cause, depth++) {
          err.message += ` (cause: ${c instanceof Error ? `${c.name}: ${c.message}${(c as { code?: string }).code ? ` [${(c as { code?: string }).code}]` : ''}` : String(c)})`;
        }
        process.send?.({ id: req.id, ok: false, error: { name: err.name, message: err.message, code: (err as { code?: string }).code, stack: err.stack } } satisfies Response);
      },
    );
  });
  process.send?.({ id: 0, ok: true, result: 'ready' } satisfies Response);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
