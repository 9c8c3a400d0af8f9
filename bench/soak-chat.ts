// The soak's chat (issue 13 item 5), run by engine/engine-soak.test.ts (50 turns in npm test; 500 as the bench): a
// conversation of token ids under an evicting policy where each turn's prompt is everything so far plus a few new
// ids. Per turn it records what was prefilled and reused, the KV bytes the sequence holds and the live GPU buffers.
import type { Completion } from '../engine/api/index.ts';
import type { SieveEngine } from '../engine/index.ts';

export interface SoakTurn {
  turn: number;
  promptTokens: number;
  cachedTokens: number;
  prefilledTokens: number;
  /** Ids the sequence was fed before this turn (the earlier prompts and replies but the last reply's final id). */
  fedBefore: number;
  kvBytes: number;
  tokensInCache: number;
  liveBuffers: number;
  ms: number;
}

export interface SoakOptions {
  turns: number;
  /** e.g. "h2o:budget=256". */
  attention: string;
  /** New user ids per turn and reply tokens per turn. */
  userIds: number;
  replyTokens: number;
  vocabSize: number;
  liveBuffers: () => number;
  onTurn?: (t: SoakTurn) => void;
}

export async function runSoakChat(engine: SieveEngine, options: SoakOptions): Promise<SoakTurn[]> {
  let seed = 7;
  const nextId = () => { seed = (seed * 1103515245 + 12345) >>> 0; return 3 + (seed % (options.vocabSize - 3)); };
  const conversation: number[] = [1];
  const turns: SoakTurn[] = [];
  let lastReply: number[] = [];
  let fed = 0;
  for (let turn = 1; turn <= options.turns; turn++) {
    const user = Array.from({ length: options.userIds }, nextId);
    conversation.push(...lastReply, ...user);
    const t0 = performance.now();
    const r = await engine.generate({ ids: conversation, maxTokens: options.replyTokens, ignoreEos: true, attention: options.attention });
    const usage = r.usage as Completion['usage'];
    const record: SoakTurn = {
      turn, promptTokens: usage.prompt_tokens, cachedTokens: usage.prompt_tokens_details.cached_tokens,
      prefilledTokens: usage.prefilled_tokens, fedBefore: fed, kvBytes: usage.kv_bytes,
      tokensInCache: usage.tokens_in_cache, liveBuffers: options.liveBuffers(), ms: performance.now() - t0,
    };
    turns.push(record);
    options.onTurn?.(record);
    lastReply = r.ids;
    fed = conversation.length + r.ids.length - 1; // every reply id is fed back but the last
  }
  return turns;
}
