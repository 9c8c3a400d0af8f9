// The shared worker's handshake with a tab, on the tab's new port before comlink speaks (createEngine({ shared: true })).

/** Prefix of the Web Lock a tab holds for as long as it lives: the worker asks for it to learn when the tab is gone. */
export const TAB_LOCK_PREFIX = 'sieve-tab:';
/** Prefix of the Web Lock the shared worker holds for as long as it lives: a tab asks for it to learn of its end. */
export const SHARED_WORKER_LOCK_PREFIX = 'sieve-shared-engine:';
/** The SharedWorker's name: one engine per origin and build of the worker script. */
export const SHARED_WORKER_NAME = 'sieve-engine';

/** The tab's first message: the name of the lock it holds (it is granted before the tab sends this). */
export interface SharedHello { sieveSharedHello: { tabLock: string } }
/** The worker serves this tab from here on (comlink on the same port); it holds `workerLock` while it lives. */
export interface SharedReady { sieveSharedReady: { workerLock: string } }
/** The worker cannot serve (no WebGPU inside it, or no Web Locks): the tab runs its own dedicated worker. */
export interface SharedUnavailable { sieveSharedUnavailable: string }

export function isSharedHello(data: unknown): data is SharedHello {
  return typeof (data as Partial<SharedHello>)?.sieveSharedHello?.tabLock === 'string';
}

export function isSharedReady(data: unknown): data is SharedReady {
  return typeof (data as Partial<SharedReady>)?.sieveSharedReady?.workerLock === 'string';
}

export function isSharedUnavailable(data: unknown): data is SharedUnavailable {
  return typeof (data as Partial<SharedUnavailable>)?.sieveSharedUnavailable === 'string';
}

/**
 * Sent by the tab on its port, beside comlink's messages, when the browser freezes its page (the Page Lifecycle's
 * freeze event) and when it resumes: the worker then holds the tab's waiting requests in their place instead of
 * starting one whose chunks nobody would read (engine/sharing, EngineSession.setFrozen).
 */
export interface TabLifecycle { sieveTabFrozen: boolean }

export function isTabLifecycle(data: unknown): data is TabLifecycle {
  return typeof (data as Partial<TabLifecycle>)?.sieveTabFrozen === 'boolean';
}
