// The picker's pure parts: which hub origin a page uses, and how a catalog model is described.
import { describe, expect, it } from 'vitest';
import { findCatalogModel } from '../client/index.ts';
import { describeModel, hubOriginOf } from './model-picker.ts';

describe('hubOriginOf', () => {
  it('is huggingface.co unless ?hub= gives an http(s) origin', () => {
    expect(hubOriginOf('http://127.0.0.1:5173/')).toBe('https://huggingface.co');
    expect(hubOriginOf('http://127.0.0.1:5173/?hub=https%3A%2F%2Fhf-mirror.com%2Fpath')).toBe('https://hf-mirror.com');
    expect(hubOriginOf('http://127.0.0.1:5173/?hub=javascript:alert(1)')).toBe('https://huggingface.co');
  });
});

describe('describeModel', () => {
  it('shows the download size, the format a tab needs and whether a token is needed', () => {
    expect(describeModel(findCatalogModel('sieve-tiny')!)).toBe("sieve-tiny (Sieve's own 7.9M model) · 19.3 MB download");
    expect(describeModel(findCatalogModel('llama-3.2-1b-instruct')!)).toBe('Llama 3.2 1B Instruct (gated) · 2.48 GB download · needs int4 · gated: needs a token');
  });
});
