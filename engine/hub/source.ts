// A FileSource over a base URL (the hub's `resolve/<revision>/` layout or any folder URL) or one .gguf URL whose
// files go through the browser's model store: downloaded once (resumable, verified), then read with no request.
import { InvalidArgumentError } from '../errors/index.ts';
import type { FileSource } from '../model/index.ts';
import type { CatalogFile } from './catalog.ts';
import { checkQuota, type StorageEstimateLike } from './checks.ts';
import { fetchToStore, type FetchToStoreOptions } from './download.ts';
import { isHubLayoutUrl } from './etag.ts';
import { holdLock, lockNames, withLock } from './locks.ts';
import type { DownloadProgress } from './progress.ts';
import { defaultModelStorage, type ModelStorage, type ModelStore } from './store.ts';

export interface CachedSourceOptions {
  /** Sent as `Authorization: Bearer <token>` (gated hub repositories such as meta-llama/Llama-3.2-1B-Instruct). */
  accessToken?: string;
  /** Where files are kept; OPFS in browsers (memory elsewhere) by default. */
  storage?: ModelStorage;
  /** The files the catalog lists: their sizes make the quota check before any download, their sha256 are checked. */
  files?: CatalogFile[];
  onProgress?: (p: DownloadProgress) => void;
  estimate?: () => Promise<StorageEstimateLike>;
  maxAttempts?: number;
  retryDelayMs?: number;
  signal?: AbortSignal;
}

export interface CachedModelSource extends FileSource {
  /** The model's key in the store: its base URL (or .gguf URL). */
  readonly url: string;
  /** Present for a single .gguf URL: the one file `read` knows (as SingleFileSource). */
  readonly file?: string;
  readonly storageKind: ModelStorage['kind'];
  /** Called after a load from this source succeeded: files found absent are then remembered (no request later). */
  markComplete(): Promise<void>;
  /**
   * Lets go of the model: the source holds the model's lock (shared) from open until close, so a delete in any tab
   * waits for this load to have read its files, rather than pull them away mid-read. Call it once the load is done,
   * whatever its outcome.
   */
  close(): void;
}

const GGUF_EXTENSION = '.gguf';

/**
 * Opens the cached source and, when the catalog lists the model's files, checks before any request that the
 * browser's storage can take what is not stored yet (StorageQuotaError says how much is needed).
 */
export async function openCachedModelSource(url: string, options: CachedSourceOptions = {}): Promise<CachedModelSource> {
  if (!/^https?:\/\//i.test(url)) throw new InvalidArgumentError('model', `"${url}" is not an absolute http(s) URL`);
  const pathname = new URL(url).pathname;
  const single = pathname.toLowerCase().endsWith(GGUF_EXTENSION) ? decodeURIComponent(pathname.slice(pathname.lastIndexOf('/') + 1)) : null;
  const key = single ? url : url.replace(/\/+$/, '');
  const storage = options.storage ?? await defaultModelStorage();
  const release = await holdLock(lockNames.model(key), 'shared', options.signal);
  try {
    return await openHeld(url, key, single, storage, options, release);
  } catch (e) {
    release();
    throw e;
  }
}

/** openCachedModelSource's work, holding the model's lock. */
async function openHeld(
  url: string, key: string, single: string | null, storage: ModelStorage, options: CachedSourceOptions, release: () => void,
): Promise<CachedModelSource> {
  const store = await storage.open(key);
  const manifest = await store.getManifest();
  const absentBefore = new Set(manifest?.complete ? manifest.absent : []);
  const absentNow = new Set<string>();
  const expected = new Map((options.files ?? []).map((f) => [f.path, f]));

  // Quota for everything the catalog lists that is not stored yet, before the first byte is fetched.
  const pending = async (except?: string): Promise<number> => {
    let bytes = 0;
    for (const f of expected.values()) {
      if (f.path === except) continue;
      const meta = await store.getMeta(f.path);
      if (meta?.state !== 'complete') bytes += Math.max(0, f.approxBytes - (meta ? await store.size(f.path) : 0));
    }
    return bytes;
  };
  if (expected.size > 0) checkQuota(key, await pending(), await (options.estimate ?? defaultEstimate)());

  const fileUrl = (path: string) => single ? url : `${key}/${path.split('/').map(encodeURIComponent).join('/')}`;
  const read = async (path: string, onBytes?: (loaded: number, total: number) => void, readBack = true): Promise<Uint8Array | null> => {
    if (single && path !== single) return null;
    if (absentBefore.has(path) && !(await store.getMeta(path))) { absentNow.add(path); return null; }
    const fetchOptions: FetchToStoreOptions = {
      readBack,
      store, file: path, url: fileUrl(path), accessToken: options.accessToken,
      expectedSha256: expected.get(path)?.sha256, trustEtag: isHubLayoutUrl(fileUrl(path)),
      otherPendingBytes: expected.size > 0 ? await pending(path) : 0,
      onProgress: (p) => { onBytes?.(p.loadedBytes, p.totalBytes); options.onProgress?.(p); },
      estimate: options.estimate, maxAttempts: options.maxAttempts, retryDelayMs: options.retryDelayMs, signal: options.signal,
    };
    const bytes = await withLock(lockNames.file(key, path), 'exclusive', options.signal, () => fetchToStore(fetchOptions));
    if (bytes === null) absentNow.add(path);
    return bytes;
  };
  return {
    url: key,
    description: key,
    ...(single ? { file: single } : {}),
    storageKind: storage.kind,
    read: (path, onBytes) => read(path, onBytes),
    // Downloaded into the store first (resumable, verified), then read back in slices: never the whole file at once.
    async stream(path, onBytes) {
      if ((await read(path, onBytes, false)) === null) return null;
      return store.readChunks(path);
    },
    async markComplete() {
      await store.setManifest({ url: key, complete: true, absent: [...absentNow], savedAt: Date.now() });
    },
    close: release,
  };
}

/**
 * Deletes a model's stored files (the URL as given to openCachedModelSource), once no load in any tab is reading or
 * writing them: it waits for those under way (loads asked for after it wait for it).
 */
export async function deleteCachedModel(url: string, storage?: ModelStorage): Promise<void> {
  const s = storage ?? await defaultModelStorage();
  const single = new URL(url).pathname.toLowerCase().endsWith(GGUF_EXTENSION);
  const key = single ? url : url.replace(/\/+$/, '');
  await withLock(lockNames.model(key), 'exclusive', undefined, () => s.delete(key));
}

/** Whether a model loaded completely from this store before (a later load then needs no network). */
export async function isModelCached(url: string, storage?: ModelStorage): Promise<boolean> {
  const s = storage ?? await defaultModelStorage();
  const single = new URL(url).pathname.toLowerCase().endsWith(GGUF_EXTENSION);
  const key = single ? url : url.replace(/\/+$/, '');
  // Under the model's lock: a delete under way is not half seen (and open does not make the folder it removed again).
  return withLock(lockNames.model(key), 'shared', undefined, async () => {
    if (!(await s.list()).includes(key)) return false;
    const store: ModelStore = await s.open(key);
    return (await store.getManifest())?.complete === true;
  });
}

function defaultEstimate(): Promise<StorageEstimateLike> {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  return storage && typeof storage.estimate === 'function' ? storage.estimate() : Promise.resolve({});
}
