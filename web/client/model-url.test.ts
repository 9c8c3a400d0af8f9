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

  it('rejects an empty input', () => {
    expect(() => resolveModelUrl('   ', PAGE)).toThrow(TypeError);
  });

  it('tells repo ids from paths', () => {
    expect(isHubRepoId('org/name')).toBe(true);
    expect(isHubRepoId('./org')).toBe(false);
    expect(isHubRepoId('/org/name')).toBe(false);
    expect(isHubRepoId('org/name/')).toBe(false);
    expect(isHubRepoId('https://huggingface.co/org/name')).toBe(false);
  });
});
