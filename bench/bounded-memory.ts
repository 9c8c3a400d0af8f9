// bench/bounded-memory: KV memory of a long greedy generation (ignore_eos) under each evicting policy and dense, on a
// seeded random model whose context allows 20,000 tokens, driving the real engine in Chromium (as bench/decode does).
// Run: npx tsx bench/bounded-memory.ts [--tokens 20000] [--every 2500] [--budget 256] [--policies streaming,h2o,a2sf,dense]
// Writes bench/results/bounded-memory.json. Not a test: numbers, no asserts.
//
// The host returns usage once per generate() call, so each sample is its own generation of k tokens from the same
// prompt (greedy, so the first k tokens of every sample are the same text): cost ~ tokens x samples / 2 tokens.
// A per-step usage callback on the host would make this one run (reported to the lead).
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { openBrowserHost } from '../engine/cli/browser-host.ts';
import { writeRandomCheckpoint, type LlamaShape } from './random-checkpoint.ts';

type HostWindow = { sieveHost: Record<string, (arg?: unknown) => Promise<Record<string, unknown>>> };

/** Issue 4: a 20,000-token generation at a budget of 256 tokens. */
const DEFAULT_TOKENS = 20_000;
const DEFAULT_BUDGET = 256;
/** Samples per policy when --every is not given. */
const DEFAULT_SAMPLES = 8;
/** The paged cache's default page size (DESIGN.md): the bound allows one partly filled page per (layer, KV head). */
const PAGE_SIZE = 16;
const PROMPT = [1, 5, 9, 13, 17, 21, 25, 29];

/**
 * A tiny Llama whose context allows the whole run (issue 4: max_position_embeddings >= 20,100): 2 layers, 4 query
 * heads sharing 2 KV heads (GQA, so the per-KV-head adaptation is exercised), head dim 16. Small enough that the
 * software adapter decodes it quickly; the KV numbers scale with layers x KV heads x head dim only.
 */
const SHAPE: LlamaShape = {
  hiddenSize: 64, intermediateSize: 128, numLayers: 2, numHeads: 4, numKvHeads: 2, vocabSize: 256,
  maxPositionEmbeddings: 20_480, ropeTheta: 10_000, tieWordEmbeddings: true,
};

const { values } = parseArgs({
  options: {
    tokens: { type: 'string', default: String(DEFAULT_TOKENS) },
    every: { type: 'string' },
    budget: { type: 'string', default: String(DEFAULT_BUDGET) },
    policies: { type: 'string', default: 'streaming,h2o,a2sf,dense' },
  },
});
const TOKENS = Number(values.tokens);
const BUDGET = Number(values.budget);
const EVERY = values.every === undefined ? Math.max(1, Math.ceil(TOKENS / DEFAULT_SAMPLES)) : Number(values.every);
for (const [name, v] of [['--tokens', TOKENS], ['--every', EVERY], ['--budget', BUDGET]] as const) {
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`${name} must be a positive integer`);
}
if (PROMPT.length + TOKENS > SHAPE.maxPositionEmbeddings) throw new Error(`--tokens must be at most ${SHAPE.maxPositionEmbeddings - PROMPT.length} (the model's context)`);
const POLICIES = (values.policies as string).split(',').map((p) => p.trim()).filter(Boolean);

/** The spec each policy runs with: budget=N is the total the cache may hold (dense takes it and ignores it). */
const specOf = (policy: string) => `${policy}:budget=${BUDGET}`;
const headDim = SHAPE.hiddenSize / SHAPE.numHeads;
/**
 * Bytes of one cache slot in every (layer, KV head) as usage.kv_bytes counts them (PagedKVCache.bytesPerPage): K and
 * V in f32 (the software adapter has no shader-f16) plus the slot's u32 true position.
 */
const KV_BYTES_PER_TOKEN = SHAPE.numLayers * SHAPE.numKvHeads * (headDim * 2 + 1) * 4;
/** The bound for evicting policies: the budget plus at most one page per (layer, KV head), in whole pages. */
const BOUND_TOKENS = (Math.ceil(BUDGET / PAGE_SIZE) + 1) * PAGE_SIZE;

const sampleLengths: number[] = [];
for (let k = Math.min(EVERY, TOKENS); k < TOKENS; k += EVERY) sampleLengths.push(k);
sampleLengths.push(TOKENS);

const model = writeRandomCheckpoint(join(tmpdir(), `sieve-bench-bounded-${SHAPE.numLayers}x${SHAPE.hiddenSize}-ctx${SHAPE.maxPositionEmbeddings}`), SHAPE);
const host = await openBrowserHost(model);
const call = async (method: string, arg?: unknown) => host.page.evaluate(
  ([m, a]) => (window as unknown as HostWindow).sieveHost[m as string](a), [method, arg] as const,
);

interface Sample { generated: number; positions: number; tokens_in_cache: number; kv_bytes: number; decode_tokens_per_s: number; seconds: number }
const results: Record<string, unknown>[] = [];
try {
  const loaded = await call('load', host.modelUrl);
  if (loaded.error) throw new Error(`load: ${JSON.stringify(loaded.error)}`);
  const info = loaded.info as Record<string, unknown>;
  const registered = ((await call('policies')).policies ?? []) as string[];
  await call('generate', { ids: PROMPT, maxTokens: 4, ignoreEos: true }); // warm-up: shader compilation, ORT's first runs
  console.log(`adapter: ${info.adapter}; registered policies: ${registered.join(', ')}; samples at ${sampleLengths.join(', ')} tokens`);

  for (const policy of POLICIES) {
    if (!registered.includes(policy)) {
      const row = { policy, spec: specOf(policy), available: false, reason: `not registered in the engine yet (registered: ${registered.join(', ')}); its GPU side is pending` };
      console.log(JSON.stringify(row));
      results.push(row);
      continue;
    }
    const samples: Sample[] = [];
    let failure: unknown = null;
    for (const k of sampleLengths) {
      const t0 = Date.now();
      const r = await call('generate', { ids: PROMPT, maxTokens: k, ignoreEos: true, attention: specOf(policy) });
      if (r.error) { failure = r.error; break; }
      const { usage, ids } = r.result as { usage: Record<string, number>; ids: number[] };
      const sample: Sample = {
        generated: ids.length, positions: PROMPT.length + ids.length, tokens_in_cache: usage.tokens_in_cache, kv_bytes: usage.kv_bytes,
        decode_tokens_per_s: usage.decode_tokens_per_s, seconds: (Date.now() - t0) / 1000,
      };
      console.log(JSON.stringify({ policy, ...sample }));
      samples.push(sample);
    }
    const evicting = policy !== 'dense';
    results.push({
      policy, spec: specOf(policy), available: failure === null, error: failure ?? undefined, samples,
      boundTokens: evicting ? BOUND_TOKENS : null,
      boundKvBytes: evicting ? BOUND_TOKENS * KV_BYTES_PER_TOKEN : null,
      maxTokensInCache: Math.max(0, ...samples.map((s) => s.tokens_in_cache)),
      maxKvBytes: Math.max(0, ...samples.map((s) => s.kv_bytes)),
      // Growth between the first and last sample: ~KV_BYTES_PER_TOKEN for dense, ~0 for a bounded cache.
      kvBytesPerGeneratedToken: samples.length > 1
        ? (samples[samples.length - 1].kv_bytes - samples[0].kv_bytes) / (samples[samples.length - 1].generated - samples[0].generated) : null,
      withinBound: evicting && samples.length > 0 ? samples.every((s) => s.tokens_in_cache <= BOUND_TOKENS && s.kv_bytes <= BOUND_TOKENS * KV_BYTES_PER_TOKEN) : null,
    });
  }
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  const out = fileURLToPath(new URL('./results/bounded-memory.json', import.meta.url));
  writeFileSync(out, JSON.stringify({
    date: new Date().toISOString(), adapter: info.adapter, tokens: TOKENS, every: EVERY, budget: BUDGET, prompt: PROMPT.length,
    model: { ...SHAPE, headDim, kvBytesPerToken: KV_BYTES_PER_TOKEN, pageSize: PAGE_SIZE },
    note: 'each sample is a fresh greedy generation of `generated` tokens (ignore_eos); usage is the engine\'s at its end',
    results,
  }, null, 2));
  console.log(`wrote ${out}`);
} finally {
  await host.close();
}
