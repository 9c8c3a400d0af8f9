// A dedicated engine worker's life as a Web Lock: the worker holds a lock its client names for as long as it lives,
// and the client asks for the same lock, which the browser grants the moment the worker is gone however it ended. A
// worker that dies without an uncaught error (self.close(), the browser ending it) fires no event on its Worker
// object, so without this the calls in flight would wait forever. Why a lock and not a heartbeat: no timeout to
// choose, and a busy or throttled worker cannot look dead (the shared worker does the same: workers/engine.worker.ts).

const WORKER_LIFE_LOCK_PREFIX = 'sieve-worker-life:';

/** The client's ask: hold this lock while you live. */
interface WorkerLifeAsk { sieveWorkerLife: string }
/** The worker's answer once it holds it. */
interface WorkerLifeHeld { sieveWorkerLifeHeld: string }

type Locks = { locks?: LockManager };

/** Worker side: answers the client's ask by holding its lock for the worker's whole life. */
export function holdWorkerLife(scope: Pick<DedicatedWorkerGlobalScope, 'addEventListener' | 'postMessage'> = globalThis as unknown as DedicatedWorkerGlobalScope): void {
  const locks = (globalThis.navigator as Locks | undefined)?.locks;
  if (!locks) return;
  scope.addEventListener('message', (event: MessageEvent) => {
    const name = (event.data as Partial<WorkerLifeAsk> | null)?.sieveWorkerLife;
    if (typeof name !== 'string' || !name.startsWith(WORKER_LIFE_LOCK_PREFIX)) return;
    void locks.request(name, () => {
      scope.postMessage({ sieveWorkerLifeHeld: name } satisfies WorkerLifeHeld);
      return new Promise<never>(() => undefined);
    });
  });
}

/** Client side: calls `onGone` once `worker` is gone, however it ended (nothing where the page has no Web Locks). */
export function watchWorkerLife(worker: Worker, onGone: () => void): void {
  const locks = (globalThis.navigator as Locks | undefined)?.locks;
  if (!locks || typeof crypto?.randomUUID !== 'function') return;
  const name = `${WORKER_LIFE_LOCK_PREFIX}${crypto.randomUUID()}`;
  const onHeld = (event: MessageEvent) => {
    if ((event.data as Partial<WorkerLifeHeld> | null)?.sieveWorkerLifeHeld !== name) return;
    worker.removeEventListener('message', onHeld);
    void locks.request(name, () => onGone());
  };
  worker.addEventListener('message', onHeld);
  worker.postMessage({ sieveWorkerLife: name } satisfies WorkerLifeAsk);
}
