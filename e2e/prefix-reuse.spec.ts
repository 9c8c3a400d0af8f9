// Multi-turn prefix reuse on the GPU engine (dense attention, and Quest, whose page metadata must cover the prefix): the next turn prefills only its new ids, shares the
// earlier pages, reports them as usage.prompt_tokens_details.cached_tokens, and generates what a cold start does.
import { expect, test } from '@playwright/test';
import { goldenIds, hostOk, openHost } from './host.ts';

interface Turn {
  ids: number[];
  logprobs: number[];
  usage: { prompt_tokens: number; completion_tokens: number; prompt_tokens_details: { cached_tokens: number } };
}

const TURN1_PROMPT = 40;
const NEW_IDS = 15;
const GENERATE = 10;
/**
 * Warm vs cold differ only in how the prompt is split across prefill calls (16 rows over 49 cached positions vs 65
 * rows at once): the same f32 math in another order. Observed max |diff| is printed; 1e-3 leaves f32 headroom.
 */
const LOGPROB_TOLERANCE = 1e-3;

/**
 * Quest over the golden model's second layer, reading 2 of the 5 pages of turn 2's prompt: its page bounds must cover
 * the cached prefix too (a policy made afresh for turn 2 would have bounds only for the pages it appended to).
 */
const QUEST = 'quest:budget=32,dense-layers=1';

for (const attention of ['dense', QUEST]) {
  test(`qwen2 golden, ${attention}: turn 2 prefills only its new tail and equals a cold start`, async ({ page }) => {
    await openHost(page);
    await hostOk(page, 'load', '/models/golden/qwen2/');
    const ids = goldenIds('qwen2');
    // The golden model has no tokenizer: completion logprobs name each token "<id>".
    const complete = async (prompt: number[]): Promise<Turn> => {
      const c = (await hostOk(page, 'completion', { prompt, max_tokens: GENERATE, temperature: 0, ignore_eos: true, logprobs: 0, attention })).completion as {
        choices: { logprobs: { tokens: string[]; token_logprobs: number[] } }[]; usage: Turn['usage'];
      };
      const lp = c.choices[0].logprobs;
      return { ids: lp.tokens.map((t) => Number(/^<(\d+)>$/.exec(t)?.[1])), logprobs: lp.token_logprobs, usage: c.usage };
    };

    const a = ids.slice(0, TURN1_PROMPT);
    const turn1 = await complete(a);
    expect(turn1.ids).toHaveLength(GENERATE);
    expect(turn1.ids.every(Number.isInteger)).toBe(true);
    expect(turn1.usage.prompt_tokens_details.cached_tokens).toBe(0);

    const turn2Prompt = [...a, ...turn1.ids, ...ids.slice(100, 100 + NEW_IDS)];
    const turn2 = await complete(turn2Prompt);
    const cached = turn2.usage.prompt_tokens_details.cached_tokens;
    const prefilled = turn2.usage.prompt_tokens - cached;
    console.log(`turn 2: prompt_tokens ${turn2.usage.prompt_tokens}, cached_tokens ${cached}, prefilled ${prefilled}`);
    expect(turn2.usage.prompt_tokens).toBe(TURN1_PROMPT + GENERATE + NEW_IDS);
    expect(cached).toBeGreaterThanOrEqual(TURN1_PROMPT);
    // Turn 1's last generated id was sampled but never fed (no decode after the last token), so it is prefilled with
    // the new ids: turn 1's prompt and its first GENERATE - 1 ids come from the cache.
    expect(cached).toBe(TURN1_PROMPT + GENERATE - 1);
    expect(prefilled).toBe(NEW_IDS + 1);

    // Cold start: a prompt that shares nothing with turn 2's (its first id differs), then turn 2's prompt again.
    const other = await complete(ids.slice(200, 240));
    expect(ids[200]).not.toBe(turn2Prompt[0]);
    expect(other.usage.prompt_tokens_details.cached_tokens).toBe(0);
    const cold = await complete(turn2Prompt);
    console.log(`cold start: prompt_tokens ${cold.usage.prompt_tokens}, cached_tokens ${cold.usage.prompt_tokens_details.cached_tokens}`);
    expect(cold.usage.prompt_tokens_details.cached_tokens).toBe(0);
    const maxDiff = Math.max(...turn2.logprobs.map((l, i) => Math.abs(l - cold.logprobs[i])));
    console.log(`turn 2 ids ${JSON.stringify(turn2.ids)}\ncold   ids ${JSON.stringify(cold.ids)}\nmax |logprob diff| ${maxDiff.toExponential(2)}`);
    expect(turn2.ids).toEqual(cold.ids);
    expect(cold.logprobs).toHaveLength(GENERATE);
    expect(maxDiff).toBeLessThan(LOGPROB_TOLERANCE);
  });
}
