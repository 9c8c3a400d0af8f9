// The frame's origin rules: allow list, first origin pinned, opaque origins refused.
import { describe, expect, it } from 'vitest';
import { OriginGate, parseAllowedOrigins } from './origin-gate.ts';

describe('parseAllowedOrigins', () => {
  it('reads "*" or nothing as any origin, and a list as normalized origins', () => {
    expect(parseAllowedOrigins(undefined)).toBe('*');
    expect(parseAllowedOrigins(' * ')).toBe('*');
    expect(parseAllowedOrigins('https://a.example, http://127.0.0.1:8080/')).toEqual(['https://a.example', 'http://127.0.0.1:8080']);
  });

  it('rejects a URL with a path, which would never equal an origin', () => {
    expect(() => parseAllowedOrigins('https://a.example/app')).toThrow(/not an origin/);
  });
});

describe('OriginGate', () => {
  it('serves the first origin and refuses any other afterwards, even an allowed one', () => {
    const gate = new OriginGate('*');
    expect(gate.admit('https://a.example')).toEqual({ ok: true });
    expect(gate.admit('https://a.example')).toEqual({ ok: true });
    const second = gate.admit('https://b.example');
    expect(second.ok).toBe(false);
    expect(!second.ok && second.reason).toMatch(/already serves https:\/\/a\.example/);
    expect(gate.servedOrigin).toBe('https://a.example');
  });

  it('refuses origins outside the allow list without pinning them', () => {
    const gate = new OriginGate(['https://shop.example']);
    const refused = gate.admit('https://evil.example');
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.reason).toMatch(/allow list/);
    expect(gate.servedOrigin).toBeNull();
    expect(gate.admit('https://shop.example')).toEqual({ ok: true });
  });

  it('refuses opaque origins', () => {
    expect(new OriginGate('*').admit('null').ok).toBe(false);
  });
});
