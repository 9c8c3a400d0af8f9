// Greedy generation with usage figures; the full sampler (temperature, top-p, penalties...) builds on this loop.
import type { ForwardBackend } from './backend.ts';
import { validateIds } from './logits.ts';
import { InvalidArgumentError } from '../errors/index.ts';

export interface GenerationUsage {
  prompt_tokens: number;
  completion_tokens: number;
  prefill_tokens_per_s: number;
  decode_tokens_per_s: number;
  kv_bytes: number;
  tokens_in_cache: number;
}

export interface GreedyRequest {
  ids: number[];
  maxTokens: number;
  eosTokenIds: number[];
  ignoreEos?: boolean;
  signal?: AbortSignal;
}

export interface GreedyResult {
  /** Generated ids only; an EOS that ended generation is included. */
  ids: number[];
  finishReason: 'stop' | 'length';
  usage: GenerationUsage;
}

export function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

const now = () => globalThis.performance?.now() ?? Date.now();

export async function generateGreedy(backend: ForwardBackend, req: GreedyRequest): Promise<GreedyResult> {
  validateIds(req.ids, backend.config.vocabSize);
  if (!Number.isInteger(req.maxTokens) || req.maxTokens < 0) throw new InvalidArgumentError('max_tokens', 'must be a non-negative integer');
  await backend.reset();
  const out: number[] = [];
  let finishReason: GreedyResult['finishReason'] = 'length';
  const t0 = now();
  let logits = await backend.prefill(req.ids, 'last');
  const t1 = now();
  while (out.length < req.maxTokens) {
    req.signal?.throwIfAborted();
    const next = argmax(logits);
    out.push(next);
    if (!req.ignoreEos && req.eosTokenIds.includes(next)) { finishReason = 'stop'; break; }
    if (out.length >= req.maxTokens) break;
    logits = await backend.decode(next);
  }
  const t2 = now();
  const usage = backend.cacheUsage();
  const decoded = Math.max(0, out.length - 1); // the first token comes from prefill
  return {
    ids: out,
    finishReason,
    usage: {
      prompt_tokens: req.ids.length,
      completion_tokens: out.length,
      prefill_tokens_per_s: req.ids.length / Math.max(1e-6, (t1 - t0) / 1000),
      decode_tokens_per_s: decoded === 0 ? 0 : decoded / Math.max(1e-6, (t2 - t1) / 1000),
      kv_bytes: usage.kvBytes,
      tokens_in_cache: usage.tokensInCache,
    },
  };
}
