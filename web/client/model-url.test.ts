// resolveModelUrl: what a user types in the model picker becomes the URL the engine fetches.
import { describe, expect, it } from 'vitest';
import { isHubRepoId, resolveModelUrl } from './model-url.ts';

const PAGE = 'http://127.0.0.1:4173/index.html';

describe('resolveModelUrl', () => {
  it('maps a Hugging Face repo id to its main-branch resolve folder', () => {
    expect(resolveModelUrl('HuggingFaceTB/SmolLM2-135M-Instruct', PAGE)).toBe('https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct/resolve/main/');
    expect(resolveModelUrl('  Qwen/Qwen3-0.6B ', PAGE)).toBe('https://huggingface.co/Qwen/Qwen3-0.6B/resolve/main/');
  });

  it('resolves paths against the page, not the worker', () => {
    expect(resolveModelUrl('/shared-models/stories260K/stories260K.gguf', PAGE)).toBe('http://127.0.0.1:4173/shared-models/stories260K/stories260K.gguf');
    expect(resolveModelUrl('./models/sieve-tiny/', PAGE)).toBe('http://127.0.0.1:4173/models/sieve-tiny/');
    expect(resolveModelUrl('models/sieve-tiny/', PAGE)).toBe('http://127.0.0.1:4173/models/sieve-tiny/');
  });

  it('keeps absolute URLs', () => {
    const url = 'https://example.org/m/model.Q8_0.gguf';
    expect(resolveModelUrl(url, PAGE)).toBe(url);
  });

  it('refuses what is not a URL, a path or a repo id, before any request, saying what is accepted', () => {
    const refusals: Array<[string, RegExp]> = [
      ['   ', /no model was given/],
      ['not a model', /"not a model" is not a URL, a path or a Hugging Face repo id/],
      ['smollm', /"smollm" is not a URL/],
      ['ftp://example.org/m/', /is not an http\(s\) URL/],
      ['localhost:8000/models/x/', /needs http:\/\/ or https:\/\/ before it/],
      ['javascript:alert(1)', /is not an http\(s\) URL/],
      ['https://exa mple.org/x/', /is not a valid URL/],
    ];
    for (const [input, why] of refusals) {
      let thrown: unknown;
      try { resolveModelUrl(input, PAGE); } catch (e) { thrown = e; }
      expect(thrown, input).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(why) });
      expect((thrown as { remedy: string }).remedy).toMatch(/config\.json.*\.gguf.*HuggingFaceTB\/SmolLM2-135M-Instruct/);
    }
    expect(resolveModelUrl('stories260K.gguf', PAGE)).toBe('http://127.0.0.1:4173/stories260K.gguf');
  });

  it('tells repo ids from paths', () => {
    expect(isHubRepoId('org/name')).toBe(true);
    expect(isHubRepoId('./org')).toBe(false);
    expect(isHubRepoId('/org/name')).toBe(false);
    expect(isHubRepoId('org/name/')).toBe(false);
    expect(isHubRepoId('https://huggingface.co/org/name')).toBe(false);
  });
});
