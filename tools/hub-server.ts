// A local stand-in for the Hugging Face Hub (Node http) for tests: serves folders in the hub's URL layout
// (/<org>/<name>/resolve/<revision>/<file>) with the hub's headers (ETag = sha256 for LFS files, git blob sha1
// otherwise; X-Linked-Etag / X-Linked-Size; a redirect of LFS files to a "CDN" path; Range and If-Range; CORS), and
// switches for failures: 404, a connection cut midway, a slow connection, a corrupted body, a gated repository.
// It counts every request it sees. Run by hand: `npx tsx tools/hub-server.ts [--port N] org/name=folder ...`.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Files at least this big, or *.safetensors / *.gguf, are served as LFS files (sha256 ETag, redirect), as the hub does. */
const LFS_MIN_BYTES = 10 * 1024 * 1024;
/** The slow connection sends this much at a time. */
const SLOW_CHUNK_BYTES = 16 * 1024;
/** Pause between the last byte sent and the cut (see sendBody). */
const CUT_PAUSE_MS = 250;
/** Path prefix of the pretend CDN that LFS files redirect to (the hub sends them to cas-bridge / cdn-lfs hosts). */
const CDN_PREFIX = '/__cdn/';
const EXPOSED_HEADERS = 'ETag, X-Linked-Etag, X-Linked-Size, X-Repo-Commit, Content-Range, Content-Length, Accept-Ranges, X-Error-Code';

export interface HubRequest {
  method: string;
  path: string;
  range: string | null;
  ifRange: string | null;
  authorization: string | null;
  status: number;
}

export interface HubSwitches {
  /** Paths (`org/name/file`) that answer 404 (as if the file were not in the repo). */
  notFound: Set<string>;
  /** Paths whose connection is cut after `atBytes` bytes of a response body; the next `times` responses are cut, then it heals. */
  truncate: Map<string, { atBytes: number; times: number }>;
  /** Bytes per second of every body (null: as fast as possible). */
  bytesPerSecond: number | null;
  /** Paths served with one byte changed in the middle, under the original's headers. */
  corrupt: Set<string>;
  /** Send ETag / X-Linked-Etag (the hub does; off to test servers that do not). */
  etags: boolean;
  /** Honour Range requests (off: always 200 with the whole file, as some servers do). */
  ranges: boolean;
  /** Redirect LFS files to the CDN path, as the hub does. */
  redirectLfs: boolean;
  /** Repos that need `Authorization: Bearer <token>` (gated). */
  gated: Map<string, string>;
  /**
   * Redirect LFS files to another origin (http://localhost:<port> instead of 127.0.0.1), whose ETag is 64 hex digits
   * that are NOT the file's sha256, as a CDN's own validator can be (Xet's content hash).
   */
  crossOriginCdn: boolean;
}

export interface HubServer {
  /** http://127.0.0.1:<port> */
  origin: string;
  requests: HubRequest[];
  switches: HubSwitches;
  /** The URL the engine loads for a repo: <origin>/<repo>/resolve/<revision>/ */
  modelUrl(repo: string, revision?: string): string;
  /** Forgets requests and resets switches. */
  reset(): void;
  close(): Promise<void>;
}

function defaultSwitches(): HubSwitches {
  return { notFound: new Set(), truncate: new Map(), bytesPerSecond: null, corrupt: new Set(), etags: true, ranges: true, redirectLfs: true, gated: new Map(), crossOriginCdn: false };
}

interface FileInfo { bytes: Buffer; sha256: string; gitSha1: string; lfs: boolean }

/** repos: `org/name` -> folder served as that repository (every revision name serves the same folder). */
export async function startHubServer(repos: Record<string, string>, port = 0): Promise<HubServer> {
  const roots = new Map(Object.entries(repos).map(([repo, dir]) => [repo, resolve(dir)]));
  const cache = new Map<string, FileInfo>();
  const requests: HubRequest[] = [];
  const state = { switches: defaultSwitches() };

  const fileInfo = (path: string): FileInfo => {
    let info = cache.get(path);
    if (!info) {
      const bytes = readFileSync(path);
      const lfs = bytes.byteLength >= LFS_MIN_BYTES || /\.(safetensors|gguf)$/.test(path);
      const gitSha1 = createHash('sha1').update(`blob ${bytes.byteLength}\0`).update(bytes).digest('hex');
      info = { bytes, sha256: createHash('sha256').update(bytes).digest('hex'), gitSha1, lfs };
      cache.set(path, info);
    }
    return info;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = decodeURIComponent(url.pathname);
    const record: HubRequest = {
      method: req.method ?? 'GET', path, range: req.headers.range ?? null, ifRange: (req.headers['if-range'] as string | undefined) ?? null,
      authorization: req.headers.authorization ?? null, status: 0,
    };
    requests.push(record);
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    const end = (status: number, body = '', headers: Record<string, string> = {}) => {
      record.status = status;
      res.writeHead(status, headers);
      res.end(body);
    };
    if (req.method === 'OPTIONS') {
      end(204, '', { 'Access-Control-Allow-Headers': 'Authorization, Range, If-Range', 'Access-Control-Allow-Methods': 'GET, HEAD', 'Access-Control-Max-Age': '600' });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') { end(405); return; }

    // /<org>/<name>/resolve/<revision>/<file...> or the CDN path /__cdn/<org>/<name>/<file...>
    let repo: string;
    let file: string;
    let viaCdn = false;
    if (path.startsWith(CDN_PREFIX)) {
      const parts = path.slice(CDN_PREFIX.length).split('/');
      repo = parts.slice(0, 2).join('/');
      file = parts.slice(2).join('/');
      viaCdn = true;
    } else {
      const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
      if (!m) { end(404, 'not found', { 'X-Error-Code': 'RepoNotFound' }); return; }
      repo = m[1];
      file = m[3];
    }
    const root = roots.get(repo);
    if (!root) { end(404, 'Repository not found', { 'X-Error-Code': 'RepoNotFound' }); return; }
    const token = state.switches.gated.get(repo);
    if (token !== undefined && !viaCdn && req.headers.authorization !== `Bearer ${token}`) {
      end(req.headers.authorization ? 403 : 401, 'Access to this model is restricted', { 'X-Error-Code': 'GatedRepo' });
      return;
    }
    const key = `${repo}/${file}`;
    const full = resolve(root, file);
    let exists = false;
    try { exists = (full === root || full.startsWith(root + sep)) && statSync(full).isFile(); } catch { exists = false; }
    if (!exists || state.switches.notFound.has(key)) { end(404, 'Entry not found', { 'X-Error-Code': 'EntryNotFound' }); return; }
    const info = fileInfo(full);
    const size = info.bytes.byteLength;
    const cdnValidator = viaCdn && state.switches.crossOriginCdn ? createHash('sha256').update('cdn:').update(info.sha256).digest('hex') : null;
    const etag = `"${cdnValidator ?? (info.lfs ? info.sha256 : info.gitSha1)}"`;
    const headers: Record<string, string> = { 'Accept-Ranges': state.switches.ranges ? 'bytes' : 'none', 'Content-Type': 'application/octet-stream', 'X-Repo-Commit': '0'.repeat(40) };
    if (state.switches.etags) headers.ETag = etag;
    if (info.lfs && !viaCdn && state.switches.redirectLfs) {
      // The hub answers an LFS file with a redirect carrying the file's sha256 and size; the CDN serves the bytes.
      if (state.switches.etags) { headers['X-Linked-Etag'] = etag; headers['X-Linked-Size'] = String(size); }
      const cdnOrigin = state.switches.crossOriginCdn ? `http://localhost:${(req.socket.localPort ?? 0)}` : '';
      end(302, '', { ...headers, Location: `${cdnOrigin}${CDN_PREFIX}${repo}/${file.split('/').map(encodeURIComponent).join('/')}` });
      return;
    }

    let start = 0;
    let status = 200;
    const range = state.switches.ranges ? /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '') : null;
    const ifRange = req.headers['if-range'];
    if (range && (ifRange === undefined || ifRange === etag)) {
      start = Number(range[1]);
      const last = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start >= size || last < start) { end(416, '', { 'Content-Range': `bytes */${size}` }); return; }
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${last}/${size}`;
      headers['Content-Length'] = String(last - start + 1);
    } else {
      headers['Content-Length'] = String(size);
    }
    record.status = status;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') { res.end(); return; }
    let body = info.bytes.subarray(start, headers['Content-Range'] ? Number(headers['Content-Range'].split(/[-/]/)[1]) + 1 : size);
    if (state.switches.corrupt.has(key)) {
      body = Buffer.from(body);
      const at = Math.floor(size / 2) - start;
      if (at >= 0 && at < body.byteLength) body[at] ^= 0xff;
    }
    const cut = state.switches.truncate.get(key);
    let cutAt: number | null = null;
    if (cut && cut.times > 0) {
      cut.times -= 1;
      cutAt = cut.atBytes;
    }
    await sendBody(res, body, cutAt, state.switches.bytesPerSecond);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => { if (!res.headersSent) { res.writeHead(500); } res.end(String(e)); });
  });
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
  const address = server.address();
  const origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}`;
  return {
    origin,
    requests,
    get switches() { return state.switches; },
    modelUrl: (repo, revision = 'main') => `${origin}/${repo}/resolve/${encodeURIComponent(revision)}/`,
    reset() { requests.length = 0; state.switches = defaultSwitches(); },
    close: () => new Promise<void>((ok) => { server.closeAllConnections(); server.close(() => ok()); }),
  };
}

/** Writes `body`, throttled when asked; with `cutAt`, destroys the connection after that many bytes. */
async function sendBody(res: ServerResponse, body: Buffer, cutAt: number | null, bytesPerSecond: number | null): Promise<void> {
  const limit = cutAt === null ? body.byteLength : Math.min(cutAt, body.byteLength);
  const step = bytesPerSecond ? SLOW_CHUNK_BYTES : Math.max(1, limit);
  for (let at = 0; at < limit; at += step) {
    const chunk = body.subarray(at, Math.min(limit, at + step));
    if (!res.write(chunk)) await new Promise((ok) => res.once('drain', ok));
    if (bytesPerSecond) await new Promise((ok) => setTimeout(ok, (chunk.byteLength / bytesPerSecond) * 1000));
    if (res.destroyed) return;
  }
  if (cutAt !== null && cutAt < body.byteLength) {
    // Close the connection short of Content-Length, once the client had time to read what was sent: Chromium drops
    // bytes that arrive together with the close (seen: 0 bytes kept with no pause, some runs lost them at 20 ms).
    await new Promise((ok) => setTimeout(ok, CUT_PAUSE_MS));
    res.socket?.end();
    return;
  }
  res.end();
}

// CLI: npx tsx tools/hub-server.ts [--port N] org/name=folder ...
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  let port = 0;
  const repos: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--port') { port = Number(args[++i]); continue; }
    const [repo, dir] = args[i].split('=');
    if (!repo || !dir) throw new Error(`expected org/name=folder, got ${args[i]}`);
    repos[repo] = dir;
  }
  const server = await startHubServer(repos, port);
  for (const repo of Object.keys(repos)) console.log(server.modelUrl(repo));
}
