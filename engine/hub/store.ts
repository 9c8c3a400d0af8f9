// Where downloaded model files live: the Origin Private File System (OPFS) in browsers, memory elsewhere.
//
// Why OPFS and not the Cache API: a resumable download must keep a partial file and append to it as bytes arrive.
// The Cache API stores whole Responses only (a partial download would have to be kept as many chunk entries and
// stitched together), while OPFS files can be written at any offset: in a dedicated worker, a
// FileSystemSyncAccessHandle writes in place, so what arrived is on disk at once and survives a closed tab. Where sync
// handles do not exist (shared workers, pages) a FileSystemWritableFileStream writes to a swap file that is lost unless
// closed, so there a file is written in segments of SEGMENT_BYTES, each closed when full: a download cut off there
// (the last tab closed, a crash) keeps every full segment and resumes after them. OPFS files are also read back as
// Blobs, in slices, without holding a second copy of the model in the JS heap.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import type { ContentDigest } from './etag.ts';

/** One file's record beside its bytes. */
export interface StoredFileMeta {
  state: 'partial' | 'complete';
  url: string;
  /** The file's full size as the server announced it (null when it did not). */
  size: number | null;
  /** The server's validator, sent as If-Range when resuming. */
  etag: string | null;
  /** The digest the server announced (checked once complete). */
  announced: ContentDigest;
  /** Set once complete: the sha256 of the stored bytes and which check they passed. */
  sha256?: string;
  verified?: 'sha256' | 'git-sha1' | 'catalog-sha256' | 'size' | 'none';
  savedAt: number;
}

/** A model's record: set once a load from the stored files succeeded. */
export interface StoredModelManifest {
  url: string;
  complete: boolean;
  /** Files the model lacks (404): answered as absent on later visits without asking the server again. */
  absent: string[];
  savedAt: number;
}

export interface FileAppender {
  /** Bytes in the file now. */
  readonly size: number;
  append(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** The files of one model (one base URL). */
export interface ModelStore {
  readonly description: string;
  getMeta(file: string): Promise<StoredFileMeta | null>;
  setMeta(file: string, meta: StoredFileMeta): Promise<void>;
  getManifest(): Promise<StoredModelManifest | null>;
  setManifest(manifest: StoredModelManifest): Promise<void>;
  /** Bytes of `file` stored (0 when none). */
  size(file: string): Promise<number>;
  /** Opens `file` for appending; `truncate` empties it first. */
  openAppender(file: string, truncate: boolean): Promise<FileAppender>;
  /** The stored bytes from `start`, in chunks. */
  readChunks(file: string, start?: number): AsyncIterable<Uint8Array>;
  /** The whole stored file in one buffer. */
  readAll(file: string, onBytes?: (loaded: number, total: number) => void): Promise<Uint8Array>;
  /** Deletes the file's bytes and record. */
  remove(file: string): Promise<void>;
}

/** Opens per-model stores; a model is named by its base URL. */
export interface ModelStorage {
  readonly kind: 'opfs' | 'memory';
  open(modelUrl: string): Promise<ModelStore>;
  /** Base URLs of the models stored. */
  list(): Promise<string[]>;
  /** Deletes every stored file of a model. */
  delete(modelUrl: string): Promise<void>;
}

/** The folder name of a model: the first 32 hex digits of its URL's sha256 (URLs hold characters names cannot). */
export function modelFolderName(modelUrl: string): string {
  return bytesToHex(sha256(utf8ToBytes(modelUrl))).slice(0, 32);
}

/** A file path as one OPFS name ('/' and '..' are not allowed in names). */
export function storedFileName(path: string): string {
  return encodeURIComponent(path).replace(/\./g, '%2E');
}

// ---- Memory (Node, and browsers without OPFS): lasts as long as the process. ----

interface MemoryFile { chunks: Uint8Array[]; size: number; meta: StoredFileMeta | null }

class MemoryModelStore implements ModelStore {
  readonly files = new Map<string, MemoryFile>();
  manifest: StoredModelManifest | null = null;
  constructor(readonly description: string) {}

  private file(name: string): MemoryFile {
    let f = this.files.get(name);
    if (!f) { f = { chunks: [], size: 0, meta: null }; this.files.set(name, f); }
    return f;
  }
  async getMeta(file: string) { return this.files.get(file)?.meta ?? null; }
  async setMeta(file: string, meta: StoredFileMeta) { this.file(file).meta = { ...meta }; }
  async getManifest() { return this.manifest; }
  async setManifest(manifest: StoredModelManifest) { this.manifest = { ...manifest }; }
  async size(file: string) { return this.files.get(file)?.size ?? 0; }
  async openAppender(file: string, truncate: boolean): Promise<FileAppender> {
    const f = this.file(file);
    if (truncate) { f.chunks = []; f.size = 0; }
    return {
      get size() { return f.size; },
      async append(chunk) { f.chunks.push(chunk.slice()); f.size += chunk.byteLength; },
      async close() {},
    };
  }
  async *readChunks(file: string, start = 0): AsyncIterable<Uint8Array> {
    let at = 0;
    for (const c of this.files.get(file)?.chunks ?? []) {
      if (at + c.byteLength > start) yield c.subarray(Math.max(0, start - at));
      at += c.byteLength;
    }
  }
  async readAll(file: string, onBytes?: (loaded: number, total: number) => void): Promise<Uint8Array> {
    const f = this.files.get(file);
    const out = new Uint8Array(f?.size ?? 0);
    let at = 0;
    for (const c of f?.chunks ?? []) { out.set(c, at); at += c.byteLength; }
    onBytes?.(out.byteLength, out.byteLength);
    return out;
  }
  async remove(file: string) { this.files.delete(file); }
}

export class MemoryModelStorage implements ModelStorage {
  readonly kind = 'memory' as const;
  private readonly models = new Map<string, MemoryModelStore>();
  async open(modelUrl: string): Promise<ModelStore> {
    let s = this.models.get(modelUrl);
    if (!s) { s = new MemoryModelStore(`memory:${modelUrl}`); this.models.set(modelUrl, s); }
    return s;
  }
  async list() { return [...this.models.keys()]; }
  async delete(modelUrl: string) { this.models.delete(modelUrl); }
}

// ---- OPFS ----

/** The OPFS folder holding one folder per model. */
export const OPFS_ROOT_FOLDER = 'sieve-models';
const MANIFEST_FILE = 'model.json';
const META_SUFFIX = '.meta.json';
const DATA_SUFFIX = '.data';
/** Reads back in slices of this size: progress moves and no second whole-file Blob copy is made at once. */
const READ_SLICE_BYTES = 16 * 2 ** 20;
/**
 * Where only writable streams exist, a file's bytes go to segment files of this size (`<name>.data`, `<name>.data.1`,
 * ...), each committed by closing its stream when full. Why segments and not one stream closed and reopened every so
 * often: reopening keeps the data by copying the whole file into a new swap file (Chromium), so a 2.5 GB download
 * would copy itself over and over. A cut-off download loses at most the segment being written; 16 MiB is a few
 * seconds of a fast connection, and a 2.5 GB file makes 150 segments (one lookup each when it is read).
 */
export const SEGMENT_BYTES = 16 * 2 ** 20;

interface SyncAccessHandleLike {
  getSize(): number;
  truncate(size: number): void;
  write(buffer: BufferSource, options?: { at?: number }): number;
  flush(): void;
  close(): void;
}

type FileHandleWithSync = FileSystemFileHandle & { createSyncAccessHandle?: () => Promise<SyncAccessHandleLike> };

function isNotFound(e: unknown): boolean {
  return e instanceof DOMException && (e.name === 'NotFoundError' || e.name === 'TypeMismatchError');
}

class OpfsModelStore implements ModelStore {
  constructor(private readonly dir: FileSystemDirectoryHandle, readonly description: string) {}

  private async handle(name: string, create = false): Promise<FileSystemFileHandle | null> {
    try {
      return await this.dir.getFileHandle(name, { create });
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }
  private async readJson<T>(name: string): Promise<T | null> {
    const h = await this.handle(name);
    if (!h) return null;
    try {
      return JSON.parse(await (await h.getFile()).text()) as T;
    } catch {
      return null; // a record cut off by a crash counts as absent: the file is fetched again
    }
  }
  private async writeJson(name: string, value: unknown): Promise<void> {
    const h = await this.handle(name, true) as FileSystemFileHandle;
    const w = await h.createWritable();
    await w.write(JSON.stringify(value));
    await w.close();
  }
  getMeta(file: string) { return this.readJson<StoredFileMeta>(storedFileName(file) + META_SUFFIX); }
  setMeta(file: string, meta: StoredFileMeta) { return this.writeJson(storedFileName(file) + META_SUFFIX, meta); }
  getManifest() { return this.readJson<StoredModelManifest>(MANIFEST_FILE); }
  setManifest(manifest: StoredModelManifest) { return this.writeJson(MANIFEST_FILE, manifest); }

  /** The name of segment `i` of `file`'s bytes (segment 0 is the whole file where sync handles wrote it). */
  private segmentName(file: string, i: number): string {
    return storedFileName(file) + DATA_SUFFIX + (i === 0 ? '' : `.${i}`);
  }

  /** The segments of `file`'s bytes, in order (they end at the first one missing). */
  private async segments(file: string): Promise<File[]> {
    const out: File[] = [];
    for (let i = 0; ; i++) {
      const h = await this.handle(this.segmentName(file, i));
      if (!h) return out;
      out.push(await h.getFile());
    }
  }

  async size(file: string): Promise<number> {
    return (await this.segments(file)).reduce((n, f) => n + f.size, 0);
  }

  async openAppender(file: string, truncate: boolean): Promise<FileAppender> {
    if (truncate) await this.removeData(file);
    const kept = await this.segments(file);
    let size = kept.reduce((n, f) => n + f.size, 0);
    const last = Math.max(0, kept.length - 1);
    const tail = await this.handle(this.segmentName(file, last), true) as FileHandleWithSync;
    if (typeof tail.createSyncAccessHandle === 'function') {
      // Dedicated workers (the engine's): writes land in place, at once, at the end of the last segment.
      const access = await tail.createSyncAccessHandle();
      let at = access.getSize();
      return {
        get size() { return size; },
        async append(chunk) {
          let written = 0;
          while (written < chunk.byteLength) written += access.write(chunk.subarray(written), { at: at + written });
          at += chunk.byteLength;
          size += chunk.byteLength;
        },
        async close() { access.flush(); access.close(); },
      };
    }
    // Window contexts and shared workers (createEngine({ shared: true })): one writable stream per segment, closed
    // (committed) once it holds SEGMENT_BYTES. A non-empty last segment is left as it is (reopening it would copy it)
    // and the next one begun; an empty one (a cut-off download's uncommitted segment) is begun anew.
    let index = kept.length === 0 || kept[last].size === 0 ? last : kept.length;
    let stream: FileSystemWritableFileStream | null = null;
    let inSegment = 0;
    const open = async () => {
      const h = await this.handle(this.segmentName(file, index), true) as FileSystemFileHandle;
      inSegment = 0;
      return await h.createWritable({ keepExistingData: false });
    };
    return {
      get size() { return size; },
      async append(chunk) {
        const w = stream ?? (stream = await open());
        await w.write(chunk as Uint8Array<ArrayBuffer>);
        size += chunk.byteLength;
        inSegment += chunk.byteLength;
        if (inSegment >= SEGMENT_BYTES) {
          stream = null;
          index++;
          await w.close();
        }
      },
      async close() {
        const w = stream;
        stream = null;
        await w?.close();
      },
    };
  }

  async *readChunks(file: string, start = 0): AsyncIterable<Uint8Array> {
    let base = 0;
    for (const blob of await this.segments(file)) {
      for (let at = Math.max(0, start - base); at < blob.size; at += READ_SLICE_BYTES) {
        yield new Uint8Array(await blob.slice(at, Math.min(blob.size, at + READ_SLICE_BYTES)).arrayBuffer());
      }
      base += blob.size;
    }
  }

  async readAll(file: string, onBytes?: (loaded: number, total: number) => void): Promise<Uint8Array> {
    const segments = await this.segments(file);
    const total = segments.reduce((n, f) => n + f.size, 0);
    const out = new Uint8Array(total);
    onBytes?.(0, total);
    let base = 0;
    for (const blob of segments) {
      for (let at = 0; at < blob.size; at += READ_SLICE_BYTES) {
        const part = new Uint8Array(await blob.slice(at, Math.min(blob.size, at + READ_SLICE_BYTES)).arrayBuffer());
        out.set(part, base + at);
        onBytes?.(base + at + part.byteLength, total);
      }
      base += blob.size;
    }
    return out;
  }

  /** Deletes every segment of `file`'s bytes. */
  private async removeData(file: string): Promise<void> {
    const count = (await this.segments(file)).length;
    // The last first: a removal cut off half-way leaves a shorter file, never a gap that hides later segments' bytes.
    for (let i = count - 1; i >= 0; i--) await this.removeEntry(this.segmentName(file, i));
  }

  private async removeEntry(name: string): Promise<void> {
    try {
      await this.dir.removeEntry(name);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  async remove(file: string): Promise<void> {
    await this.removeData(file);
    await this.removeEntry(storedFileName(file) + META_SUFFIX);
  }
}

export class OpfsModelStorage implements ModelStorage {
  readonly kind = 'opfs' as const;
  constructor(private readonly root: FileSystemDirectoryHandle) {}

  async open(modelUrl: string): Promise<ModelStore> {
    const dir = await this.root.getDirectoryHandle(modelFolderName(modelUrl), { create: true });
    const store = new OpfsModelStore(dir, `opfs:${modelUrl}`);
    if (!(await store.getManifest())) await store.setManifest({ url: modelUrl, complete: false, absent: [], savedAt: Date.now() });
    return store;
  }

  async list(): Promise<string[]> {
    const urls: string[] = [];
    for await (const [name, handle] of (this.root as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries()) {
      if (handle.kind !== 'directory') continue;
      const manifest = await new OpfsModelStore(handle as FileSystemDirectoryHandle, name).getManifest();
      if (manifest) urls.push(manifest.url);
    }
    return urls;
  }

  async delete(modelUrl: string): Promise<void> {
    try {
      await this.root.removeEntry(modelFolderName(modelUrl), { recursive: true });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}

let defaultStorage: Promise<ModelStorage> | null = null;

/** OPFS where the browser has it (navigator.storage.getDirectory), memory otherwise (Node, old browsers). */
export function defaultModelStorage(): Promise<ModelStorage> {
  defaultStorage ??= (async (): Promise<ModelStorage> => {
    const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
    if (storage && typeof storage.getDirectory === 'function') {
      try {
        const root = await storage.getDirectory();
        return new OpfsModelStorage(await root.getDirectoryHandle(OPFS_ROOT_FOLDER, { create: true }));
      } catch {
        // OPFS refused (some private modes): fall through to memory.
      }
    }
    return new MemoryModelStorage();
  })();
  return defaultStorage;
}
