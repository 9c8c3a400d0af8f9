// What a server's ETag headers say about a file's content: the hub's are the file's sha256 (LFS) or git blob sha1.

/**
 * - sha256: the hub's X-Linked-Etag (LFS files, on the redirect) or the ETag of an LFS file's final response: the
 *   file's sha256 in hex.
 * - git-sha1: the hub's ETag for a file kept in git itself (config.json, tokenizer.json): the git blob id,
 *   sha1("blob <size>\0" + content).
 * - opaque: any other validator (usable for If-Range, says nothing about the content).
 */
export type ContentDigest =
  | { kind: 'sha256'; hex: string }
  | { kind: 'git-sha1'; hex: string }
  | { kind: 'opaque' };

export interface ParsedEtag {
  /** The header value as sent (for If-Range). */
  raw: string;
  /** W/"..." validators may not be used with If-Range. */
  weak: boolean;
  digest: ContentDigest;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
const SHA1_HEX = /^[0-9a-f]{40}$/;

/** Parses one ETag value: `"abc"`, `W/"abc"`, or unquoted (some proxies strip quotes). */
export function parseEtag(value: string | null | undefined): ParsedEtag | null {
  if (value === null || value === undefined) return null;
  const raw = value.trim();
  if (raw.length === 0) return null;
  const weak = /^W\//i.test(raw);
  const opaque = raw.replace(/^W\//i, '').replace(/^"(.*)"$/, '$1').toLowerCase();
  let digest: ContentDigest = { kind: 'opaque' };
  if (SHA256_HEX.test(opaque)) digest = { kind: 'sha256', hex: opaque };
  else if (SHA1_HEX.test(opaque)) digest = { kind: 'git-sha1', hex: opaque };
  return { raw, weak, digest };
}

/** Reads response headers the way the hub sets them. */
export interface HeaderSource {
  get(name: string): string | null;
}

/**
 * The content digest a response announces. `trustEtag`: whether a bare ETag (not X-Linked-Etag) may be read as a
 * digest; true for servers in the hub's layout (`/resolve/` URLs), where it is one, false for other servers, whose
 * 64-hex ETags can be hashes of something else. X-Linked-Etag is the hub's own header, always trusted.
 */
export function announcedDigest(headers: HeaderSource, trustEtag: boolean): ContentDigest {
  const linked = parseEtag(headers.get('x-linked-etag'));
  if (linked && linked.digest.kind !== 'opaque') return linked.digest;
  const etag = parseEtag(headers.get('etag'));
  if (trustEtag && etag && etag.digest.kind !== 'opaque') return etag.digest;
  return { kind: 'opaque' };
}

/** The validator to send as If-Range when resuming (strong ETags only, RFC 9110 13.1.5), or null. */
export function ifRangeValidator(etag: string | null | undefined): string | null {
  const parsed = parseEtag(etag);
  return parsed && !parsed.weak ? parsed.raw : null;
}

/** Total size from a Content-Range header (`bytes 100-199/1000`), with the range's start; null when malformed. */
export function parseContentRange(value: string | null): { start: number; end: number; total: number | null } | null {
  if (!value) return null;
  const m = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(value.trim());
  if (!m) return null;
  const start = Number(m[1]);
  const end = Number(m[2]);
  const total = m[3] === '*' ? null : Number(m[3]);
  if (end < start || (total !== null && end >= total)) return null;
  return { start, end, total };
}

/** Whether a URL is in the hub's file layout (`.../resolve/<revision>/<file>`). */
export function isHubLayoutUrl(url: string): boolean {
  try {
    return /\/resolve\/[^/]+\//.test(new URL(url).pathname);
  } catch {
    return false;
  }
}
