// ETag parsing: the hub's sha256 and git-sha1 validators, weak validators, Content-Range, hub-layout URLs.
import { describe, expect, it } from 'vitest';
import { announcedDigest, ifRangeValidator, isHubLayoutUrl, parseContentRange, parseEtag } from './etag.ts';

const SHA256 = '03d44225f7a193cb5055a06398012ed5a87d2ac5b5fb9389de5370e820d81b9f';
const SHA1 = 'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3';

function headers(h: Record<string, string>) {
  const lower = new Map(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
  return { get: (name: string) => lower.get(name.toLowerCase()) ?? null };
}

describe('parseEtag', () => {
  it('reads a quoted sha256 (an LFS file) and a git blob sha1 (a file in git)', () => {
    expect(parseEtag(`"${SHA256}"`)).toEqual({ raw: `"${SHA256}"`, weak: false, digest: { kind: 'sha256', hex: SHA256 } });
    expect(parseEtag(`"${SHA1}"`)?.digest).toEqual({ kind: 'git-sha1', hex: SHA1 });
  });
  it('accepts weak and unquoted forms, upper-case hex, and keeps anything else opaque', () => {
    expect(parseEtag(`W/"${SHA256.toUpperCase()}"`)).toMatchObject({ weak: true, digest: { kind: 'sha256', hex: SHA256 } });
    expect(parseEtag(SHA1)?.digest.kind).toBe('git-sha1');
    expect(parseEtag('"5f3e-1a2b"')?.digest.kind).toBe('opaque');
    expect(parseEtag(`"${SHA256}0"`)?.digest.kind).toBe('opaque');
    expect(parseEtag('')).toBeNull();
    expect(parseEtag(null)).toBeNull();
  });
  it('uses only strong validators for If-Range', () => {
    expect(ifRangeValidator(`"${SHA256}"`)).toBe(`"${SHA256}"`);
    expect(ifRangeValidator(`W/"${SHA256}"`)).toBeNull();
    expect(ifRangeValidator(null)).toBeNull();
  });
});

describe('announcedDigest', () => {
  it('prefers X-Linked-Etag, the hub header, over ETag', () => {
    expect(announcedDigest(headers({ 'X-Linked-Etag': `"${SHA256}"`, ETag: `"${SHA1}"` }), true)).toEqual({ kind: 'sha256', hex: SHA256 });
  });
  it('reads a bare ETag as a digest only from servers in the hub layout', () => {
    expect(announcedDigest(headers({ ETag: `"${SHA256}"` }), true)).toEqual({ kind: 'sha256', hex: SHA256 });
    expect(announcedDigest(headers({ ETag: `"${SHA256}"` }), false)).toEqual({ kind: 'opaque' });
    expect(announcedDigest(headers({ 'X-Linked-Etag': `"${SHA256}"` }), false)).toEqual({ kind: 'sha256', hex: SHA256 });
    expect(announcedDigest(headers({}), true)).toEqual({ kind: 'opaque' });
  });
});

describe('parseContentRange', () => {
  it('reads start, end and total; rejects malformed or impossible ranges', () => {
    expect(parseContentRange('bytes 100-199/1000')).toEqual({ start: 100, end: 199, total: 1000 });
    expect(parseContentRange('bytes 0-0/*')).toEqual({ start: 0, end: 0, total: null });
    expect(parseContentRange('bytes 200-100/1000')).toBeNull();
    expect(parseContentRange('bytes 0-1000/1000')).toBeNull();
    expect(parseContentRange('items 0-1/2')).toBeNull();
    expect(parseContentRange(null)).toBeNull();
  });
});

describe('isHubLayoutUrl', () => {
  it('knows the resolve/<revision>/<file> layout', () => {
    expect(isHubLayoutUrl('https://huggingface.co/Qwen/Qwen3-0.6B/resolve/main/config.json')).toBe(true);
    expect(isHubLayoutUrl('http://127.0.0.1:5173/models/sieve-tiny/config.json')).toBe(false);
    expect(isHubLayoutUrl('not a url')).toBe(false);
  });
});
