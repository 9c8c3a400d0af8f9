// One file from a URL into a ModelStore: streamed with progress, resumed with Range requests after an interruption,
// checked for size and hash (the hub's ETag sha256, git blob sha1, or the catalog's sha256) before it counts as stored.
import { sha1 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { AbortedError, IntegrityError, ModelAccessError, ModelFetchError, NotAModelError } from '../errors/index.ts';
import { answeredWithHtml } from '../model/index.ts';
import { checkQuota, type StorageEstimateLike } from './checks.ts';
import { announcedDigest, ifRangeValidator, parseContentRange, type ContentDigest } from './etag.ts';
import { RateMeter, type DownloadProgress } from './progress.ts';
import type { ModelStore, StoredFileMeta } from './store.ts';

/**
 * Attempts per file within one load: an interrupted transfer is resumed from the bytes kept this many times in a
 * row before the load fails (the bytes stay stored, so the next load resumes again).
 */
export const MAX_ATTEMPTS = 4;
/** Wait before attempt n (n >= 2): n - 1 times this; short, as a cut connection is usually back at once. */
export const RETRY_DELAY_MS = 500;
/** Progress is reported at most this often per file (every network chunk would flood the worker boundary). */
export const PROGRESS_INTERVAL_MS = 50;

export interface FetchToStoreOptions {
  store: ModelStore;
  /** The file's path in the model (its name in the store, and in messages). */
  file: string;
  url: string;
  /** Sent as `Authorization: Bearer <token>` (gated hub repositories). */
  accessToken?: string;
  /**
   * false: only make sure the file is stored, and return an empty array instead of its bytes (a streaming load then
   * reads it back in slices with store.readChunks, never whole).
   */
  readBack?: boolean;
  /** What the catalog knows: exact size and sha256 when measured. */
  expectedSha256?: string;
  /** Whether the response's plain ETag is a content digest (servers in the hub's layout); see announcedDigest. */
  trustEtag: boolean;
  /** Bytes the model's other files still need (so the quota check covers the whole remaining download). */
  otherPendingBytes?: number;
  onProgress?: (p: DownloadProgress) => void;
  /** Storage estimate; navigator.storage.estimate() by default. */
  estimate?: () => Promise<StorageEstimateLike>;
  maxAttempts?: number;
  retryDelayMs?: number;
  signal?: AbortSignal;
}

/** Thrown inside an attempt when the transfer broke off: the next attempt resumes. */
class Interrupted extends Error {}

function defaultEstimate(): Promise<StorageEstimateLike> {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  return storage && typeof storage.estimate === 'function' ? storage.estimate() : Promise.resolve({});
}

function now(): number {
  return globalThis.performance?.now() ?? Date.now();
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); reject(new AbortedError('The model download was aborted.')); }, { once: true });
  });
}

/**
 * Downloads `url` into the store (or finds it there, complete, without any request) and returns its bytes; null
 * when the server says 404. Throws NotAModelError (the server answered with an HTML page), ModelAccessError (401/403), ModelFetchError (other failures, or interrupted
 * MAX_ATTEMPTS times; what arrived is kept for the next load), StorageQuotaError, IntegrityError (the bad copy
 * is deleted).
 */
export async function fetchToStore(options: FetchToStoreOptions): Promise<Uint8Array | null> {
  const { store, file, url } = options;
  const existing = await store.getMeta(file);
  if (existing?.state === 'complete') {
    if (options.readBack === false) return new Uint8Array(0);
    return store.readAll(file, (loaded, total) => report(options, { loadedBytes: loaded, totalBytes: total, fromCache: true }));
  }
  const maxAttempts = options.maxAttempts ?? MAX_ATTEMPTS;
  const retryDelay = options.retryDelayMs ?? RETRY_DELAY_MS;
  const meter = new RateMeter();
  let meta: StoredFileMeta | null = existing?.state === 'partial' ? existing : null;
  if (!meta && (await store.size(file)) > 0) await store.remove(file); // bytes without a record: unknown origin
  // The sha256 of the stored prefix, carried across attempts so only new bytes are hashed.
  let hasher = sha256.create();
  let hashed = 0;
  let resumedFrom = -1;
  let lastError = '';
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    if (options.signal?.aborted) throw new AbortedError('The model download was aborted.');
    if (attempt > 1) await sleep(retryDelay * (attempt - 1), options.signal);
    let have = meta ? await store.size(file) : 0;
    const headers: Record<string, string> = {};
    if (options.accessToken) headers.Authorization = `Bearer ${options.accessToken}`;
    if (have > 0) {
      headers.Range = `bytes=${have}-`;
      const validator = ifRangeValidator(meta?.etag);
      if (validator) headers['If-Range'] = validator;
    }
    let response: Response;
    try {
      // no-store: the bytes go to OPFS; the HTTP cache keeping a second copy of a gigabyte file helps no one.
      response = await fetch(url, { headers, cache: 'no-store', signal: options.signal });
    } catch (e) {
      if (options.signal?.aborted) throw new AbortedError('The model download was aborted.');
      lastError = (e as Error).message;
      continue; // network down: try again
    }
    if (response.status === 404) {
      await response.body?.cancel();
      await store.remove(file);
      return null;
    }
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      throw new ModelAccessError(url, response.status, Boolean(options.accessToken));
    }
    if (response.status === 416 && have > 0) {
      // The kept bytes do not fit the file on the server (it changed or shrank): start over.
      await response.body?.cancel();
      await store.remove(file);
      meta = null;
      lastError = 'HTTP 416 on resume';
      continue;
    }
    if (!response.ok) {
      await response.body?.cancel();
      lastError = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
      if (response.status >= 500 || response.status === 429) continue;
      throw new ModelFetchError(url, lastError);
    }
    if (answeredWithHtml(response, url)) {
      // A web page in place of a model file is never stored (it would read as the file on every later load).
      await response.body?.cancel();
      throw new NotAModelError(url, 'file');
    }

    // A bare ETag is a digest only from the hub's own origin: after a cross-origin redirect (the hub sends LFS files
    // to a CDN such as cdn-lfs.hf.co or Xet's cas-bridge) it is the CDN's validator, which may be 64 hex digits
    // that are not the file's sha256 (Xet's content hash). Then only the size, or the catalog's sha256, is checked.
    const announced = announcedDigest(response.headers, options.trustEtag && sameOrigin(response.url, url));
    const etag = response.headers.get('etag');
    const encoding = response.headers.get('content-encoding');
    const identity = !encoding || encoding === 'identity';
    const lengthHeader = Number(response.headers.get('content-length') ?? NaN);
    let total: number | null = null;
    if (response.status === 206) {
      const range = parseContentRange(response.headers.get('content-range'));
      const changed = meta !== null && !sameDigest(meta.announced, announced);
      if (!range || range.start !== have || changed) {
        // Not the continuation of what we kept: drop it and fetch the whole file.
        await response.body?.cancel();
        await store.remove(file);
        meta = null;
        lastError = 'the server answered the resume with a different range or file';
        continue;
      }
      total = range.total;
    } else {
      if (have > 0) { have = 0; } // 200 to a Range request: the server sends the whole file (or it changed)
      total = identity && Number.isSafeInteger(lengthHeader) ? lengthHeader : null;
    }
    if (have === 0) { hasher = sha256.create(); hashed = 0; }
    if (resumedFrom < 0) resumedFrom = have;

    checkQuota(file, (total === null ? 0 : total - have) + (options.otherPendingBytes ?? 0), await (options.estimate ?? defaultEstimate)());
    meta = { state: 'partial', url, size: total, etag, announced, savedAt: Date.now() };
    await store.setMeta(file, meta);

    // Bring the hash up to the bytes kept (first attempt of a resume after a reload).
    if (hashed !== have) {
      hasher = sha256.create();
      hashed = 0;
      for await (const chunk of store.readChunks(file)) {
        const part = chunk.subarray(0, Math.min(chunk.byteLength, have - hashed));
        hasher.update(part);
        hashed += part.byteLength;
        if (hashed >= have) break;
      }
    }

    const appender = await store.openAppender(file, have === 0);
    let lastReport = 0;
    meter.sample(now(), have);
    report(options, { loadedBytes: have, totalBytes: total ?? 0, resumedFrom, meter });
    try {
      if (!response.body) throw new Interrupted('the response has no body');
      const reader = response.body.getReader();
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (e) {
          if (options.signal?.aborted) throw new AbortedError('The model download was aborted.');
          throw new Interrupted(`the download broke off after ${appender.size} of ${total ?? '?'} bytes (${(e as Error).message})`);
        }
        if (chunk.done) break;
        await appender.append(chunk.value);
        hasher.update(chunk.value);
        hashed += chunk.value.byteLength;
        const t = now();
        meter.sample(t, appender.size);
        if (t - lastReport >= PROGRESS_INTERVAL_MS) {
          lastReport = t;
          report(options, { loadedBytes: appender.size, totalBytes: total ?? 0, resumedFrom, meter });
        }
      }
      if (total !== null && appender.size < total) throw new Interrupted(`the download ended after ${appender.size} of ${total} bytes`);
    } catch (e) {
      await appender.close();
      // The bytes kept, exactly (the throttled reports may lag): what the next attempt or load resumes from.
      report(options, { loadedBytes: appender.size, totalBytes: total ?? 0, resumedFrom, meter });
      if (e instanceof Interrupted) { lastError = e.message; continue; }
      throw e;
    }
    await appender.close();
    const size = appender.size;
    report(options, { loadedBytes: size, totalBytes: total ?? size, resumedFrom, meter });
    const verified = await verify(options, total, size, hasher, announced);
    await store.setMeta(file, { ...meta, state: 'complete', size, sha256: verified.sha256, verified: verified.check, savedAt: Date.now() });
    return options.readBack === false ? new Uint8Array(0) : store.readAll(file);
  }
  throw new ModelFetchError(url, `${lastError || 'failed'}; tried ${maxAttempts} times (what arrived is kept: loading again resumes)`);
}

function sameOrigin(a: string, b: string): boolean {
  try {
    return !a || new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

function sameDigest(a: ContentDigest, b: ContentDigest): boolean {
  return a.kind === b.kind && (a.kind === 'opaque' || a.hex === (b as { hex: string }).hex);
}

/** Size, then the strongest digest known; a failure deletes the stored copy and throws IntegrityError. */
async function verify(
  options: FetchToStoreOptions, total: number | null, size: number, hasher: ReturnType<typeof sha256.create>,
  announced: ContentDigest,
): Promise<{ sha256: string; check: NonNullable<StoredFileMeta['verified']> }> {
  const { store, file, url } = options;
  const fail = async (check: 'size' | 'sha256' | 'git-sha1', expected: string | number, actual: string | number): Promise<never> => {
    await store.remove(file);
    throw new IntegrityError(url, check, expected, actual);
  };
  if (total !== null && size !== total) await fail('size', total, size);
  const hex = bytesToHex(hasher.digest());
  if (announced.kind === 'sha256') {
    if (hex !== announced.hex) await fail('sha256', announced.hex, hex);
    if (options.expectedSha256 && hex !== options.expectedSha256) await fail('sha256', options.expectedSha256, hex);
    return { sha256: hex, check: 'sha256' };
  }
  if (options.expectedSha256) {
    if (hex !== options.expectedSha256) await fail('sha256', options.expectedSha256, hex);
    return { sha256: hex, check: 'catalog-sha256' };
  }
  if (announced.kind === 'git-sha1') {
    // Files kept in git (configs, tokenizers) are small: hash them again from the store with git's blob header.
    const h = sha1.create();
    h.update(utf8ToBytes(`blob ${size}\0`));
    for await (const chunk of store.readChunks(file)) h.update(chunk);
    const blob = bytesToHex(h.digest());
    if (blob !== announced.hex) await fail('git-sha1', announced.hex, blob);
    return { sha256: hex, check: 'git-sha1' };
  }
  return { sha256: hex, check: total !== null ? 'size' : 'none' };
}

function report(
  options: FetchToStoreOptions,
  p: { loadedBytes: number; totalBytes: number; fromCache?: boolean; resumedFrom?: number; meter?: RateMeter },
): void {
  if (!options.onProgress) return;
  const bytesPerSecond = p.meter?.bytesPerSecond() ?? 0;
  options.onProgress({
    file: options.file,
    loadedBytes: p.loadedBytes,
    totalBytes: p.totalBytes,
    bytesPerSecond,
    timeLeftMs: p.fromCache ? null : p.meter?.timeLeftMs(p.totalBytes) ?? null,
    fromCache: p.fromCache ?? false,
    resumedFrom: Math.max(0, p.resumedFrom ?? 0),
  });
}
