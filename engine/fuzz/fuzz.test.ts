// 200 seeded fuzz cases per input kind: each is accepted or fails with a typed error (code and remedy), within 2 s.
// bench/fuzz.ts runs 10,000 per kind with the same targets.
import { describe, expect, it } from 'vitest';
import { applyJsonEdits, fuzzTarget, fuzzTargets, loadFuzzCorpus } from './index.ts';

const CASES = 200;
const SEED = 13;
const corpus = loadFuzzCorpus();

describe('fuzzed inputs give typed errors, never crashes or hangs', () => {
  for (const target of fuzzTargets(corpus)) {
    it(`${target.kind}: ${CASES} cases`, async () => {
      const counts = await fuzzTarget(target, CASES, SEED);
      expect(counts.counterexample).toBeNull();
      expect(counts.untyped + counts.slow).toBe(0);
      expect(counts.cases).toBe(CASES);
      // The mutations reach past the first check: both outcomes occur, and more than one kind of error.
      expect(counts.accepted).toBeGreaterThan(0);
      expect(counts.typed).toBeGreaterThan(0);
    });
  }

  it('the same seed gives the same cases (reproducible)', async () => {
    const [first] = fuzzTargets(corpus);
    expect(await fuzzTarget(first, 50, 7)).toEqual(await fuzzTarget(first, 50, 7).then((c) => ({ ...c, maxCaseMs: expect.any(Number) })));
  });

  it('JSON edits set __proto__ as an own key, as JSON.parse does', () => {
    const out = applyJsonEdits({ a: 1 }, [{ at: 0, op: 'insert', key: '__proto__', value: 5 }]) as Record<string, unknown>;
    expect(Object.keys(out)).toEqual(['a', '__proto__']);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
  });
});

describe('what fuzzing found', () => {
  it('a tokenizer.json the tokenizer library cannot build is BAD_MODEL_FILE naming tokenizer.json (was a TypeError)', async () => {
    const { loadTokenizer } = await import('../tokenizer/index.ts');
    const broken = { ...(corpus.tokenizerJson as object), added_tokens: {} };
    const load = () => loadTokenizer({
      tokenizerFiles: { tokenizerJson: broken, tokenizerConfig: null, generationConfig: null },
      config: { bosTokenId: 1 } as never, source: 'fuzz', ggufVocabulary: null,
    });
    expect(load).toThrow(expect.objectContaining({ code: 'BAD_MODEL_FILE', message: expect.stringMatching(/^tokenizer\.json: /) }));
  });
});
