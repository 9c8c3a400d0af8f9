// `sieve generate --backend reference` with sampling: the same seed gives the same text; stop strings end it.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseCli } from './args.ts';
import { openReferenceRunner } from './reference-runner.ts';

const STORIES = fileURLToPath(new URL('../../../shared/models/stories260K/stories260K.gguf', import.meta.url));

describe('reference runner generate', () => {
  it('is deterministic per seed and honours stop strings', async () => {
    const runner = await openReferenceRunner(STORIES);
    const argv = (seed: string) => ['generate', '--model', STORIES, '--prompt', 'Once upon a time', '--max-tokens', '40',
      '--temperature', '0.9', '--top-p', '0.95', '--seed', seed, '--stop', '.'];
    const gen = async (seed: string) => {
      const o = parseCli(argv(seed));
      if (o.command !== 'generate') throw new Error('parse');
      return runner.generate(o);
    };
    const a = await gen('7');
    const b = await gen('7');
    expect(b.ids).toEqual(a.ids);
    expect(b.text).toBe(a.text);
    expect(a.text.includes('.')).toBe(false);
    const others = await Promise.all(['8', '9', '10'].map(gen));
    expect(others.some((o: { text: string }) => o.text !== a.text)).toBe(true);
    await runner.close();
  });
});
