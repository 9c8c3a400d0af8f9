// Golden test of the reference forward on a real trained model: stories260K's published greedy continuation.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseGguf } from '../model/gguf.ts';
import { ReferenceModel, referenceLogits } from './index.ts';

const MODEL_DIR = new URL('../../../shared/models/stories260K/', import.meta.url);
/** Tolerance between prefill and token-by-token decode logits (the brief's bound; both are f32 with f64 sums). */
const PREFILL_DECODE_TOLERANCE = 1e-4;

/** The "Known output" ids of the model folder's README.md (greedy from BOS, positions 0..79). */
function readmeIds(): number[] {
  const readme = readFileSync(new URL('README.md', MODEL_DIR), 'utf8');
  const section = readme.slice(readme.indexOf('## Known output'));
  const block = section.slice(section.indexOf('Token ids:'), section.indexOf('Text ('));
  return block.replace('Token ids:', '').trim().split(/\s+/).map(Number);
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

describe('reference forward on stories260K', () => {
  const { config, weights } = parseGguf(new Uint8Array(readFileSync(new URL('stories260K.gguf', MODEL_DIR))), 'stories260K.gguf');
  const expected = readmeIds();
  const BOS = 1;

  it('the README lists 80 ids', () => {
    expect(expected).toHaveLength(80);
    expect(expected.every((id) => Number.isInteger(id) && id >= 0 && id < config.vocabSize)).toBe(true);
  });

  it('greedy decoding of 80 tokens from BOS reproduces the published ids', () => {
    const model = new ReferenceModel(config, weights);
    const got: number[] = [];
    let logits = model.prefill([BOS]);
    for (let step = 0; step < 80; step++) {
      const next = argmax(logits);
      got.push(next);
      logits = model.decode(next);
    }
    expect(got).toEqual(expected);
    expect(model.position).toBe(81);
    model.reset();
    expect(model.position).toBe(0);
    expect(argmax(model.prefill([BOS]))).toBe(expected[0]);
  });

  it('prefill logits equal decode-mode logits, and a prefill continues from the cache', () => {
    const ids = [BOS, ...expected];
    const prefill = referenceLogits(config, weights, ids, 'prefill');
    const decode = referenceLogits(config, weights, ids, 'decode');
    expect(prefill).toHaveLength(ids.length * config.vocabSize);
    let maxDiff = 0;
    for (let i = 0; i < prefill.length; i++) maxDiff = Math.max(maxDiff, Math.abs(prefill[i] - decode[i]));
    expect(maxDiff).toBeLessThanOrEqual(PREFILL_DECODE_TOLERANCE);

    // Two chunks of prefill give the same rows as one.
    const model = new ReferenceModel(config, weights);
    const split = 30;
    const first = model.prefill(ids.slice(0, split));
    const second = model.prefill(ids.slice(split));
    const v = config.vocabSize;
    let chunkDiff = 0;
    for (const [chunk, offset] of [[first, 0], [second, split]] as const) {
      for (let i = 0; i < chunk.length; i++) chunkDiff = Math.max(chunkDiff, Math.abs(chunk[i] - prefill[offset * v + i]));
    }
    expect(chunkDiff).toBeLessThanOrEqual(PREFILL_DECODE_TOLERANCE);
    // Every row's argmax is the next published id (teacher forcing agrees with free-running greedy).
    const teacherForced = expected.map((_, t) => argmax(prefill.subarray(t * v, (t + 1) * v)));
    expect(teacherForced).toEqual(expected);
  });

  it('the RoPE layout matters: half-split rotation does not reproduce the text', () => {
    const ids = [BOS, ...expected];
    const logits = referenceLogits({ ...config, ropeLayout: 'half' }, weights, ids, 'prefill');
    const v = config.vocabSize;
    const greedy = expected.map((_, t) => argmax(logits.subarray(t * v, (t + 1) * v)));
    expect(greedy).not.toEqual(expected);
  });
});
