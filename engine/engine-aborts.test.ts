// 200 aborts at random moments across load (download, parse, upload, build), prefill (between chunks), decode and the
// queue, on the whole engine in Node on Dawn (SwiftShader) with a 2-layer transformers checkpoint
// (models/golden/llama3-rope) served over HTTP. Issue 13 item 4.
//
// A moment is an event count, not a timer: the k-th progress event of a load, or the k-th queue submit of a request
// (a prefill chunk and a decode step submit once each), with k drawn from the seed within the count that a whole run
// of that kind makes. So every abort lands inside its operation whatever the machine's speed, and a failing seed
// (SIEVE_ABORTS_SEED) replays the same aborts. After each the engine answers; every 20th, its greedy ids equal
// transformers' (the checkpoint's greedy.json) and the live GPU buffer count is where it started.
import { currentDevice, devices, serveFolder, type ModelServer } from './engine-node.test-helper.ts';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Completion, CompletionRequest } from './api/index.ts';
import { SeededRandom } from './generation/index.ts';
import { AbortedError, SieveEngine } from './index.ts';
import type { LoadProgress } from './model/index.ts';

const ABORTS = Number(process.env.SIEVE_ABORTS ?? 200);
const SEED = Number(process.env.SIEVE_ABORTS_SEED ?? 13);
const CHECK_EVERY = 20;
const MODEL_DIR = fileURLToPath(new URL('../models/golden/llama3-rope/', import.meta.url));
/** transformers' greedy continuation of the checkpoint's prompt (models/golden/make-golden: generate, do_sample off). */
const GREEDY = JSON.parse(readFileSync(`${MODEL_DIR}greedy.json`, 'utf8')) as { prompt: number[]; continuation: number[] };
const VOCAB = 512;
/** Small chunks: a 48-id prompt is 6 chunks, so an abort can land between them. */
const LOAD_OPTIONS = { prefillChunk: 8 };
/** The share of each kind: a load costs most (an aborted one is loaded again: seconds of kernel compiles on SwiftShader), so it is about one in thirty (6 of 200 with seed 13). */
const KINDS = [['load', 0.035], ['prefill', 0.3], ['decode', 0.3], ['queue', 0.365]] as const;
type Kind = typeof KINDS[number][0];

async function complete(engine: SieveEngine, request: CompletionRequest, signal?: AbortSignal): Promise<Completion> {
  return await engine.completion({ ...request, stream: false }, undefined, undefined, { signal }) as Completion;
}

/** Calls `onSubmit` at every submit on the engine's device (the moments of prefill chunks and decode steps). */
function watchSubmits(device: GPUDevice): { onSubmit: (() => void) | null; count: number } {
  const watch = { onSubmit: null as (() => void) | null, count: 0 };
  const submit = device.queue.submit.bind(device.queue);
  device.queue.submit = (buffers: Iterable<GPUCommandBuffer>) => {
    watch.count += 1;
    watch.onSubmit?.();
    return submit(buffers);
  };
  return watch;
}

describe('aborts anywhere (Dawn, 2-layer model)', () => {
  let server: ModelServer;
  let engine: SieveEngine;
  let url: string;
  /**
   * Progress events of a whole load, counted by the first test's load: the seeded test reuses that load rather than
   * make its own (a load is seconds of kernel compiles on SwiftShader), and loads again only when run alone.
   */
  let loadEvents = 0;

  beforeAll(async () => {
    // 4 KiB pieces 2 ms apart: the 240 KB checkpoint downloads in about 120 ms, tens of progress events.
    server = await serveFolder(MODEL_DIR, { chunkBytes: 4096, chunkDelayMs: 2 });
    url = `${server.url}/`;
    engine = new SieveEngine();
  });
  afterAll(async () => {
    await engine?.unload();
    await server?.close();
  });

  it('an abort between prefill chunks leaves the cache as if the request had not run', async () => {
    let events = 0;
    await engine.load(url, () => { events += 1; }, LOAD_OPTIONS);
    loadEvents = events;
    const prompt = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const first = await engine.generate({ ids: prompt, maxTokens: 6, ignoreEos: true });
    const held = first.usage.tokens_in_cache;
    // The next turn: everything so far plus 64 new ids (8 chunks of 8).
    const turn2 = [...prompt, ...first.ids, ...Array.from({ length: 64 }, (_, i) => 1 + ((i * 7 + 3) % 127))];
    const request: CompletionRequest = { prompt: turn2, max_tokens: 1, temperature: 0, ignore_eos: true };
    // Abort at the second chunk's submit: the engine sees it at the chunk boundary after it, before the last.
    const controller = new AbortController();
    const watch = watchSubmits(currentDevice().device);
    watch.onSubmit = () => { if (watch.count === 2) controller.abort(); };
    const aborted = await complete(engine, request, controller.signal);
    watch.onSubmit = null;
    expect(aborted.choices[0].finish_reason).toBe('abort');
    expect(aborted.usage.completion_tokens).toBe(0);
    const cached = aborted.usage.prompt_tokens_details.cached_tokens;
    expect(cached).toBe(prompt.length + first.ids.length - 1);
    // Stopped between chunks, before the last: it counts the chunks done, then drops them.
    expect(aborted.usage.prefilled_tokens).toBe(2 * LOAD_OPTIONS.prefillChunk);
    expect(aborted.usage.tokens_in_cache).toBe(held);
    const again = await complete(engine, request);
    expect(again.usage.prompt_tokens_details.cached_tokens).toBe(cached);
    expect(again.usage.prefilled_tokens).toBe(turn2.length - cached);
    expect(again.choices[0].finish_reason).toBe('length');
  }, 600_000);

  it(`${ABORTS} aborts at seeded moments (seed ${SEED}) leave the engine answering as transformers, with the buffers it started with`, async () => {
    const random = new SeededRandom(SEED);
    const ids = (n: number) => Array.from({ length: n }, () => 3 + Math.floor(random.next() * (VOCAB - 3)));
    const pick = (n: number) => Math.floor(random.next() * n);
    const requests = {
      prefill: () => ({ prompt: ids(48), max_tokens: 2, temperature: 0, ignore_eos: true }),
      decode: () => ({ prompt: ids(8), max_tokens: 8, temperature: 0, ignore_eos: true }),
      ahead: () => ({ prompt: ids(8), max_tokens: 6, temperature: 0, ignore_eos: true }),
    } satisfies Record<string, () => CompletionRequest>;
    const greedy = async () => (await engine.generate({ ids: GREEDY.prompt, maxTokens: GREEDY.continuation.length, ignoreEos: true })).ids;
    const t0 = performance.now();

    // How many events a whole run of each kind makes (the moments are drawn within them).
    if (loadEvents === 0) await engine.load(url, () => { loadEvents += 1; }, LOAD_OPTIONS);
    expect(await greedy()).toEqual(GREEDY.continuation);
    const watch = watchSubmits(currentDevice().device);
    const submitsOf = async (run: () => Promise<unknown>) => { const before = watch.count; await run(); return watch.count - before; };
    const span: Record<Exclude<Kind, 'load'>, number> = {
      prefill: await submitsOf(() => complete(engine, requests.prefill())),
      decode: await submitsOf(() => complete(engine, requests.decode())),
      queue: await submitsOf(() => Promise.all([complete(engine, requests.ahead()), complete(engine, requests.decode())])),
    };
    const baseline = currentDevice().census.live;
    const outcomes: Record<string, Record<string, number>> = {};
    const note = (kind: string, outcome: string) => { (outcomes[kind] ??= {})[outcome] = (outcomes[kind][outcome] ?? 0) + 1; };
    let recoverMs = 0;

    for (let i = 1; i <= ABORTS; i++) {
      const r = random.next();
      let acc = 0;
      const kind = (KINDS.find(([, share]) => r < (acc += share)) ?? KINDS[KINDS.length - 1])[0];
      const controller = new AbortController();
      const where = `abort ${i} (seed ${SEED})`;
      if (kind === 'load') {
        const at = 1 + pick(loadEvents);
        let seen = 0;
        const onProgress = (_p: LoadProgress) => { if (++seen === at) controller.abort(); };
        const outcome = await engine.load(url, onProgress, { ...LOAD_OPTIONS, signal: controller.signal }).then(() => 'finished first', (e) => {
          expect(e, where).toBeInstanceOf(AbortedError);
          return 'aborted';
        });
        note(kind, `${outcome}`);
        if (outcome === 'aborted') {
          await expect(complete(engine, { prompt: [1, 2, 3], max_tokens: 2 }), where).rejects.toMatchObject({ code: 'NOT_LOADED' });
          const t = performance.now();
          await engine.load(url, undefined, LOAD_OPTIONS);
          recoverMs = Math.max(recoverMs, performance.now() - t);
        }
      } else {
        const request = kind === 'prefill' ? requests.prefill() : requests.decode();
        // queue: the aborted request waits behind another; k = 0 stops it before anything ran.
        const at = kind === 'queue' ? pick(span.queue + 1) : 1 + pick(span[kind]);
        const start = watch.count;
        watch.onSubmit = () => { if (watch.count - start === at) controller.abort(); };
        const ahead = kind === 'queue' ? complete(engine, requests.ahead()) : null;
        const pending = complete(engine, request, controller.signal);
        if (at === 0) controller.abort();
        const result = await pending;
        watch.onSubmit = null;
        if (ahead) {
          const a = await ahead;
          expect(a.choices[0].finish_reason, where).toBe('length');
          expect(a.usage.completion_tokens, where).toBe(6);
        }
        const reason = result.choices[0].finish_reason;
        expect(['abort', 'length'], where).toContain(reason);
        if (reason === 'length') expect(result.usage.completion_tokens, where).toBe(request.max_tokens);
        note(kind, reason === 'length' ? 'finished first'
          : result.usage.completion_tokens > 0 ? 'aborted in decode'
          : result.usage.prefilled_tokens > 0 ? 'aborted in prefill' : 'aborted before prefill');
      }
      if (i % CHECK_EVERY === 0 || i === ABORTS) {
        expect(await greedy(), `greedy ids after ${where}`).toEqual(GREEDY.continuation);
        expect(currentDevice().census.live, `live GPU buffers after ${where}: ${JSON.stringify([...currentDevice().census.labels()])}`).toBe(baseline);
      }
    }
    expect(devices.length).toBe(1); // no device was lost on the way
    const count = (pred: (outcome: string) => boolean) => Object.values(outcomes).reduce((n, o) => n + Object.entries(o).filter(([k]) => pred(k)).reduce((m, [, v]) => m + v, 0), 0);
    const stopped = count((o) => o !== 'finished first');
    // A moment at the very end of its run (its last submit or event) can come after the last check: a few finish.
    expect(stopped, JSON.stringify(outcomes)).toBeGreaterThanOrEqual(ABORTS * 0.8);
    for (const [kind] of KINDS) expect(outcomes[kind], `no ${kind} abort with seed ${SEED}`).toBeDefined();
    console.log(JSON.stringify({
      aborts: ABORTS, stopped, seed: SEED, baselineBuffers: baseline, finalBuffers: currentDevice().census.live, loadEvents, submits: span,
      worstReloadMs: Math.round(recoverMs), totalMs: Math.round(performance.now() - t0), outcomes,
    }));
  }, 1_200_000);
});
