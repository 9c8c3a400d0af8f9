// The CPU reference forward against transformers' own logits for the golden checkpoints, by prefill and by decode.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadModelFromPath } from '../../engine/model/node.ts';
import { ReferenceModel } from '../../engine/reference/index.ts';

const GOLDEN_DIR = fileURLToPath(new URL('.', import.meta.url));
const CASES = ['llama-gqa-untied', 'llama3-rope', 'qwen2', 'qwen3', 'llama-legacy-config'];
/**
 * Max |reference - transformers| allowed on any logit. Both run f32 (transformers on the CPU, eager attention);
 * check_golden.py's float64 numpy forward lands within 4e-6 of these files, so 2e-3 only absorbs summation order.
 */
const LOGIT_TOLERANCE = 2e-3;

interface Golden {
  ids: number[];
  logits: Float32Array;
  greedy: { prompt: number[]; continuation: number[] };
}

function readGolden(name: string): Golden {
  const folder = join(GOLDEN_DIR, name);
  const raw = readFileSync(join(folder, 'logits.f32'));
  return {
    ids: JSON.parse(readFileSync(join(folder, 'ids.json'), 'utf8')) as number[],
    // Copy into an aligned buffer; the files are little-endian, as is every machine we run on.
    logits: new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)),
    greedy: JSON.parse(readFileSync(join(folder, 'greedy.json'), 'utf8')) as Golden['greedy'],
  };
}

function maxAbsDiff(a: Float32Array, b: Float32Array, bOffset = 0): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[bOffset + i]));
  return max;
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Measured differences, printed once at the end so the numbers land in the test log. */
const measured: Record<string, { prefill: number; decode: number }> = {};

describe('CPU reference vs transformers (golden logits)', () => {
  for (const name of CASES) {
    describe(name, () => {
      it('matches by one prefill of all 300 tokens and by token-by-token decode', async () => {
        const loaded = await loadModelFromPath(join(GOLDEN_DIR, name));
        const golden = readGolden(name);
        const vocab = loaded.config.vocabSize;
        expect(golden.logits.length).toBe(golden.ids.length * vocab);

        const model = new ReferenceModel(loaded.config, loaded.weights);
        const prefill = model.prefill(golden.ids);
        expect(prefill.length).toBe(golden.logits.length);
        const prefillDiff = maxAbsDiff(prefill, golden.logits);

        model.reset();
        let decodeDiff = 0;
        for (let t = 0; t < golden.ids.length; t++) {
          const row = model.decode(golden.ids[t]);
          expect(row.length).toBe(vocab);
          decodeDiff = Math.max(decodeDiff, maxAbsDiff(row, golden.logits, t * vocab));
        }
        measured[name] = { prefill: prefillDiff, decode: decodeDiff };
        expect(prefillDiff).toBeLessThan(LOGIT_TOLERANCE);
        expect(decodeDiff).toBeLessThan(LOGIT_TOLERANCE);
      });

      it("continues the prompt greedily as transformers' generate() did", async () => {
        const loaded = await loadModelFromPath(join(GOLDEN_DIR, name));
        const { greedy } = readGolden(name);
        const model = new ReferenceModel(loaded.config, loaded.weights);
        const vocab = loaded.config.vocabSize;
        const prefill = model.prefill(greedy.prompt);
        let next = argmax(prefill.subarray(prefill.length - vocab));
        const out: number[] = [];
        while (out.length < greedy.continuation.length) {
          out.push(next);
          next = argmax(model.decode(next));
        }
        expect(out).toEqual(greedy.continuation);
      });
    });
  }

  it('reports the measured differences', () => {
    // Runs last (files run their tests in order); the numbers go to the log for the record.
    console.log(Object.entries(measured).map(([n, d]) => `${n}: prefill ${d.prefill.toExponential(2)}, decode ${d.decode.toExponential(2)}`).join('\n'));
    expect(Object.keys(measured).sort()).toEqual([...CASES].sort());
  });
});
