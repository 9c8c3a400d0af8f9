// ReferenceModel's cache and argument behaviour: context limit, bad ids, reset, growth past the first KV allocation.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ContextFullError, InvalidArgumentError } from '../errors/index.ts';
import { parseGguf } from '../model/gguf.ts';
import { ReferenceModel } from './index.ts';

const { config, weights } = parseGguf(
  new Uint8Array(readFileSync(new URL('../../../shared/models/stories260K/stories260K.gguf', import.meta.url))),
  'stories260K.gguf',
);
const ids = Array.from({ length: 150 }, (_, i) => 3 + ((i * 97) % 509));

describe('ReferenceModel', () => {
  it('refuses positions past the context and ids outside the vocabulary, leaving the cache as it was', () => {
    const model = new ReferenceModel({ ...config, maxPositionEmbeddings: 10 }, weights);
    model.prefill(ids.slice(0, 8));
    expect(() => model.prefill(ids.slice(0, 3))).toThrow(ContextFullError);
    expect(model.position).toBe(8);
    expect(() => model.decode(config.vocabSize)).toThrow(InvalidArgumentError);
    expect(() => model.decode(-1)).toThrow(InvalidArgumentError);
    expect(() => model.prefill([])).toThrow(InvalidArgumentError);
    expect(model.position).toBe(8);
    model.decode(ids[8]);
    model.decode(ids[9]);
    expect(model.position).toBe(10);
    expect(() => model.decode(ids[10])).toThrow(ContextFullError);
  });

  it('gives the same logits after reset, and across KV growth, as a fresh model', () => {
    const model = new ReferenceModel(config, weights);
    const first = model.prefill(ids); // 150 positions: the cache grows twice past its first 64
    model.reset();
    const v = config.vocabSize;
    const parts = [model.prefill(ids.slice(0, 70)), model.prefill(ids.slice(70, 71)), model.prefill(ids.slice(71))];
    const joined = new Float32Array(first.length);
    let at = 0;
    for (const p of parts) { joined.set(p, at); at += p.length; }
    expect(at).toBe(ids.length * v);
    let maxDiff = 0;
    for (let i = 0; i < first.length; i++) maxDiff = Math.max(maxDiff, Math.abs(first[i] - joined[i]));
    expect(maxDiff).toBe(0); // one summation order per dot product, whatever the chunking
    expect(model.position).toBe(ids.length);
  });
});
