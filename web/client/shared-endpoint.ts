// The endpoint of createEngine({ shared: true }): a port into the origin's shared engine worker, or, where that cannot
// run, this page's own dedicated worker, usable at once either way (calls wait until it is decided).
import {
  isSharedReady, isSharedUnavailable, TAB_LOCK_PREFIX, type SharedHello, type TabLifecycle,
} from '../../engine/protocol.ts';
import type { EngineEndpoint } from './engine-client.ts';
import type { EngineInfo } from './types.ts';

type Listener = EventListenerOrEventListenerObject;
interface Target {
  postMessage(message: unknown, transfer: Transferable[]): void;
}

/**
 * Falls back to a dedicated worker, saying why in `info`, where SharedWorker or Web Locks are missing in the page, the
 * shared worker fails to start, or it has no WebGPU (or no Web Locks) inside it. The tab holds a Web Lock named in its
 * hello for as long as it lives, which the worker watches to notice the tab is gone (engine/shared-handshake.ts).
 */
export class SharedEngineEndpoint implements EngineEndpoint {
  private current: EngineInfo = { worker: 'starting' };
  /** Settles with `info` once the engine runs in the shared worker or in the fallback. */
  readonly started: Promise<EngineInfo>;
  private target: Target | null = null;
  private readonly waiting: Array<[unknown, Transferable[]]> = [];
  private readonly listeners = new Map<string, Set<Listener>>();
  private ended = false;
  private endTab!: () => void;
  /** Resolving it releases the tab's lock: the worker then closes this tab's session. */
  private readonly tabReleased = new Promise<void>((resolve) => { this.endTab = resolve; });
  private readonly watch = new AbortController();
  private shared: SharedWorker | null = null;
  private dedicated: Worker | null = null;

  constructor(private readonly startShared: () => SharedWorker, private readonly startDedicated: () => Worker) {
    this.started = this.decide();
  }

  get info(): EngineInfo {
    return this.current;
  }

  postMessage(message: unknown, transfer: Transferable[] = []): void {
    if (this.target) this.target.postMessage(message, transfer);
    else this.waiting.push([message, transfer]);
  }

  addEventListener(type: string, listener: Listener): void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener);
  }

  removeEventListener(type: string, listener: Listener): void {
    this.listeners.get(type)?.delete(listener);
  }

  /** Ends this tab's use of the engine: a shared worker goes on serving the other tabs; a fallback worker ends. */
  terminate(): void {
    this.ended = true;
    this.endTab();
    this.watch.abort();
    this.shared?.port.close();
    this.dedicated?.terminate();
  }

  private async decide(): Promise<EngineInfo> {
    const locks = (globalThis.navigator as Navigator & { locks?: LockManager } | undefined)?.locks;
    if (typeof SharedWorker === 'undefined') return this.fallBack('SharedWorker is not available in this browser');
    if (!locks) return this.fallBack('Web Locks (navigator.locks) are not available, and a shared engine needs them to notice closed tabs');
    let shared: SharedWorker;
    try {
      shared = this.startShared();
    } catch (e) {
      return this.fallBack(`the shared worker could not start: ${(e as Error).message}`);
    }
    this.shared = shared;
    const tabLock = `${TAB_LOCK_PREFIX}${crypto.randomUUID()}`;
    await new Promise<void>((granted) => {
      void locks.request(tabLock, () => { granted(); return this.tabReleased; });
    });
    const port = shared.port;
    const answer = await new Promise<{ ready: string } | { unavailable: string }>((resolve) => {
      let ready = false;
      port.addEventListener('message', (event) => {
        if (ready) { this.emit('message', event); return; }
        if (isSharedReady(event.data)) { ready = true; resolve({ ready: event.data.sieveSharedReady.workerLock }); }
        else if (isSharedUnavailable(event.data)) resolve({ unavailable: event.data.sieveSharedUnavailable });
      });
      // A script that fails to load or parse: before the answer a reason to fall back, after it the engine's death.
      shared.addEventListener('error', (event) => {
        const why = `the shared worker failed to start${(event as ErrorEvent).message ? `: ${(event as ErrorEvent).message}` : ''}`;
        if (ready) this.emit('error', new ErrorEvent('error', { message: why }));
        else resolve({ unavailable: why });
      });
      port.start();
      port.postMessage({ sieveSharedHello: { tabLock } } satisfies SharedHello);
    });
    if ('unavailable' in answer) {
      this.shared = null;
      port.close();
      this.endTab();
      return this.fallBack(answer.unavailable);
    }
    // The worker holds this lock while it lives: it is granted here only once the worker is gone.
    locks.request(answer.ready, { signal: this.watch.signal }, () => {
      this.emit('error', new ErrorEvent('error', { message: 'the shared engine worker stopped' }));
    }).catch(() => undefined); // aborted by terminate()
    // The browser freezing this page (a background tab, the back-forward cache) is said to the worker before it
    // happens, so the other tabs' requests go before this tab's waiting one until it resumes (Page Lifecycle API).
    const doc = (globalThis as { document?: Document }).document;
    if (doc) {
      const tell = (frozen: boolean) => () => port.postMessage({ sieveTabFrozen: frozen } satisfies TabLifecycle);
      doc.addEventListener('freeze', tell(true), { signal: this.watch.signal });
      doc.addEventListener('resume', tell(false), { signal: this.watch.signal });
    }
    return this.use(port, { worker: 'shared' });
  }

  private fallBack(reason: string): EngineInfo {
    if (this.ended) return this.current;
    const worker = this.startDedicated();
    this.dedicated = worker;
    worker.addEventListener('message', (event) => this.emit('message', event));
    worker.addEventListener('error', (event) => this.emit('error', event));
    return this.use(worker, { worker: 'dedicated', fallbackReason: reason });
  }

  private use(target: Target, info: EngineInfo): EngineInfo {
    this.current = info;
    this.target = target;
    for (const [message, transfer] of this.waiting.splice(0)) target.postMessage(message, transfer);
    return info;
  }

  private emit(type: string, event: Event): void {
    for (const l of this.listeners.get(type) ?? []) {
      if (typeof l === 'function') l(event);
      else l.handleEvent(event);
    }
  }
}
