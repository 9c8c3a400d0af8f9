// Browser-safe model file sources over fetch: a base URL (Hugging Face `resolve` layout or any folder URL) or one file URL.
import { AbortedError, InvalidArgumentError, ModelFetchError, NotAModelError } from '../errors/index.ts';
import type { FileSource } from './types.ts';

/** A source that holds exactly one model file (a .gguf); `file` is its name, the only path `read` knows. */
export interface SingleFileSource extends FileSource {
  readonly file: string;
}

export function isSingleFileSource(source: FileSource): source is SingleFileSource {
  return typeof (source as Partial<SingleFileSource>).file === 'string';
}

/**
 * Files under a base URL: `read('config.json')` fetches `<baseUrl>/config.json`. For the hub, pass
 * `https://huggingface.co/<org>/<repo>/resolve/<revision>`. Relative base URLs work in a page.
 * A 404 reads as null (absent optional file); any other failure throws ModelFetchError.
 */
export function urlSource(baseUrl: string, signal?: AbortSignal): FileSource {
  const base = baseUrl.replace(/\/+$/, '');
  return {
    description: base,
    read(path, onBytes) {
      const encoded = path.split('/').map(encodeURIComponent).join('/');
      return fetchBytes(`${base}/${encoded}`, onBytes, signal);
    },
    stream(path, onBytes) {
      const encoded = path.split('/').map(encodeURIComponent).join('/');
      return fetchStream(`${base}/${encoded}`, onBytes, signal);
    },
  };
}

/** The hub's file URLs: https://huggingface.co/<org>/<repo>/resolve/<revision>/<file>. */
export const HUGGING_FACE_ORIGIN = 'https://huggingface.co';

/** A hub repository at a revision (branch, tag or commit), e.g. huggingFaceSource('Qwen/Qwen3-0.6B'). */
export function huggingFaceSource(repo: string, revision = 'main', origin = HUGGING_FACE_ORIGIN): FileSource {
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo)) throw new InvalidArgumentError('repo', `"${repo}" is not of the form <org>/<name>`);
  return urlSource(`${origin}/${repo}/resolve/${encodeURIComponent(revision)}`);
}

/** One file at a URL (e.g. `https://huggingface.co/<org>/<repo>/resolve/main/model.Q8_0.gguf`). */
export function urlFileSource(url: string, signal?: AbortSignal): SingleFileSource {
  const file = fileNameOfUrl(url);
  return {
    description: url,
    file,
    read(path, onBytes) {
      return path === file ? fetchBytes(url, onBytes, signal) : Promise.resolve(null);
    },
    stream(path, onBytes) {
      return path === file ? fetchStream(url, onBytes, signal) : Promise.resolve(null);
    },
  };
}

/** The last path segment of a URL, without query or fragment, decoded. */
export function fileNameOfUrl(url: string): string {
  const path = url.replace(/[?#].*$/, '');
  return decodeURIComponent(path.slice(path.lastIndexOf('/') + 1));
}

/**
 * Fetches a whole body, reporting bytes as they stream in. `total` is the content-length, or 0 when the
 * server sends none or compresses the body (then content-length counts compressed bytes, not the ones we see).
 */
export async function fetchBytes(url: string, onBytes?: (loaded: number, total: number) => void, signal?: AbortSignal): Promise<Uint8Array | null> {
  const opened = await openResponse(url, signal);
  if (!opened) return null;
  const { response, total } = opened;
  onBytes?.(0, total);
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    onBytes?.(bytes.byteLength, Math.max(total, bytes.byteLength));
    return bytes;
  }

  // With a known length, write into one buffer of that size: model files are large and two copies may not fit.
  const reader = response.body.getReader();
  let buffer = new Uint8Array(total);
  const extraChunks: Uint8Array[] = [];
  let loaded = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const fit = Math.max(0, Math.min(value.byteLength, buffer.byteLength - loaded));
      if (fit > 0) buffer.set(fit === value.byteLength ? value : value.subarray(0, fit), loaded);
      if (fit < value.byteLength) extraChunks.push(value.subarray(fit));
      loaded += value.byteLength;
      onBytes?.(loaded, Math.max(total, loaded));
    }
  } catch (e) {
    if (signal?.aborted) throw new AbortedError('The model download was aborted.');
    throw new ModelFetchError(url, `the download broke off after ${loaded} bytes: ${(e as Error).message}`);
  }
  if (total > 0 && loaded < total) throw new ModelFetchError(url, `the download ended after ${loaded} of ${total} bytes`);
  if (extraChunks.length > 0) {
    const filled = Math.min(total, loaded);
    const whole = new Uint8Array(loaded);
    whole.set(buffer.subarray(0, filled));
    let at = filled;
    for (const chunk of extraChunks) {
      whole.set(chunk, at);
      at += chunk.byteLength;
    }
    buffer = whole;
  }
  return buffer;
}

/**
 * Whether a model file's request was answered with a web page: no model file is HTML, while dev servers and single-page
 * sites answer paths they lack with their index.html (200), and portals with a login page.
 */
export function answeredWithHtml(response: Response, url: string): boolean {
  const type = (response.headers.get('content-type') ?? '').toLowerCase();
  return type.startsWith('text/html') && !/\.html?$/i.test(new URL(url, 'http://x/').pathname);
}

/** Whether bytes read as a model file are an HTML page (a server that sent one without saying so, or a saved page). */
export function looksLikeHtml(bytes: Uint8Array): boolean {
  const head = new TextDecoder().decode(bytes.subarray(0, 64)).replace(/^\uFEFF/, '').trimStart().toLowerCase();
  return head.startsWith('<!doctype html') || head.startsWith('<html');
}

/** The response of a GET, or null on 404; its usable content-length (0 when unknown or compressed). */
async function openResponse(url: string, signal?: AbortSignal): Promise<{ response: Response; total: number } | null> {
  if (signal?.aborted) throw new AbortedError('The model download was aborted.');
  let response: Response;
  try {
    response = await fetch(url, { signal });
  } catch (e) {
    if (signal?.aborted) throw new AbortedError('The model download was aborted.');
    throw new ModelFetchError(url, (e as Error).message);
  }
  if (response.status === 404) {
    await response.body?.cancel();
    return null;
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new ModelFetchError(url, `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`);
  }
  if (answeredWithHtml(response, url)) {
    await response.body?.cancel();
    throw new NotAModelError(url, 'file');
  }
  const encoding = response.headers.get('content-encoding');
  const lengthHeader = response.headers.get('content-length');
  const declared = lengthHeader !== null && (!encoding || encoding === 'identity') ? Number(lengthHeader) : NaN;
  const total = Number.isSafeInteger(declared) && declared >= 0 ? declared : 0;
  return { response, total };
}

/** A body as the chunks the network delivers (never held whole), or null on 404. */
export async function fetchStream(url: string, onBytes?: (loaded: number, total: number) => void, signal?: AbortSignal): Promise<AsyncIterable<Uint8Array> | null> {
  const opened = await openResponse(url, signal);
  if (!opened) return null;
  const { response, total } = opened;
  return (async function* chunks() {
    onBytes?.(0, total);
    if (!response.body) {
      const bytes = new Uint8Array(await response.arrayBuffer());
      onBytes?.(bytes.byteLength, Math.max(total, bytes.byteLength));
      yield bytes;
      return;
    }
    const reader = response.body.getReader();
    let loaded = 0;
    try {
      for (;;) {
        let step: ReadableStreamReadResult<Uint8Array>;
        try {
          step = await reader.read();
        } catch (e) {
          if (signal?.aborted) throw new AbortedError('The model download was aborted.');
          throw new ModelFetchError(url, `the download broke off after ${loaded} bytes: ${(e as Error).message}`);
        }
        if (step.done) break;
        loaded += step.value.byteLength;
        onBytes?.(loaded, Math.max(total, loaded));
        yield step.value;
      }
    } finally {
      // A consumer that stops early (a bad tensor) must not leave the download running.
      if (total === 0 || loaded < total) await reader.cancel().catch(() => undefined);
    }
    if (total > 0 && loaded < total) throw new ModelFetchError(url, `the download ended after ${loaded} of ${total} bytes`);
  })();
}

/**
 * A source whose reads and streams fail with AbortedError once `signal` is aborted: before a file, as its bytes arrive
 * and between its chunks (a URL source given the signal also cancels the request itself).
 */
export function abortableSource<S extends FileSource>(source: S, signal: AbortSignal): S {
  const check = () => { if (signal.aborted) throw new AbortedError('The model load was aborted.'); };
  const watch = (onBytes?: (loaded: number, total: number) => void) => (loaded: number, total: number) => { check(); onBytes?.(loaded, total); };
  const inner = source.stream?.bind(source);
  return {
    ...source,
    description: source.description,
    async read(path: string, onBytes?: (loaded: number, total: number) => void) {
      check();
      const bytes = await source.read(path, watch(onBytes));
      check();
      return bytes;
    },
    ...(inner ? {
      async stream(path: string, onBytes?: (loaded: number, total: number) => void) {
        check();
        const chunks = await inner(path, watch(onBytes));
        if (!chunks) return null;
        return (async function* abortable() {
          for await (const chunk of chunks) {
            check();
            yield chunk;
          }
        })();
      },
    } : {}),
  };
}
