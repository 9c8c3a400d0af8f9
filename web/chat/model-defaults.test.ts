// The default model: a model kept on this device wins and costs no request (the offline app); otherwise the server is asked.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FALLBACK_MODEL_URL, PROJECT_MODEL_URL, findDefaultModel } from './model-defaults.ts';

const HUB_MODEL = 'https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct/resolve/main/';

/** A server that has the given paths (HEAD answers), counting the requests made to it. */
function serverWith(paths: string[]) {
  const requests: string[] = [];
  vi.stubGlobal('fetch', async (url: string) => {
    requests.push(url);
    return new Response(null, { status: paths.includes(url) ? 200 : 404, headers: { 'content-type': 'application/octet-stream' } });
  });
  return requests;
}

afterEach(() => { vi.unstubAllGlobals(); });

describe('findDefaultModel', () => {
  it('takes the last loaded model when it is kept, with no request', async () => {
    const requests = serverWith([]);
    const cached = new Set([HUB_MODEL, PROJECT_MODEL_URL]);
    expect(await findDefaultModel({ isCached: async (u) => cached.has(u), lastLoaded: HUB_MODEL })).toBe(HUB_MODEL);
    expect(requests).toEqual([]);
  });

  it('takes a kept default model when the last one is not kept', async () => {
    const requests = serverWith([]);
    const cached = new Set([FALLBACK_MODEL_URL]);
    expect(await findDefaultModel({ isCached: async (u) => cached.has(u), lastLoaded: HUB_MODEL })).toBe(FALLBACK_MODEL_URL);
    expect(requests).toEqual([]);
  });

  it('asks the server when nothing is kept: the project model first, then the shared one', async () => {
    serverWith(['/models/sieve-tiny/config.json', FALLBACK_MODEL_URL]);
    expect(await findDefaultModel({ isCached: async () => false, lastLoaded: null })).toBe(PROJECT_MODEL_URL);
    serverWith([FALLBACK_MODEL_URL]);
    expect(await findDefaultModel({ isCached: async () => false, lastLoaded: null })).toBe(FALLBACK_MODEL_URL);
  });

  it('is null offline with nothing kept, and a failing store check counts as not kept', async () => {
    vi.stubGlobal('fetch', async () => { throw new TypeError('Failed to fetch'); });
    expect(await findDefaultModel({ isCached: async () => { throw new Error('no OPFS'); }, lastLoaded: HUB_MODEL })).toBeNull();
  });

  it('does not take an index.html answer (a dev server\'s fallback) for a model', async () => {
    vi.stubGlobal('fetch', async () => new Response('<!doctype html>', { status: 200, headers: { 'content-type': 'text/html' } }));
    expect(await findDefaultModel({ isCached: async () => false, lastLoaded: null })).toBeNull();
  });
});
