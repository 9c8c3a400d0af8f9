// bench/bounded-memory: KV memory over a 20,000-token greedy generation (ignore_eos) under each evicting policy at a
// budget of 256 tokens, and under dense, on a seeded random model whose context allows it (issue 4 item 6).
// Runs the engine's GpuModel in Node on Dawn (a real GPU such as the H200 box, or SwiftShader here: slow).
// Build: node bench/build-node-bench.mjs; run: node .carry/node-bench/bounded-memory.mjs [--tokens 20000]
//   [--budget 256] [--every 500] [--policies streaming,h2o,a2sf,dense] [--out FILE]
// Writes bench/results/bounded-memory.json (or --out). Not a test: numbers, no asserts.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { argOf, openNodeBenchDevice } from './node-harness.ts';
import { createPolicy, listPolicies, parseAttentionSpec } from '../engine/attention/index.ts';
import { argmax } from '../engine/generation/index.ts';
import { loadModelFromPath } from '../engine/model/node.ts';
import { GpuModel } from '../engine/runtime/index.ts';
import { writeRandomCheckpoint, type LlamaShape } from './random-checkpoint.ts';

const TOKENS = Number(argOf('--tokens', '20000'));
const BUDGET = Number(argOf('--budget', '256'));
const EVERY = Number(argOf('--every', '500'));
const POLICIES = argOf('--policies', 'streaming,h2o,a2sf,dense').split(',').map((p) => p.trim()).filter(Boolean);
const OUT = argOf('--out', 'bench/results/bounded-memory.json');
/** The paged cache's default page size (DESIGN.md): the bound allows one partly filled page per (layer, KV head). */
const PAGE_SIZE = 16;
const PROMPT = [1, 5, 9, 13, 17, 21, 25, 29];

/**
 * A tiny Llama whose context allows the whole run (dense must fit 20,000 tokens): 2 layers, 4 query heads sharing
 * 2 KV heads (GQA, so the per-KV-head adaptation is exercised), head dim 16. The KV numbers scale with
 * layers x KV heads x head dim only, so a small model shows the same bound as a big one.
 */
const SHAPE: LlamaShape = {
  hiddenSize: 64, intermediateSize: 128, numLayers: 2, numHeads: 4, numKvHeads: 2, vocabSize: 256,
  maxPositionEmbeddings: 20_480, ropeTheta: 10_000, tieWordEmbeddings: true,
};
const headDim = SHAPE.hiddenSize / SHAPE.numHeads;
/** Bytes of one token in every (layer, KV head) as kv_bytes counts them: K and V in f32 plus its u32 true position. */
const KV_BYTES_PER_TOKEN = SHAPE.numLayers * SHAPE.numKvHeads * (headDim * 2 + 1) * 4;
/** Issue 4's bound for evicting policies: the budget plus at most one page per (layer, KV head). */
const BOUND_TOKENS = BUDGET + PAGE_SIZE;
const BOUND_KV_BYTES = (Math.ceil(BUDGET / PAGE_SIZE) + 1) * PAGE_SIZE * KV_BYTES_PER_TOKEN;

for (const [name, v] of [['--tokens', TOKENS], ['--every', EVERY], ['--budget', BUDGET]] as const) {
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`${name} must be a positive integer`);
}

interface Sample { generated: number; position: number; tokensInCache: number; kvBytes: number; msPerToken: number }

async function main() {
  const { engine, adapter } = await openNodeBenchDevice();
  const registered = listPolicies();
  console.log(`adapter: ${adapter}; registered policies: ${registered.join(', ')}`);
  const path = writeRandomCheckpoint(join(tmpdir(), `sieve-bench-bounded-${SHAPE.numLayers}x${SHAPE.hiddenSize}-ctx${SHAPE.maxPositionEmbeddings}`), SHAPE);
  const model = await GpuModel.create(engine, await loadModelFromPath(path));
  const results: Record<string, unknown>[] = [];
  for (const policy of POLICIES) {
    const spec = policy === 'dense' ? 'dense' : `${policy}:budget=${BUDGET}`;
    if (!registered.includes(policy)) {
      results.push({ policy, spec, available: false, reason: `not registered (registered: ${registered.join(', ')})` });
      continue;
    }
    await model.reset();
    model.setPolicy(createPolicy(parseAttentionSpec(spec)));
    const samples: Sample[] = [];
    let maxTokensInCache = 0;
    let maxKvBytes = 0;
    let error: string | undefined;
    try {
      let next = argmax(await model.prefill(PROMPT, 'last'));
      let t0 = performance.now();
      for (let generated = 1; generated <= TOKENS; generated++) {
        next = argmax(await model.decode(next));
        // Every step, not only at samples: the bound must hold throughout (cacheUsage is CPU-side, free).
        const usage = model.cacheUsage();
        maxTokensInCache = Math.max(maxTokensInCache, usage.tokensInCache);
        maxKvBytes = Math.max(maxKvBytes, usage.kvBytes);
        if (generated % EVERY === 0 || generated === TOKENS) {
          const now = performance.now();
          const sample = { generated, position: PROMPT.length + generated, ...usage, msPerToken: (now - t0) / EVERY };
          samples.push(sample);
          console.log(JSON.stringify({ policy, ...sample }));
          t0 = now;
        }
      }
    } catch (e) {
      error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      console.log(`${policy}: stopped: ${error}`);
    }
    const evicting = policy !== 'dense';
    const first = samples[0];
    const last = samples[samples.length - 1];
    results.push({
      policy, spec, available: true, error, samples, maxTokensInCache, maxKvBytes,
      boundTokens: evicting ? BOUND_TOKENS : null,
      boundKvBytes: evicting ? BOUND_KV_BYTES : null,
      withinBound: evicting ? error === undefined && maxTokensInCache <= BOUND_TOKENS && maxKvBytes <= BOUND_KV_BYTES : null,
      // Growth between the first and the last sample: KV_BYTES_PER_TOKEN for dense, 0 for a bounded cache.
      kvBytesPerGeneratedToken: first && last && last !== first ? (last.kvBytes - first.kvBytes) / (last.generated - first.generated) : null,
    });
  }
  await model.destroy();
  writeFileSync(OUT, JSON.stringify({
    date: new Date().toISOString(), adapter, tokens: TOKENS, budget: BUDGET, every: EVERY, prompt: PROMPT.length,
    model: { ...SHAPE, headDim, kvBytesPerToken: KV_BYTES_PER_TOKEN, pageSize: PAGE_SIZE }, results,
  }, null, 2));
  console.log(`wrote ${OUT}`);
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
