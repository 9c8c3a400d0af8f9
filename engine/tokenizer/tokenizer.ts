// Wraps @huggingface/tokenizers behind the small interface the engine needs; BOS is added as the model's config says.
import { Tokenizer } from '@huggingface/tokenizers';
import { BadModelFileError, InvalidArgumentError, SieveError } from '../errors/index.ts';
import type { LoadedModel } from '../model/index.ts';

export interface TextTokenizer {
  /** Raw text to ids, with BOS first when the tokenizer config asks for it. */
  encode(text: string): number[];
  decode(ids: number[]): string;
}

export function loadTokenizer(model: Pick<LoadedModel, 'tokenizerFiles' | 'config' | 'source'>): TextTokenizer | null {
  const { tokenizerJson, tokenizerConfig } = model.tokenizerFiles;
  if (!tokenizerJson) return null;
  // @huggingface/tokenizers throws plain TypeErrors on malformed files (found by engine/fuzz), at build or first use.
  const tokenizer = asModelFileError(() => new Tokenizer(tokenizerJson as object, (tokenizerConfig ?? {}) as object));
  // Llama-style configs say add_bos_token; post-processors (TemplateProcessing) may add it themselves.
  const addBos = tokenizerConfig?.add_bos_token === true && model.config.bosTokenId !== null;
  // transformers 5 ignores clean_up_tokenization_spaces for BPE models (it is WordPiece's rule and strips spaces
  // before punctuation from BPE output, "Hello ." -> "Hello."); Llama-3's config still says true.
  const isBpe = (tokenizerJson as { model?: { type?: string } }).model?.type === 'BPE';
  const cleanUp = tokenizerConfig?.clean_up_tokenization_spaces === true && !isBpe;
  return {
    encode(text: string) {
      if (typeof text !== 'string') throw new InvalidArgumentError('prompt', 'must be a string');
      const ids = asModelFileError(() => tokenizer.encode(text).ids as number[]);
      if (addBos && ids[0] !== model.config.bosTokenId) ids.unshift(model.config.bosTokenId as number);
      return ids;
    },
    decode(ids: number[]) {
      // @huggingface/tokenizers throws on an empty list; transformers (and every caller here) expects ''.
      if (ids.length === 0) return '';
      return asModelFileError(() => tokenizer.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: cleanUp }));
    },
  };
}

/** Runs the tokenizer library; its own errors mean tokenizer.json (or tokenizer_config.json) is malformed. */
function asModelFileError<T>(run: () => T): T {
  try {
    const out = run();
    if (out === undefined || out === null) throw new TypeError('the tokenizer library returned nothing');
    return out;
  } catch (e) {
    if (e instanceof SieveError) throw e;
    throw new BadModelFileError('tokenizer.json', '(root)', `the tokenizer cannot be built or run from it: ${(e as Error)?.message ?? String(e)}`);
  }
}
