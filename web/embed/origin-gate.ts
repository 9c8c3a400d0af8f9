// Which page origins Sieve's frame serves: an allow list fixed at build time, and the first origin it served pinned.

export type OriginVerdict = { ok: true } | { ok: false; reason: string };

/** `VITE_SIEVE_EMBED_ORIGINS`: '*' (or empty) lets any site embed Sieve; else a comma-separated list of origins. */
export function parseAllowedOrigins(setting: string | undefined): '*' | string[] {
  const text = (setting ?? '').trim();
  if (text === '' || text === '*') return '*';
  return text.split(',').map((o) => o.trim()).filter((o) => o.length > 0).map((o) => {
    const url = new URL(o);
    if (url.origin !== o.replace(/\/$/, '')) throw new TypeError(`VITE_SIEVE_EMBED_ORIGINS: "${o}" is not an origin (scheme://host[:port]).`);
    return url.origin;
  });
}

/**
 * One gate per frame. A frame belongs to one host page: once it has served an origin, every other origin is
 * refused, even when allowed, so a frame that outlives its page (or is reached by a page it was not made for)
 * never hands an engine, its model cache and its conversations to a second site. Opaque origins ('null': sandboxed
 * frames, file: pages) are refused: the frame could not address its answers to them alone.
 */
export class OriginGate {
  private pinned: string | null = null;

  constructor(private readonly allowed: '*' | readonly string[]) {}

  admit(origin: string): OriginVerdict {
    if (origin === 'null' || origin === '') return { ok: false, reason: 'an opaque origin (sandboxed frame or file: page) cannot be answered privately' };
    if (this.allowed !== '*' && !this.allowed.includes(origin)) {
      return { ok: false, reason: `it is not in this deployment's allow list (${this.allowed.join(', ')})` };
    }
    if (this.pinned !== null && this.pinned !== origin) return { ok: false, reason: `this frame already serves ${this.pinned}` };
    this.pinned = origin;
    return { ok: true };
  }

  /** The origin this frame serves, once it has admitted one. */
  get servedOrigin(): string | null {
    return this.pinned;
  }
}
