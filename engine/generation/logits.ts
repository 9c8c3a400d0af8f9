// Logits for a whole id sequence: by one prefill, or by prefilling the first id and decoding the rest one by one.
import { InvalidArgumentError } from '../errors/index.ts';
import type { ForwardBackend } from './backend.ts';

export type LogitsMode = 'prefill' | 'decode';

export function validateIds(ids: unknown, vocabSize: number, param = 'ids'): number[] {
  if (!Array.isArray(ids) || ids.length === 0) throw new InvalidArgumentError(param, 'must be a non-empty list of token ids');
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new InvalidArgumentError(param, `token id ${String(id)} is not an integer in [0, ${vocabSize})`);
    }
  }
  return ids as number[];
}

/** Returns [ids.length, vocab] f32 logits, one row per position, from a fresh sequence. */
export async function sequenceLogits(backend: ForwardBackend, ids: number[], mode: LogitsMode): Promise<Float32Array> {
  const vocab = backend.config.vocabSize;
  validateIds(ids, vocab);
  await backend.reset();
  try {
    if (mode === 'prefill') return await backend.prefill(ids, 'all');
    const out = new Float32Array(ids.length * vocab);
    out.set(await backend.prefill(ids.slice(0, 1), 'last'), 0);
    for (let i = 1; i < ids.length; i++) out.set(await backend.decode(ids[i]), i * vocab);
    return out;
  } finally {
    await backend.reset();
  }
}
