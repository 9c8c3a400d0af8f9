// Random aborts through the page's client (web/client's SieveClient and its signals, the production worker), for
// e2e/reliability.spec.ts: load (download, parse, compile), prefill, decode and a request queued behind another, each
// stopped at a random moment; after each, a greedy request must answer as the fresh run before them did.
import * as Comlink from 'comlink';
import { createEngine, SieveClient, type Completion, type CompletionRequest } from '../client/index.ts';
import type { AutomationEngine } from './engine-test.worker.ts';

export interface RandomAbortsOptions {
  url: string;
  count: number;
  seed: number;
  prefillChunk?: number;
}

export interface RandomAbortsResult {
  outcomes: { kind: string; outcome: string; delayMs: number }[];
  /** Aborts after which the reference request answered otherwise than the fresh run. */
  mismatches: number[];
  expected: string;
}

const KINDS = ['load', 'prefill', 'decode', 'queue'] as const;

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

const completion = (client: SieveClient, request: CompletionRequest, signal?: AbortSignal) =>
  client.completions.create({ ...request, stream: false }, { signal }) as Promise<Completion>;

export async function runRandomAborts(options: RandomAbortsOptions): Promise<RandomAbortsResult> {
  const random = seeded(options.seed);
  const ids = (n: number) => Array.from({ length: n }, () => 3 + Math.floor(random() * 500));
  const client = createEngine();
  const loadOptions = { prefillChunk: options.prefillChunk ?? 16 };
  const reference: CompletionRequest = { prompt: [1, 403, 407, 261, 378, 316], max_tokens: 12, temperature: 0, ignore_eos: true };
  const timed = async (task: () => Promise<unknown>) => { const t = performance.now(); await task(); return performance.now() - t; };
  try {
    const loadMs = await timed(() => client.load(options.url, loadOptions));
    const expected = (await completion(client, reference)).choices[0].text;
    const prefillMs = await timed(() => completion(client, { prompt: ids(160), max_tokens: 1, temperature: 0 }));
    const decodeMs = await timed(() => completion(client, { prompt: ids(8), max_tokens: 24, temperature: 0, ignore_eos: true }));
    const outcomes: RandomAbortsResult['outcomes'] = [];
    const mismatches: number[] = [];
    for (let i = 0; i < options.count; i++) {
      const kind = KINDS[i % KINDS.length];
      const controller = new AbortController();
      let outcome: string;
      let delayMs: number;
      if (kind === 'load') {
        delayMs = random() * loadMs;
        const pending = client.load(options.url, { ...loadOptions, signal: controller.signal });
        setTimeout(() => controller.abort(), delayMs);
        outcome = await pending.then(() => 'finished first', (e: { code?: string }) => {
          if (e?.code !== 'ABORTED') throw e;
          return 'aborted';
        });
        if (outcome === 'aborted') await client.load(options.url, loadOptions);
      } else {
        const request: CompletionRequest = kind === 'prefill'
          ? { prompt: ids(160), max_tokens: 2, temperature: 0 }
          : { prompt: ids(8), max_tokens: 24, temperature: 0, ignore_eos: true };
        delayMs = random() * (kind === 'prefill' ? prefillMs : decodeMs);
        const ahead = kind === 'queue' ? completion(client, { prompt: ids(8), max_tokens: 8, temperature: 0, ignore_eos: true }) : null;
        const pending = completion(client, request, controller.signal);
        setTimeout(() => controller.abort(), delayMs);
        const r = await pending;
        if (ahead && (await ahead).choices[0].finish_reason !== 'length') throw new Error(`abort ${i}: the request ahead of the aborted one did not finish`);
        outcome = `${r.choices[0].finish_reason} after ${r.usage.completion_tokens} tokens (${r.usage.prefilled_tokens} prefilled)`;
      }
      outcomes.push({ kind, outcome, delayMs });
      if ((await completion(client, reference)).choices[0].text !== expected) mismatches.push(i);
    }
    return { outcomes, mismatches, expected };
  } finally {
    client.terminate();
  }
}

/**
 * Worker death through the client: a streaming request's worker crashes after its first token (the automation
 * worker's hook); what the stream ended with, then a load and the same request on the new worker the client starts.
 */
export async function runWorkerDeath(url: string): Promise<{ chunks: number; error: { code?: string; remedy?: string } | null; before: string; after: string }> {
  const start = () => new Worker(new URL('./engine-test.worker.ts', import.meta.url), { type: 'module' });
  let worker = start();
  const client = new SieveClient(worker, () => (worker = start()));
  const request: CompletionRequest = { prompt: [1, 403, 407, 261, 378, 316], max_tokens: 48, temperature: 0, ignore_eos: true };
  try {
    await client.load(url);
    const before = (await completion(client, { ...request, max_tokens: 12 })).choices[0].text;
    let chunks = 0;
    let error: { code?: string; remedy?: string } | null = null;
    try {
      const stream = await client.completions.create({ ...request, stream: true });
      for await (const _chunk of stream) {
        if (++chunks === 1) void Comlink.wrap<AutomationEngine>(worker).crash();
      }
    } catch (e) {
      error = { code: (e as { code?: string }).code, remedy: (e as { remedy?: string }).remedy };
    }
    await client.load(url);
    const after = (await completion(client, { ...request, max_tokens: 12 })).choices[0].text;
    return { chunks, error, before, after };
  } finally {
    client.terminate();
  }
}
