// The well-formed inputs fuzzing starts from: the real stories260K GGUF file and a cut-down sieve-tiny tokenizer (Node only).
import { readFileSync } from 'node:fs';
import type { Json } from './mutate.ts';

export interface FuzzCorpus {
  /** stories260K.gguf: a real GGUF v3 file (llama, 512-token vocabulary). */
  gguf: Uint8Array;
  /** sieve-tiny's tokenizer.json cut to its first TOKENIZER_VOCAB ids (and the merges among them): fast to build per case. */
  tokenizerJson: Json;
  tokenizerConfig: Json;
}

/** Enough of sieve-tiny's byte-level BPE to encode any text (all 256 byte symbols) with some merges, in ~1 ms a build. */
const TOKENIZER_VOCAB = 400;

const root = new URL('../../', import.meta.url);

export function loadFuzzCorpus(): FuzzCorpus {
  const gguf = new Uint8Array(readFileSync(new URL('../shared/models/stories260K/stories260K.gguf', root)));
  const full = JSON.parse(readFileSync(new URL('models/sieve-tiny/tokenizer.json', root), 'utf8'));
  const vocab = Object.fromEntries(Object.entries(full.model.vocab as Record<string, number>).filter(([, id]) => id < TOKENIZER_VOCAB));
  const merges = (full.model.merges as [string, string][]).filter(([a, b]) => a in vocab && b in vocab && `${a}${b}` in vocab);
  const tokenizerJson = { ...full, model: { ...full.model, vocab, merges } };
  const tokenizerConfig = JSON.parse(readFileSync(new URL('models/sieve-tiny/tokenizer_config.json', root), 'utf8'));
  return { gguf, tokenizerJson, tokenizerConfig };
}
