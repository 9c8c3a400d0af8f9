// Locks over the model store: Web Locks where the platform has them (one lock space for every tab and worker of the
// origin, as OPFS is one store for them), an equivalent in-process lock space otherwise (Node, whose memory store
// is the process's own and may be shared by several engines).
//
// Two kinds of names (lockNames): a model's lock, held shared by every load reading or writing its files and
// exclusive by a delete (a delete waits for the loads under way, and a load for a delete under way); and a file's
// lock, held exclusive while the file is downloaded and checked (a second load of it waits, then reads the copy).
// A model's lock is always taken before a file's, so no two holders wait on each other.
import { AbortedError } from '../errors/index.ts';

export type LockMode = 'shared' | 'exclusive';

const MODEL_PREFIX = 'sieve-model:';
const FILE_PREFIX = 'sieve-model-file:';

export const lockNames = {
  model: (key: string) => `${MODEL_PREFIX}${key}`,
  file: (key: string, path: string) => `${FILE_PREFIX}${key}|${path}`,
};

/** Waits for the lock (or `signal`: AbortedError), then holds it until the returned release is called. */
export function holdLock(name: string, mode: LockMode, signal?: AbortSignal): Promise<() => void> {
  if (signal?.aborted) return Promise.reject(aborted());
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
  if (!locks) return localLocks.hold(name, mode, signal);
  return new Promise((granted, refused) => {
    locks.request(name, { mode, signal }, () => new Promise<void>((release) => granted(release)))
      .catch((e: unknown) => refused(signal?.aborted ? aborted() : e));
  });
}

/** Runs `task` holding the lock. */
export async function withLock<T>(name: string, mode: LockMode, signal: AbortSignal | undefined, task: () => Promise<T>): Promise<T> {
  const release = await holdLock(name, mode, signal);
  try {
    return await task();
  } finally {
    release();
  }
}

function aborted(): AbortedError {
  return new AbortedError('The model load was aborted while it waited for another load or delete of the same model.');
}

interface Waiter { mode: LockMode; grant: () => void }

/** Web Locks' rules within one process: first come first served, shared holders together, exclusive alone. */
class LocalLockSpace {
  private readonly held = new Map<string, { mode: LockMode; count: number }>();
  private readonly queues = new Map<string, Waiter[]>();

  hold(name: string, mode: LockMode, signal?: AbortSignal): Promise<() => void> {
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(name) ?? [];
      this.queues.set(name, queue);
      const onAbort = () => {
        const i = queue.indexOf(waiter);
        if (i < 0) return;
        queue.splice(i, 1);
        reject(aborted());
        this.grant(name); // a shared waiter behind this exclusive one may go now
      };
      const waiter: Waiter = {
        mode,
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          let released = false;
          resolve(() => {
            if (released) return;
            released = true;
            const h = this.held.get(name) as { mode: LockMode; count: number };
            if (--h.count === 0) this.held.delete(name);
            this.grant(name);
          });
        },
      };
      queue.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.grant(name);
    });
  }

  private grant(name: string): void {
    const queue = this.queues.get(name) ?? [];
    while (queue.length > 0) {
      const h = this.held.get(name);
      const next = queue[0];
      if (h && (h.mode === 'exclusive' || next.mode === 'exclusive')) break;
      queue.shift();
      if (h) h.count += 1;
      else this.held.set(name, { mode: next.mode, count: 1 });
      next.grant();
    }
    if (queue.length === 0) this.queues.delete(name);
  }
}

const localLocks = new LocalLockSpace();
