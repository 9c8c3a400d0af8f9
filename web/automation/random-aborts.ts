// Random aborts through the page's client (web/client's SieveClient and its signals, over the automation worker:
// the production engine plus test hooks), for e2e/reliability.spec.ts: load, prefill, decode and a request queued
// behind another, each stopped at a seeded moment. A moment is an event count the page sees (the k-th progress event
// of a load, the k-th prefill progress report, the k-th streamed chunk of a reply or of the reply ahead in the
// queue), k drawn within what a whole run of that kind gives, so the aborts land inside their operations and a seed
// replays them (the events cross the worker boundary, so the abort lands at or a little after its event). After each,
// a greedy request must answer as transformers did (the checkpoint's greedy.json), and the engine must hold as many
// GPU buffers as before the first.
import * as Comlink from 'comlink';
import { SieveClient, type Completion, type CompletionChunk, type CompletionRequest } from '../client/index.ts';
import type { AutomationEngine } from './engine-test.worker.ts';

export interface RandomAbortsOptions {
  url: string;
  count: number;
  seed: number;
  prefillChunk?: number;
  /** The greedy continuation of `prompt` every answer is checked against. */
  reference: { prompt: number[]; continuation: number[] };
  /** Token ids of random prompts are drawn below this. */
  vocabSize: number;
}

export interface RandomAbortsResult {
  outcomes: { kind: string; at: number; of: number; outcome: string }[];
  /** Aborts after which the reference request answered otherwise than the fresh run. */
  mismatches: number[];
  /** The engine's live GPU buffers before the first abort and after the last (engine.stats()). */
  buffers: { before: number; after: number };
  /** What the first (fresh) run answered. */
  fresh: number[];
}

const KINDS = ['load', 'prefill', 'decode', 'queue'] as const;

const completion = (client: SieveClient, request: CompletionRequest, signal?: AbortSignal) =>
  client.completions.create({ ...request, stream: false }, { signal }) as Promise<Completion>;

function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Ending { reason: string | null; usage: Completion['usage'] | null }

/** Streams a completion, calling `onChunk` with each chunk's number (1, 2, ...): how it ended, and its usage. */
async function streamed(client: SieveClient, request: CompletionRequest, onChunk: (n: number) => void, signal?: AbortSignal): Promise<Ending> {
  const stream = await client.completions.create({ ...request, stream: true }, { signal });
  let n = 0;
  const end: Ending = { reason: null, usage: null };
  for await (const chunk of stream as AsyncIterable<CompletionChunk>) {
    onChunk(++n);
    end.reason = chunk.choices.find((c) => c.finish_reason)?.finish_reason ?? end.reason;
    end.usage = chunk.usage ?? end.usage;
  }
  return end;
}

export async function runRandomAborts(options: RandomAbortsOptions): Promise<RandomAbortsResult> {
  const random = seeded(options.seed);
  const pick = (n: number) => Math.floor(random() * n);
  const ids = (n: number) => Array.from({ length: n }, () => 3 + pick(options.vocabSize - 3));
  const worker = new Worker(new URL('./engine-test.worker.ts', import.meta.url), { type: 'module' });
  const client = new SieveClient(worker, () => { throw new Error('the automation worker died'); });
  const engine = Comlink.wrap<AutomationEngine>(worker);
  const loadOptions = { prefillChunk: options.prefillChunk ?? 8 };
  const { prompt, continuation } = options.reference;
  const greedyIds = async () => (await engine.generate({ ids: prompt, maxTokens: continuation.length, ignoreEos: true })).ids;
  const requests = {
    prefill: () => ({ prompt: ids(48), max_tokens: 2, temperature: 0, ignore_eos: true }),
    decode: () => ({ prompt: ids(8), max_tokens: 8, temperature: 0, ignore_eos: true }),
  } satisfies Record<string, () => CompletionRequest>;
  try {
    let loadEvents = 0;
    await client.load(options.url, { ...loadOptions, onProgress: () => { loadEvents += 1; } });
    const fresh = await greedyIds();
    // What a whole run of each kind gives (the moments are drawn within them).
    let prefillEvents = 0;
    await client.completions.create({ ...requests.prefill(), stream: false }, { onPrefillProgress: () => { prefillEvents += 1; } });
    let decodeChunks = 0;
    await streamed(client, requests.decode(), (n) => { decodeChunks = n; });
    const before = (await engine.stats()).gpu?.liveBuffers ?? -1;
    const outcomes: RandomAbortsResult['outcomes'] = [];
    const mismatches: number[] = [];
    for (let i = 0; i < options.count; i++) {
      const kind = KINDS[i % KINDS.length];
      const controller = new AbortController();
      let at: number;
      let of: number;
      let outcome: string;
      if (kind === 'load') {
        of = loadEvents;
        at = 1 + pick(of);
        let seen = 0;
        const pending = client.load(options.url, { ...loadOptions, signal: controller.signal, onProgress: () => { if (++seen === at) controller.abort(); } });
        outcome = await pending.then(() => 'finished first', (e: { code?: string }) => {
          if (e?.code !== 'ABORTED') throw e;
          return 'aborted';
        });
        if (outcome === 'aborted') await client.load(options.url, loadOptions);
      } else {
        let last: Ending;
        if (kind === 'prefill') {
          of = prefillEvents;
          at = 1 + pick(of);
          let seen = 0;
          const r = await client.completions.create({ ...requests.prefill(), stream: false }, {
            signal: controller.signal, onPrefillProgress: () => { if (++seen === at) controller.abort(); },
          }) as Completion;
          last = { reason: r.choices[0].finish_reason, usage: r.usage };
        } else if (kind === 'decode') {
          of = decodeChunks;
          at = 1 + pick(of);
          last = await streamed(client, requests.decode(), (n) => { if (n === at) controller.abort(); }, controller.signal);
        } else {
          // The aborted request waits behind another; k = 0 stops it before it ran, else at the k-th chunk of either.
          of = 2 * decodeChunks;
          at = pick(of + 1);
          let seen = 0;
          const tick = () => { if (++seen === at) controller.abort(); };
          const ahead = streamed(client, requests.decode(), tick);
          const queued = streamed(client, requests.decode(), tick, controller.signal);
          if (at === 0) controller.abort();
          const a = await ahead;
          if (a.reason !== 'length') throw new Error(`abort ${i}: the request ahead of the aborted one ended with ${a.reason}`);
          last = await queued;
        }
        outcome = `${last.reason} after ${last.usage?.completion_tokens} tokens (${last.usage?.prefilled_tokens} prefilled)`;
      }
      outcomes.push({ kind, at, of, outcome });
      if ((await greedyIds()).join() !== continuation.join()) mismatches.push(i);
    }
    const after = (await engine.stats()).gpu?.liveBuffers ?? -1;
    return { outcomes, mismatches, buffers: { before, after }, fresh };
  } finally {
    client.terminate();
  }
}

/**
 * Worker death through the client: a streaming request's worker crashes (an uncaught error) or closes with none after
 * its first token (the automation worker's hooks); what the stream ended with and how long after the hook, then a
 * load and the same request on the new worker the client starts, and how long that took.
 */
export async function runWorkerDeath(url: string, how: 'crash' | 'close' = 'crash'): Promise<{
  chunks: number; error: { code?: string; remedy?: string } | null; before: string; after: string; failedAfterMs: number; recoveredAfterMs: number;
}> {
  const start = () => new Worker(new URL('./engine-test.worker.ts', import.meta.url), { type: 'module' });
  let worker = start();
  const client = new SieveClient(worker, () => (worker = start()));
  const request: CompletionRequest = { prompt: [1, 403, 407, 261, 378, 316], max_tokens: 48, temperature: 0, ignore_eos: true };
  try {
    await client.load(url);
    const before = (await completion(client, { ...request, max_tokens: 12 })).choices[0].text;
    let chunks = 0;
    let error: { code?: string; remedy?: string } | null = null;
    let hookAt = 0;
    try {
      const stream = await client.completions.create({ ...request, stream: true });
      for await (const _chunk of stream) {
        if (++chunks !== 1) continue;
        hookAt = performance.now();
        const hooks = Comlink.wrap<AutomationEngine>(worker);
        void (how === 'crash' ? hooks.crash() : hooks.close());
      }
    } catch (e) {
      error = { code: (e as { code?: string }).code, remedy: (e as { remedy?: string }).remedy };
    }
    const failedAfterMs = performance.now() - hookAt;
    await client.load(url);
    const after = (await completion(client, { ...request, max_tokens: 12 })).choices[0].text;
    return { chunks, error, before, after, failedAfterMs, recoveredAfterMs: performance.now() - hookAt };
  } finally {
    client.terminate();
  }
}
