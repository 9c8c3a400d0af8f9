// The shared engine's sessions on the whole engine in Node on Dawn (SwiftShader), stories260K and a 2-layer random model
// over HTTP:
// each tab's abort stops only its own request, a closed tab's request is freed (its chunk deliveries never answer, as a
// closed port's), a frozen tab (its deliveries answer only once it thaws) holds the others up no longer than the ack
// bound and its waiting requests keep their place, one model at a time with a typed refusal, and the last holder's
// release frees the model.
import { serveFolder, type ModelServer } from '../engine-node.test-helper.ts';
import { copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeRandomCheckpoint, type LlamaShape } from '../../bench/random-checkpoint.ts';
import { ModelInUseError, NotLoadedError, SharedEngineHost, SieveEngine, TabUnresponsiveError } from '../index.ts';
import type { Completion, CompletionChunk, CompletionRequest } from '../api/index.ts';
import type { EngineSession } from './index.ts';

const SHAPE: LlamaShape = {
  hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 2, numKvHeads: 1, vocabSize: 128,
  maxPositionEmbeddings: 1024, ropeTheta: 10_000, tieWordEmbeddings: true,
};
const STORIES = fileURLToPath(new URL('../../../shared/models/stories260K/stories260K.gguf', import.meta.url));
/** Long enough to be running when the other tab acts, whatever the machine's speed (stories260K's context is 512). */
const LONG: CompletionRequest = { prompt: 'Once upon a time', max_tokens: 64, temperature: 0, ignore_eos: true };
const SHORT: CompletionRequest = { prompt: 'The cat', max_tokens: 12, temperature: 0, ignore_eos: true };
/** The host's ack bound here (TAB_ACK_TIMEOUT_MS is 5 s): short, yet far above an in-process delivery's time. */
const ACK_MS = 1500;

const complete = async (s: EngineSession, r: CompletionRequest) => await s.completion({ ...r, stream: false }) as Completion;

/** A streaming request whose promise is returned once its first chunk arrived (it is running then). */
async function running(s: EngineSession, r: CompletionRequest, deliver: (c: CompletionChunk) => unknown = () => undefined) {
  let first!: () => void;
  const started = new Promise<void>((resolve) => { first = resolve; });
  const chunks: CompletionChunk[] = [];
  const done = s.completion({ ...r, stream: true }, (c) => { chunks.push(c); first(); return deliver(c); });
  await started;
  return { done, chunks };
}

/** How a stream ended: its finish_reason and completion tokens (the usage chunk comes last, with no choices). */
const ending = (chunks: CompletionChunk[]) => ({
  finish: chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean).at(-1),
  tokens: chunks.find((c) => c.usage)?.usage?.completion_tokens,
});

describe('SharedEngineHost (Dawn, stories260K)', () => {
  let server: ModelServer;
  let host: SharedEngineHost;
  let x: string;
  let y: string;

  beforeAll(async () => {
    const root = join(tmpdir(), 'sieve-test-shared');
    mkdirSync(root, { recursive: true });
    copyFileSync(STORIES, join(root, 'stories260K.gguf'));
    writeRandomCheckpoint(join(root, 'y'), SHAPE);
    server = await serveFolder(root);
    x = `${server.url}/stories260K.gguf`;
    y = `${server.url}/y/`;
    host = new SharedEngineHost(new SieveEngine(), { ackTimeoutMs: ACK_MS });
    keeper = host.connect();
    await keeper.load(x);
  });
  /** Each test's tabs, closed after it whatever happened. */
  let tabs: EngineSession[] = [];
  /** A tab that holds stories260K through the first tests, so it is loaded once for them. */
  let keeper: EngineSession;
  const connect = () => { const s = host.connect(); tabs.push(s); return s; };
  afterEach(async () => {
    await Promise.all(tabs.map((s) => s.close()));
    tabs = [];
  });
  afterAll(async () => {
    await host?.engine.unload();
    await server?.close();
  });

  it("each tab's interrupt stops only its own request, running or queued behind the other tab's", async () => {
    const [a, b] = [connect(), connect()];
    const [infoA, infoB] = await Promise.all([a.load(x), b.load(x)]);
    expect(infoB).toEqual(infoA);
    expect(host.held()).toEqual({ url: x, tabs: 3 });
    const alone = await complete(b, SHORT);

    // B runs; A's request waits behind it and is interrupted there: B goes on to its last token.
    const long = await running(b, LONG);
    const queued = complete(a, SHORT);
    a.interrupt();
    const aborted = await queued;
    expect(aborted.choices[0].finish_reason).toBe('abort');
    expect(aborted.usage.completion_tokens).toBe(0);
    expect(await long.done).toBeNull();
    expect(ending(long.chunks)).toEqual({ finish: 'length', tokens: LONG.max_tokens });

    // A runs and interrupts itself: B's queued request is served in full, as when it ran alone.
    const mine = await running(a, LONG);
    const waiting = complete(b, SHORT);
    a.interrupt();
    await mine.done;
    expect(ending(mine.chunks).finish).toBe('abort');
    expect(ending(mine.chunks).tokens).toBeLessThan(LONG.max_tokens as number);
    expect((await waiting).choices[0].text).toBe(alone.choices[0].text);
    await Promise.all([a.close(), b.close()]);
    expect(host.held()).toEqual({ url: x, tabs: 1 });
  });

  it("a tab closed mid-request (its chunk deliveries never answer) is freed, and the other tab's request is served", async () => {
    const [a, b] = [connect(), connect()];
    await a.load(x);
    await b.load(x);
    const reference = await complete(b, SHORT);
    // Once its first chunk is out, A's page stops answering, as a closed tab's port does.
    let delivered = 0;
    const gone = await running(a, LONG, () => (++delivered > 1 ? new Promise(() => undefined) : undefined));
    const served = complete(b, SHORT);
    await a.close();
    expect(await gone.done).toBeNull();
    expect((await served).choices[0].text).toBe(reference.choices[0].text);
    // Its last chunks went nowhere (the tab is gone): it stopped short of its tokens, or the engine would still be busy.
    expect(ending(gone.chunks).finish).toBeUndefined();
    expect(host.held()).toEqual({ url: x, tabs: 2 });
    await expect(a.completion({ ...SHORT })).rejects.toMatchObject({ code: 'ABORTED' });
    await b.close();
  });

  it("a frozen tab holds the others up no longer than the ack bound; its waiting requests keep their place until it reads again", async () => {
    const [a, b, c] = [connect(), connect(), connect()];
    await Promise.all([a.load(x), b.load(x), c.load(x)]);
    const reference = (await complete(b, SHORT)).choices[0].text;
    // A's page freezes after its first chunk: its port answers nothing until it thaws (then all at once).
    let thaw!: () => void;
    const thawed = new Promise<void>((resolve) => { thaw = resolve; });
    let delivered = 0;
    const frozen = await running(a, LONG, () => (++delivered > 1 ? thawed : undefined));
    const served = complete(b, SHORT);
    const stopped = await frozen.done.catch((e: unknown) => e);
    expect(stopped).toBeInstanceOf(TabUnresponsiveError);
    expect(stopped).toMatchObject({ code: 'TAB_UNRESPONSIVE', details: { waitedMs: ACK_MS } });
    expect(delivered).toBe(2); // nothing more was sent to the tab that stopped reading
    expect((await served).choices[0].text).toBe(reference);

    // Still frozen: a request it has waiting does not start; C, who asked after it, is served first.
    let settled = false;
    const waiting = complete(a, SHORT).finally(() => { settled = true; });
    expect((await complete(c, SHORT)).choices[0].text).toBe(reference);
    expect(settled).toBe(false);
    thaw(); // the late acknowledgement: A reads again, and its request runs where it waited
    expect((await waiting).choices[0].text).toBe(reference);

    // The page's freeze event, sent on its port, pauses it the same way before any chunk waits.
    a.setFrozen(true);
    settled = false;
    const paused = complete(a, SHORT).finally(() => { settled = true; });
    expect((await complete(c, SHORT)).choices[0].text).toBe(reference);
    expect(settled).toBe(false);
    a.setFrozen(false);
    expect((await paused).choices[0].text).toBe(reference);
    // A frozen tab that closes lets its waiting request end (aborted) and its hold go.
    a.setFrozen(true);
    const dropped = complete(a, SHORT);
    await a.close();
    expect((await dropped).choices[0].finish_reason).toBe('abort');
    expect(host.held()).toEqual({ url: x, tabs: 3 });
  });

  it('one model at a time: a different one is refused while another tab holds a model, then loads once it is released', async () => {
    const [a, b] = [connect(), connect()];
    await a.load(x);
    await keeper.close(); // A alone holds stories260K now
    const refused = await b.load(y).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ModelInUseError);
    expect(refused).toMatchObject({ code: 'MODEL_IN_USE', details: { asked: y, loaded: x, tabs: 1 } });
    expect((refused as ModelInUseError).remedy).toContain('shared: true');
    // The same URL with options that change what is built is another model too.
    await expect(b.load(x, undefined, { prefillChunk: 8 })).rejects.toMatchObject({ code: 'MODEL_IN_USE' });
    // B holds nothing, so it is answered by no model (not by A's).
    await expect(b.completion({ ...SHORT })).rejects.toBeInstanceOf(NotLoadedError);
    expect((await complete(a, SHORT)).choices[0].finish_reason).toBe('length');

    await a.unload();
    expect(host.held()).toBeNull();
    expect((await host.engine.stats()).model).toBeNull(); // the last holder's release freed it
    // C asks for y while B loads it: it waits, hears B's load's progress, and joins it.
    const c = connect();
    const heard: string[] = [];
    b.setFrozen(true); // a frozen tab's load still runs: it needs no reader, and C's join waits for it
    await Promise.all([b.load(y), c.load(y, (p) => { heard.push(p.phase); })]);
    b.setFrozen(false);
    expect(heard).toContain('upload');
    expect(host.held()).toEqual({ url: y, tabs: 2 });
    await expect(a.completion({ ...SHORT })).rejects.toBeInstanceOf(NotLoadedError);
    await Promise.all([a.close(), b.close()]);
    expect((await host.engine.stats()).model).not.toBeNull(); // C still holds it
    await c.close();
    expect((await host.engine.stats()).model).toBeNull();
  });
});
