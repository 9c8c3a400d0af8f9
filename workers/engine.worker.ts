// The Web Worker that owns the engine: the GPU device, the model and the decode loop, exposed with comlink. Started as
// a dedicated Worker (createEngine()) it serves its page; as a SharedWorker (createEngine({ shared: true })) it serves
// every tab of the origin that connects, one EngineSession each over one SieveEngine. One script for both, so the
// build ships the engine once.
import * as Comlink from 'comlink';
import {
  holdWorkerLife, installSieveErrorTransfer, isSharedHello, isTabLifecycle, SHARED_WORKER_LOCK_PREFIX, SharedEngineHost, SieveEngine,
  type SharedReady, type SharedUnavailable,
} from '../engine/index.ts';

installSieveErrorTransfer();

const sharedScope = (globalThis as { SharedWorkerGlobalScope?: abstract new () => unknown }).SharedWorkerGlobalScope;
if (sharedScope && globalThis instanceof sharedScope) serveTabs();
else {
  holdWorkerLife(); // its client learns of an end that fires no error event (engine/worker-life.ts)
  Comlink.expose(new SieveEngine());
}

function serveTabs(): void {
  const host = new SharedEngineHost(new SieveEngine());
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  const workerLock = `${SHARED_WORKER_LOCK_PREFIX}${crypto.randomUUID()}`;
  // Held for the worker's whole life: a tab that asks for it is granted it when the worker is gone (a crash, or the
  // browser ending it), which is how the tab learns of it (a SharedWorker's port says nothing when its end dies).
  const alive = locks && new Promise<void>((held) => { void locks.request(workerLock, () => { held(); return new Promise<never>(() => undefined); }); });
  let unavailable: Promise<string | null> | null = null;
  /** Why this worker cannot run the engine (null: it can). Asked once; the answer holds for the worker's life. */
  const whyUnavailable = () => (unavailable ??= (async () => {
    if (!locks) return 'Web Locks are missing inside the SharedWorker (the engine needs them to notice closed tabs)';
    const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
    if (!gpu) return 'WebGPU (navigator.gpu) is missing inside the SharedWorker';
    try {
      return (await gpu.requestAdapter()) ? null : 'WebGPU inside the SharedWorker offers no adapter';
    } catch (e) {
      return `WebGPU inside the SharedWorker failed: ${(e as Error).message}`;
    }
  })());

  (globalThis as unknown as { onconnect: (event: MessageEvent) => void }).onconnect = (event) => {
    const port = event.ports[0];
    const onHello = async (message: MessageEvent) => {
      if (!isSharedHello(message.data)) return;
      port.removeEventListener('message', onHello);
      const why = await whyUnavailable();
      if (why !== null) {
        port.postMessage({ sieveSharedUnavailable: why } satisfies SharedUnavailable);
        port.close();
        return;
      }
      await alive;
      const session = host.connect();
      // The tab holds this lock while it lives (it was granted before its hello): the worker's request for it is
      // granted when the tab closes, crashes or terminates its engine, and its session is closed then. Why a lock and
      // not a heartbeat: the browser releases it the moment the tab is gone, with no timeout to choose, and a
      // background tab's throttled timers (once a minute in Chrome) cannot make a live tab look dead.
      void (locks as LockManager).request(message.data.sieveSharedHello.tabLock, () => session.close());
      // The tab's freeze and resume (comlink ignores these messages): its waiting requests pause in their place.
      port.addEventListener('message', (m) => { if (isTabLifecycle(m.data)) session.setFrozen(m.data.sieveTabFrozen); });
      Comlink.expose(session, port);
      port.postMessage({ sieveSharedReady: { workerLock } } satisfies SharedReady);
    };
    port.addEventListener('message', onHello);
    port.start();
  };
}
