// The eval tasks on sieve-tiny's tokenizer: the same seed gives the same items, prompts fit the context, the pieces
// join into exactly what the tokenizer gives for the whole text (so the model sees training-like ids), the answer is
// in the prompt, and the held-out text is not a training chapter.
import { beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { loadModelFromPath } from '../model/node.ts';
import { EVAL_TASKS, PERPLEXITY_TOKENS, TaskGenerator, type EvalItem, type TaskSource } from './index.ts';
import { HELD_OUT_MOBY_DICK_CHAPTERS, loadTaskSource } from './source.ts';

const MODEL = fileURLToPath(new URL('../../models/sieve-tiny/', import.meta.url));
let source: TaskSource;
let generator: TaskGenerator;
beforeAll(async () => {
  source = loadTaskSource(await loadModelFromPath(MODEL));
  generator = new TaskGenerator(source);
});

describe('eval tasks', () => {
  it('has data.py\'s word lists and the held-out chapters', () => {
    expect(source.words.length).toBeGreaterThan(2000);
    expect(source.names.length).toBeGreaterThan(100);
    expect(HELD_OUT_MOBY_DICK_CHAPTERS).toEqual([100, 115, 131, 133]);
    expect(source.heldOut.length).toBeGreaterThan(10_000);
  });

  it.each(EVAL_TASKS)('%s: seeded, within the context, the same ids the tokenizer gives for the text', (task) => {
    for (const context of [512, 1024]) {
      const items = generator.items(task, context, 4, 7);
      expect(generator.items(task, context, 4, 7)).toEqual(items);
      expect(generator.items(task, context, 4, 8)).not.toEqual(items);
      for (const item of items as EvalItem[]) {
        expect(item.ids[0]).toBe(source.bos);
        if (item.task === 'perplexity') {
          expect(item.ids.length + item.targets.length).toBe(context);
          expect(item.targets.length).toBe(PERPLEXITY_TOKENS);
          continue;
        }
        expect(item.ids.length).toBeLessThanOrEqual(context);
        expect(item.ids.length).toBeGreaterThan(context * 0.85);
        expect(item.answer).toMatch(/^\d{5}$/);
        const text = source.tokenizer.decode([...item.ids.slice(1)]);
        expect(text).toContain(` ${item.answer}`);
        // Haystacks are cut at any token (as data.py cuts them, filler too), so only the line-based layouts re-encode exactly.
        if (task === 'kv' || task === 'chat') expect(source.tokenizer.encode(text)).toEqual(item.ids.slice(1));
      }
    }
  });

  it('sweeps the pass key\'s depth over the items', () => {
    const depths = generator.items('passkey', 1024, 10, 0).map((i) => (i as { depth: number }).depth);
    depths.forEach((d, i) => expect(d).toBeGreaterThanOrEqual(i / 10 - 0.01));
    expect(Math.max(...depths)).toBeGreaterThan(0.9);
  });

  it('rejects a context too short for a task', () => {
    expect(() => generator.items('passkey', 100, 1, 0)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
