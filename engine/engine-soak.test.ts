// A 50-turn chat under H2O at budget 256 on the whole engine in Node on Dawn (2-layer random model over HTTP): every
// turn prefills only its new ids (the rest is the cached conversation), the live GPU buffer count stays where the
// first turn left it, and the KV bytes stop growing once the cache holds its budget.
// The bench: SIEVE_SOAK_TURNS=500 SIEVE_SOAK_OUT=bench/results/soak.json npx vitest run engine/engine-soak.test.ts
// (the same chat and checks over 500 turns, every turn written to the results file).
import { currentDevice, serveFolder } from './engine-node.test-helper.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { writeRandomCheckpoint, type LlamaShape } from '../bench/random-checkpoint.ts';
import { runSoakChat } from '../bench/soak-chat.ts';
import { SieveEngine } from './index.ts';

const SHAPE: LlamaShape = {
  hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 2, numKvHeads: 1, vocabSize: 128,
  maxPositionEmbeddings: 1024, ropeTheta: 10_000, tieWordEmbeddings: true,
};
const BUDGET = 256;
const PAGE = 16;
const TURNS = Number(process.env.SIEVE_SOAK_TURNS ?? 50);
const OUT = process.env.SIEVE_SOAK_OUT;

it(`${TURNS} turns of an h2o:budget=256 chat: only new ids prefilled, live buffers and KV bytes flat`, async () => {
  const server = await serveFolder(writeRandomCheckpoint(join(tmpdir(), 'sieve-test-aborts-2x32'), SHAPE));
  const engine = new SieveEngine();
  try {
    const info = await engine.load(`${server.url}/`, undefined, { prefillChunk: 16 });
    const turns = await runSoakChat(engine, {
      turns: TURNS, attention: `h2o:budget=${BUDGET}`, userIds: 6, replyTokens: 4, vocabSize: SHAPE.vocabSize,
      liveBuffers: () => currentDevice().census.live,
    });
    if (OUT) {
      const after = turns.slice(1);
      const range = (xs: number[]) => ({ min: Math.min(...xs), max: Math.max(...xs) });
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      writeFileSync(OUT, JSON.stringify({
        date: new Date().toISOString(), adapter: info.adapter, note: 'Node on Dawn (SwiftShader, software): times say only that it runs',
        model: SHAPE, attention: `h2o:budget=${BUDGET}`, turns: TURNS, positions: turns[turns.length - 1].promptTokens,
        summary: {
          onlyNewIdsPrefilled: turns.every((t) => t.cachedTokens === t.fedBefore && t.prefilledTokens === t.promptTokens - t.fedBefore),
          prefilledPerTurn: range(after.map((t) => t.prefilledTokens)), liveBuffersAfterTurn1: range(after.map((t) => t.liveBuffers)),
          kvBytesOnceFull: range(turns.filter((t) => t.promptTokens > BUDGET + PAGE).map((t) => t.kvBytes)),
          tokensInCache: range(turns.map((t) => t.tokensInCache)),
          msPerTurn: { first50: mean(turns.slice(0, 50).map((t) => t.ms)), last50: mean(turns.slice(-50).map((t) => t.ms)) },
        },
        perTurn: turns,
      }, null, 1));
    }
    for (const t of turns) {
      expect(t.cachedTokens, `turn ${t.turn}`).toBe(t.fedBefore);
      expect(t.prefilledTokens, `turn ${t.turn}`).toBe(t.promptTokens - t.fedBefore);
      expect(t.tokensInCache).toBeLessThanOrEqual(BUDGET + PAGE);
      expect(t.liveBuffers, `turn ${t.turn}`).toBe(turns[1].liveBuffers);
    }
    // The conversation outgrew the budget, and from the turn it did, the KV bytes stay put.
    const full = turns.findIndex((t) => t.promptTokens > BUDGET + PAGE);
    expect(full).toBeGreaterThan(0);
    const kv = new Set(turns.slice(full).map((t) => t.kvBytes));
    expect(kv.size, JSON.stringify([...kv])).toBe(1);
  } finally {
    await engine.unload();
    await server.close();
  }
}, 3_600_000);
