// SharedEngineHost: one SieveEngine for all tabs of an origin (the SharedWorker's), and one EngineSession per tab.
import { AbortedError, ModelInUseError, NotLoadedError, TabUnresponsiveError } from '../errors/index.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Completion, CompletionChunk, CompletionRequest } from '../api/index.ts';
import type { EngineLoadOptions, EngineStats, ModelInfo, SieveEngine } from '../engine.ts';
import type { PrefillProgress } from '../generation/index.ts';
import type { ProgressCallback } from '../model/index.ts';

/** What the page's SieveClient calls in its worker: the dedicated worker's SieveEngine, or its tab's EngineSession. */
export type EngineWorkerApi = Pick<SieveEngine,
  'load' | 'unload' | 'chatCompletion' | 'completion' | 'interrupt' | 'listPolicies' | 'listCachedModels' | 'isModelCached'
  | 'deleteCachedModel' | 'stats'>;

/**
 * How long a tab may leave a chunk of its reply unacknowledged before its request is stopped (TabUnresponsiveError),
 * which is also the longest the other tabs wait behind a tab that stopped reading. Why 5 s: a live tab's port answers
 * in well under a millisecond, and a background tab's messages are not throttled as its timers are (once a minute in
 * Chrome), so only a frozen tab, or a page stuck in one task for seconds, waits this long; a shorter bound would stop
 * the requests of pages that are merely busy.
 */
export const TAB_ACK_TIMEOUT_MS = 5000;

export interface SharedEngineHostOptions {
  /** TAB_ACK_TIMEOUT_MS unless given (tests shorten it). */
  ackTimeoutMs?: number;
}

/** One call of a tab in the engine: its abort, and whether it was stopped because the tab stopped reading. */
interface TabCall {
  controller: AbortController;
  /** Set when the tab left a chunk unacknowledged for the bound: how long it waited. */
  stalledMs: number | null;
}

/** The model the tabs share, and which tabs hold it. */
interface HeldModel {
  key: string;
  url: string;
  info: ModelInfo;
  holders: Set<EngineSession>;
}

/**
 * The rules of a shared engine (README, "One engine for every tab"):
 * - One model at a time. A tab holds the model once its load() of it returned, until it unloads or closes. A load
 *   of the model already held (same URL and same load options, apart from progress, signal, cache and token, which
 *   do not change what is loaded) joins it at once; a load of another model while another tab holds one is refused
 *   with ModelInUseError. Why refuse rather than queue: a queued switch would still run between the other tab's
 *   messages and answer its next one with a model it never asked for; the refusal leaves the choice to the person.
 * - A tab sends requests only for the model it holds (NotLoadedError otherwise, as a dedicated engine before load):
 *   no tab is ever answered by a model another tab picked.
 * - Loads and unloads are made one at a time (`exclusive`): a tab that loads the model another tab is loading waits
 *   for that load (hearing its progress) and joins it, so two tabs opening together download and build the model once.
 * - The model is freed when its last holder unloads or closes.
 * - A tab that stops reading (the browser froze it) never holds the others up for longer than the ack bound: its
 *   running request is stopped with TabUnresponsiveError, and its waiting ones keep their place, paused, until it reads
 *   again (EngineSession.deliver, setFrozen).
 */
export class SharedEngineHost {
  private model: HeldModel | null = null;
  private modelOps: Promise<unknown> = Promise.resolve();
  /** Progress callbacks of the tabs asking for each model now: a tab waiting to join a load hears its progress. */
  private readonly listeners = new Map<string, Set<ProgressCallback>>();
  private sessions = 0;
  readonly ackTimeoutMs: number;

  constructor(readonly engine: SieveEngine, options: SharedEngineHostOptions = {}) {
    this.ackTimeoutMs = options.ackTimeoutMs ?? TAB_ACK_TIMEOUT_MS;
  }

  /** A new tab: its session is what the worker exposes on the tab's port. */
  connect(): EngineSession {
    return new EngineSession(`tab-${++this.sessions}`, this);
  }

  /** The model's URL and how many tabs hold it (null when none is loaded). */
  held(): { url: string; tabs: number } | null {
    return this.model ? { url: this.model.url, tabs: this.model.holders.size } : null;
  }

  /** session.load(): join the model held, or load one if no other tab holds a model. */
  async loadFor(session: EngineSession, url: string, onProgress: ProgressCallback | undefined, options: EngineLoadOptions, signal: AbortSignal): Promise<ModelInfo> {
    const key = modelKey(url, options);
    const listening = this.listeners.get(key) ?? new Set<ProgressCallback>();
    this.listeners.set(key, listening);
    if (onProgress) listening.add(onProgress);
    const fanOut: ProgressCallback = (p) => { for (const l of listening) void l(p); };
    return this.exclusive(signal, async () => {
      const held = this.model;
      if (held?.key === key) {
        held.holders.add(session);
        return held.info;
      }
      const others = held ? [...held.holders].filter((s) => s !== session).length : 0;
      if (held && others > 0) throw new ModelInUseError(url, held.url, others);
      // This tab alone holds the loaded model, or nobody does: it loads (the engine frees the old model first).
      try {
        const info = await this.engine.load(url, fanOut, { ...options, signal, owner: session.modelOwner });
        this.model = { key, url, info, holders: new Set([session]) };
        if (session.closed) await this.releaseNow(session); // closed while its load finished
        return info;
      } catch (e) {
        // The engine keeps the old model where the load failed before freeing it (a bad option, an abort while queued).
        const kept = held && (await this.engine.stats()).model !== null;
        this.model = kept ? held : null;
        throw e;
      }
    }).finally(() => {
      if (onProgress) listening.delete(onProgress);
      if (listening.size === 0 && this.listeners.get(key) === listening) this.listeners.delete(key);
    });
  }

  /** Throws NotLoadedError unless `session` holds the loaded model. */
  requireHeldBy(session: EngineSession): void {
    if (!this.model?.holders.has(session)) {
      throw new NotLoadedError();
    }
  }

  /** session.unload() or a closed tab: drops its hold; the last holder's release frees the model. */
  release(session: EngineSession): Promise<void> {
    return this.exclusive(undefined, () => this.releaseNow(session));
  }

  private async releaseNow(session: EngineSession): Promise<void> {
    const held = this.model;
    if (!held?.holders.delete(session) || held.holders.size > 0) return;
    this.model = null;
    await this.engine.unload({ owner: session.modelOwner });
  }

  /** Runs model changes one at a time; a caller whose signal aborts stops waiting for its turn. */
  private exclusive<T>(signal: AbortSignal | undefined, change: () => Promise<T>): Promise<T> {
    const turn = this.modelOps.then(() => {
      if (signal?.aborted) throw new AbortedError('The model load was aborted.');
      return change();
    });
    this.modelOps = turn.catch(() => undefined);
    if (!signal) return turn;
    const aborted = new Promise<never>((_, reject) => {
      signal.addEventListener('abort', () => reject(new AbortedError('The model load was aborted.')), { once: true });
    });
    return Promise.race([turn, aborted]);
  }
}

/**
 * One tab's face on the shared engine, exposed on the tab's port. Its requests take the tab's turns in the engine's
 * queue; interrupt() stops only this tab's requests; close() (the tab is gone) stops them and drops its hold.
 */
export class EngineSession implements EngineWorkerApi {
  /** This tab's calls now in the engine (the client sends one at a time). */
  private readonly calls = new Set<TabCall>();
  private isClosed = false;
  /** The tab said the browser froze it (its page's freeze event), until it said it resumed. */
  private frozen = false;
  /** The tab left a chunk unacknowledged for the bound, until that chunk's acknowledgement came. */
  private unresponsive = false;
  private markGone!: () => void;
  /** Settles when the tab is gone: chunk deliveries race it (a closed port never answers). */
  private readonly gone = new Promise<void>((resolve) => { this.markGone = resolve; });

  /**
   * The queue line of this tab's loads and unloads, apart from its requests' (`id`), which a freeze pauses: a load
   * needs no reader (its progress is sent without waiting), and every tab's model changes wait for it (`exclusive`),
   * so pausing it would hold up the other tabs' loads and releases too.
   */
  readonly modelOwner: string;

  constructor(readonly id: string, private readonly host: SharedEngineHost) {
    this.modelOwner = `${id}:model`;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  load(url: string, onProgress?: ProgressCallback, options: EngineLoadOptions = {}): Promise<ModelInfo> {
    return this.track(({ controller }) => this.host.loadFor(this, url, onProgress, options, controller.signal));
  }

  /** Drops this tab's hold on the model; the model is freed when no tab holds it. */
  async unload(): Promise<void> {
    await this.host.release(this);
  }

  chatCompletion(
    request: ChatCompletionRequest, onChunk?: (chunk: ChatCompletionChunk) => unknown, onPrefillProgress?: (p: PrefillProgress) => unknown,
  ): Promise<ChatCompletion | null> {
    return this.track((call) => {
      this.host.requireHeldBy(this);
      return this.host.engine.chatCompletion(request, this.deliver(onChunk, call), onPrefillProgress, { signal: call.controller.signal, owner: this.id });
    });
  }

  completion(
    request: CompletionRequest, onChunk?: (chunk: CompletionChunk) => unknown, onPrefillProgress?: (p: PrefillProgress) => unknown,
  ): Promise<Completion | null> {
    return this.track((call) => {
      this.host.requireHeldBy(this);
      return this.host.engine.completion(request, this.deliver(onChunk, call), onPrefillProgress, { signal: call.controller.signal, owner: this.id });
    });
  }

  /** Stops this tab's request (running or still queued behind other tabs'); other tabs' requests go on. */
  interrupt(): void {
    for (const c of this.calls) c.controller.abort();
  }

  /**
   * The tab says the browser froze it, or that it resumed (its page's freeze and resume events, sent on its port): while
   * frozen its waiting requests keep their place in the engine's turns but do not start, so the other tabs' go on.
   */
  setFrozen(frozen: boolean): void {
    this.frozen = frozen;
    this.updatePause();
  }

  listPolicies(): string[] {
    return this.host.engine.listPolicies();
  }

  listCachedModels(): Promise<string[]> {
    return this.host.engine.listCachedModels();
  }

  isModelCached(url: string): Promise<boolean> {
    return this.host.engine.isModelCached(url);
  }

  deleteCachedModel(url: string): Promise<void> {
    return this.host.engine.deleteCachedModel(url);
  }

  stats(): Promise<EngineStats> {
    return this.host.engine.stats();
  }

  /**
   * The tab is gone: its request stops (it ends as an abort, whose chunks go nowhere), anything it queued is dropped,
   * and its hold on the model is released.
   */
  close(): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    this.isClosed = true;
    this.interrupt();
    this.markGone();
    this.updatePause(); // its queued work (aborted now) and its release must run
    return this.host.release(this);
  }

  private async track<T>(run: (call: TabCall) => Promise<T>): Promise<T> {
    if (this.isClosed) throw new AbortedError("This tab's connection to the shared engine is closed.");
    const call: TabCall = { controller: new AbortController(), stalledMs: null };
    this.calls.add(call);
    let result: T;
    try {
      result = await run(call);
    } catch (e) {
      if (call.stalledMs !== null) throw new TabUnresponsiveError(call.stalledMs);
      throw e;
    } finally {
      this.calls.delete(call);
    }
    // Stopped because the tab stopped reading: the abort it ended with is not what the tab asked for.
    if (call.stalledMs !== null) throw new TabUnresponsiveError(call.stalledMs);
    return result;
  }

  /**
   * The engine awaits each chunk's delivery (back-pressure from the page). A closed tab's port never answers, so a
   * delivery also ends when the tab is gone. A frozen tab's port answers only once it thaws: a chunk unacknowledged for
   * the bound stops the request (the other tabs wait no longer than that), its later chunks go nowhere, and the tab's
   * waiting requests are paused until that chunk's acknowledgement comes (the tab reads again).
   */
  private deliver<C>(onChunk: ((chunk: C) => unknown) | undefined, call: TabCall): ((chunk: C) => unknown) | undefined {
    if (!onChunk) return undefined;
    return async (chunk) => {
      if (this.isClosed || call.stalledMs !== null) return;
      const acked = Promise.resolve(onChunk(chunk));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), this.host.ackTimeoutMs); });
      try {
        if (await Promise.race([acked.then(() => 'acked' as const), this.gone, late]) !== 'late') return;
      } finally {
        clearTimeout(timer);
      }
      call.stalledMs = this.host.ackTimeoutMs;
      this.unresponsive = true;
      this.updatePause();
      const readsAgain = () => { this.unresponsive = false; this.updatePause(); };
      acked.then(readsAgain, readsAgain);
      call.controller.abort();
    };
  }

  private updatePause(): void {
    this.host.engine.pauseOwner(this.id, !this.isClosed && (this.frozen || this.unresponsive));
  }
}

/** What makes two loads the same model: the URL (absolute, as the worker resolves it) and the options that shape it. */
function modelKey(url: string, options: EngineLoadOptions): string {
  const { signal: _signal, owner: _owner, cache: _cache, accessToken: _token, ...shaping } = options;
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  const absolute = base ? new URL(url, base).href : url;
  const sorted = Object.keys(shaping).sort().map((k) => [k, (shaping as Record<string, unknown>)[k]]);
  return JSON.stringify([absolute, sorted]);
}
