// Wraps @huggingface/tokenizers behind the small interface the engine needs; BOS is added as the model's config says.
import { Tokenizer } from '@huggingface/tokenizers';
import { BadModelFileError, InvalidArgumentError, SieveError } from '../errors/index.ts';
import type { LoadedModel } from '../model/index.ts';

export interface TextTokenizer {
  /** Raw text to ids, with BOS first when the tokenizer config asks for it. */
  encode(text: string): number[];
  decode(ids: number[]): string;
  /** Every token's stored text by id and how to read it: what a grammar engine (xgrammar) needs to mask tokens. */
  grammarVocabulary(): GrammarVocabulary;
}

/**
 * A vocabulary as xgrammar's TokenizerInfo takes it: tokens as the tokenizer stores them ('' for unused ids) and
 * their encoding: 'byte_level' (GPT-2's byte alphabet), 'byte_fallback' (SentencePiece: U+2581 spaces, <0xXX> byte
 * tokens) or 'raw' (the text itself); prependSpace when encode adds a dummy space before the text.
 */
export interface GrammarVocabulary {
  tokens: string[];
  type: 'byte_level' | 'byte_fallback' | 'raw';
  prependSpace: boolean;
}

type Json = Record<string, unknown>;

/** tokenizer.json's vocabulary by id (BPE/WordPiece: {token: id}; Unigram: [[piece, score]]) and its added tokens. */
function hfGrammarVocabulary(tokenizerJson: Json): GrammarVocabulary {
  const model = (tokenizerJson.model ?? {}) as Json;
  const tokens: string[] = [];
  if (Array.isArray(model.vocab)) (model.vocab as [string, number][]).forEach(([piece], id) => { tokens[id] = piece; });
  else for (const [token, id] of Object.entries((model.vocab ?? {}) as Record<string, number>)) tokens[id] = token;
  for (const added of (tokenizerJson.added_tokens ?? []) as { id: number; content: string }[]) tokens[added.id] = added.content;
  for (let i = 0; i < tokens.length; i++) tokens[i] ??= '';
  const decoders = (d: unknown): Json[] => {
    const x = (d ?? {}) as Json;
    return x.type === 'Sequence' ? ((x.decoders ?? []) as Json[]).flatMap(decoders) : [x];
  };
  const kinds = decoders(tokenizerJson.decoder).map((d) => d.type);
  const type = kinds.includes('ByteLevel') ? 'byte_level' : kinds.includes('ByteFallback') || kinds.includes('Metaspace') ? 'byte_fallback' : 'raw';
  const pre = JSON.stringify(tokenizerJson.pre_tokenizer ?? {}) + JSON.stringify(tokenizerJson.normalizer ?? {});
  const prependSpace = type === 'byte_fallback' && (/"prepend_scheme":"(first|always)"/.test(pre) || /"Prepend","prepend":"\u2581"|"prepend":"▁"/.test(pre));
  return { tokens, type, prependSpace };
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
    grammarVocabulary: () => hfGrammarVocabulary(tokenizerJson as Json),
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
