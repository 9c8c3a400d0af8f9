// Node-only model file sources (node:fs): a checkpoint folder or one .gguf file on disk. Never import from browser code.
import { open } from 'node:fs/promises';
import { basename, dirname, isAbsolute, normalize, resolve } from 'node:path';
import { InvalidArgumentError, ModelFetchError } from '../errors/index.ts';
import { loadFromSource, loadModel, type LoadOptions } from './load.ts';
import type { SingleFileSource } from './sources.ts';
import type { FileSource, LoadedModel } from './types.ts';

/** Read in slices so progress moves on multi-gigabyte files; 64 MiB keeps the call count small. */
const READ_SLICE_BYTES = 64 * 1024 * 1024;

/** Files in a local folder (a Hugging Face snapshot). Absent files read as null. */
export function folderSource(dir: string): FileSource {
  const root = resolve(dir);
  return {
    description: root,
    read(path, onBytes) {
      // Paths come from files we parse (the shard index): keep them inside the folder.
      const relative = normalize(path);
      if (isAbsolute(relative) || relative === '..' || relative.startsWith('../')) {
        return Promise.reject(new InvalidArgumentError('path', `"${path}" points outside the model folder ${root}`));
      }
      return readWholeFile(resolve(root, relative), onBytes);
    },
    stream(path, onBytes) {
      const relative = normalize(path);
      if (isAbsolute(relative) || relative === '..' || relative.startsWith('../')) {
        return Promise.reject(new InvalidArgumentError('path', `"${path}" points outside the model folder ${root}`));
      }
      return streamFile(resolve(root, relative), onBytes);
    },
  };
}

/** Slices of a streamed file: small enough that a multi-gigabyte checkpoint never sits in memory. */
const STREAM_SLICE_BYTES = 8 * 1024 * 1024;

/** A file as consecutive slices, or null when it does not exist. */
async function streamFile(path: string, onBytes?: (loaded: number, total: number) => void): Promise<AsyncIterable<Uint8Array> | null> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw new ModelFetchError(path, code ?? (e as Error).message);
  }
  const { size } = await handle.stat();
  return (async function* slices() {
    try {
      onBytes?.(0, size);
      let loaded = 0;
      while (loaded < size) {
        const slice = new Uint8Array(Math.min(STREAM_SLICE_BYTES, size - loaded));
        const { bytesRead } = await handle.read(slice, 0, slice.byteLength, loaded);
        if (bytesRead === 0) throw new ModelFetchError(path, `the file ended after ${loaded} of ${size} bytes`);
        loaded += bytesRead;
        onBytes?.(loaded, size);
        yield bytesRead === slice.byteLength ? slice : slice.subarray(0, bytesRead);
      }
    } finally {
      await handle.close();
    }
  })();
}

/** One model file on disk (a .gguf); `read` knows only its own name. */
export function pathFileSource(path: string): SingleFileSource {
  const full = resolve(path);
  const file = basename(full);
  return {
    description: full,
    file,
    read(name, onBytes) {
      return name === file ? readWholeFile(resolve(dirname(full), file), onBytes) : Promise.resolve(null);
    },
  };
}

async function readWholeFile(path: string, onBytes?: (loaded: number, total: number) => void): Promise<Uint8Array | null> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw new ModelFetchError(path, code ?? (e as Error).message);
  }
  try {
    const { size } = await handle.stat();
    const bytes = new Uint8Array(size);
    onBytes?.(0, size);
    let loaded = 0;
    while (loaded < size) {
      const { bytesRead } = await handle.read(bytes, loaded, Math.min(READ_SLICE_BYTES, size - loaded), loaded);
      if (bytesRead === 0) throw new ModelFetchError(path, `the file ended after ${loaded} of ${size} bytes`);
      loaded += bytesRead;
      onBytes?.(loaded, size);
    }
    return bytes;
  } catch (e) {
    if (e instanceof ModelFetchError) throw e;
    throw new ModelFetchError(path, (e as NodeJS.ErrnoException).code ?? (e as Error).message);
  } finally {
    await handle.close();
  }
}

/**
 * Node's loadModel: a local folder (Hugging Face snapshot), a local .gguf file, or an http(s) URL as loadModel takes.
 */
export function loadModelFromPath(pathOrUrl: string, options: LoadOptions = {}): Promise<LoadedModel> {
  if (/^https?:\/\//i.test(pathOrUrl)) return loadModel(pathOrUrl, options);
  const source = pathOrUrl.toLowerCase().endsWith('.gguf') ? pathFileSource(pathOrUrl) : folderSource(pathOrUrl);
  return loadFromSource(source, options);
}
