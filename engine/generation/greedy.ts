// Greedy generation by ids (the CLI's and engine's first path): the general loop with temperature 0.
import { AbortedError } from '../errors/index.ts';
import type { ForwardBackend } from './backend.ts';
import { generateAll, type GenerationUsage } from './generate.ts';

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

export async function generateGreedy(backend: ForwardBackend, req: GreedyRequest): Promise<GreedyResult> {
  const r = await generateAll(backend, {
    ids: req.ids, maxTokens: req.maxTokens, eosTokenIds: req.eosTokenIds, ignoreEos: req.ignoreEos, signal: req.signal,
  });
  // This older entry point reports an abort as an error (callers built on it expect that), not as a finish reason.
  if (r.finishReason === 'abort') throw new AbortedError();
  return { ids: r.ids, finishReason: r.finishReason, usage: r.usage };
}
