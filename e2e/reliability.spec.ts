// Reliability in Chromium (issue 13): 10 aborts at seeded moments through the page's client (load, prefill, decode, a
// queued request), and a GPU device destroyed mid-generation inside the worker (the automation build's test hook).
import { expect, test } from '@playwright/test';
import { hostCall, hostOk, openHost, storiesKnownIds } from './host.ts';

const URL_PATH = '/shared-models/stories260K/stories260K.gguf';

// Each test has its own page and engine, and the file is the longest at the end of the run (2.4 min): its tests
// spread over both workers rather than keep one busy while the other has nothing left.
test.describe.configure({ mode: 'parallel' });

test('10 aborts at seeded moments through the client leave the engine answering as the known output, with its buffers', async ({ page }) => {
  test.setTimeout(600_000);
  await openHost(page);
  // stories260K (a trained 5-layer Llama with a tokenizer, so a reply streams a chunk per token): greedy from BOS is
  // its README's known output.
  const reference = { prompt: [1], continuation: storiesKnownIds().slice(0, 20) };
  const { result } = await hostOk(page, 'randomAborts', { url: URL_PATH, count: 10, seed: 13, prefillChunk: 8, reference, vocabSize: 512 }) as {
    result: { outcomes: { kind: string; at: number; of: number; outcome: string }[]; mismatches: number[]; buffers: { before: number; after: number }; fresh: number[] };
  };
  console.log(JSON.stringify(result));
  expect(result.fresh).toEqual(reference.continuation);
  expect(result.outcomes).toHaveLength(10);
  expect(result.mismatches).toEqual([]);
  expect(result.buffers.before).toBeGreaterThan(0);
  expect(result.buffers.after).toBe(result.buffers.before);
  // Most stop what they aimed at (an event crosses the worker before the abort does, so one aimed at the last may miss).
  expect(result.outcomes.filter((o) => o.outcome === 'aborted' || o.outcome.startsWith('abort ')).length).toBeGreaterThanOrEqual(6);
});

test('a device lost mid-generation ends the stream with DEVICE_LOST; the next request makes a new device and answers', async ({ page }) => {
  test.setTimeout(600_000);
  await openHost(page);
  await hostOk(page, 'load', { url: URL_PATH });
  const request = { ids: [1, 403, 407, 261, 378, 316], maxTokens: 16, ignoreEos: true };
  const before = (await hostOk(page, 'generate', request)).result as { ids: number[] };

  const lost = await hostCall(page, 'loseDeviceDuring', { prompt: [1, 403, 407, 261, 378, 316], max_tokens: 64, temperature: 0, ignore_eos: true }) as {
    chunks: unknown[]; lost: boolean; error?: { code: string; remedy: string };
  };
  expect(lost.lost).toBe(true);
  expect(lost.chunks.length).toBeGreaterThan(0);
  expect(lost.error?.code).toBe('DEVICE_LOST');
  expect(lost.error?.remedy).toBeTruthy();

  // The model is loaded again on a new device by this request; its cache is rebuilt by prefill.
  const t = Date.now();
  const after = (await hostOk(page, 'generate', request)).result as { ids: number[] };
  console.log(JSON.stringify({ deviceLostRecoverMs: Date.now() - t, chunksBeforeLoss: lost.chunks.length }));
  expect(after.ids).toEqual(before.ids);
  // A conversation goes on: a longer prompt that starts with the first one answers as on a fresh load.
  const turn2 = { ids: [...request.ids, ...before.ids, 412, 300], maxTokens: 8, ignoreEos: true };
  const continued = (await hostOk(page, 'generate', turn2)).result as { ids: number[] };
  await hostOk(page, 'load', { url: URL_PATH });
  expect((await hostOk(page, 'generate', turn2)).result).toMatchObject({ ids: continued.ids });
});

for (const how of ['crash', 'close'] as const) {
  test(`a worker that dies mid-stream (${how === 'crash' ? 'an uncaught error' : 'closed, no error'}) fails it with WORKER_DIED; the next call starts a new worker that answers`, async ({ page }) => {
    test.setTimeout(600_000);
    await openHost(page);
    const { result } = await hostOk(page, 'workerDeath', { url: URL_PATH, how }) as {
      result: { chunks: number; error: { code?: string; remedy?: string } | null; before: string; after: string; failedAfterMs: number; recoveredAfterMs: number };
    };
    console.log(JSON.stringify({ how, failedAfterMs: Math.round(result.failedAfterMs), recoveredAfterMs: Math.round(result.recoveredAfterMs) }));
    expect(result.chunks).toBeGreaterThan(0);
    expect(result.error?.code).toBe('WORKER_DIED');
    expect(result.error?.remedy).toBeTruthy();
    expect(result.after).toBe(result.before);
  });
}
