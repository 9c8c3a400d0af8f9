// Byte-level BPE pre-tokenizers by tokenizer.ggml.pre, as llama.cpp splits text before merging (llama-vocab.cpp
// llm_tokenizer_bpe: one list of regexes per pre-tokenizer type; unicode.cpp unicode_regex_split applies them in turn,
// each splitting every piece the previous one left, matches and the text between them alike).
import { UnsupportedConfigError } from '../model/index.ts';

/**
 * llama.cpp's \s: the code points its Unicode tables flag as whitespace (unicode-data.cpp). JavaScript's \s differs
 * (it has U+FEFF, lacks U+0085), so the regexes below spell the class out.
 */
const WS = '\\t-\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000';

/** Rewrites a regex from llama.cpp's source into a JavaScript 'u' regex with llama.cpp's whitespace class. */
function jsRegex(source: string): RegExp {
  const s = source
    .replaceAll('[^\\s', `[^${WS}`)
    .replaceAll('\\s', `[${WS}]`)
    .replaceAll('\\S', `[^${WS}]`);
  return new RegExp(s, 'gu');
}

// The regexes as llama.cpp writes them (its Llama-3 and Qwen2 forms spell the case-insensitive contractions out).
const LLAMA3 = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2 = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";

interface PreTokenizerKind {
  names: string[];
  regexes: string[];
  /** llama.cpp's ignore_merges: a piece that is a whole vocabulary entry is one token, unmerged. */
  ignoreMerges: boolean;
  /** llama.cpp's clean_spaces for detokenizing (" ?" -> "?", " 's" -> "'s", ...). */
  cleanSpaces: boolean;
}

const KINDS: PreTokenizerKind[] = [
  {
    names: ['llama3', 'llama-v3', 'llama-bpe', 'falcon3', 'falcon-h1', 'pixtral', 'midm-2.0', 'lfm2', 'jina-v5-nano'],
    regexes: [LLAMA3], ignoreMerges: true, cleanSpaces: true,
  },
  { names: ['qwen2', 'deepseek-r1-qwen', 'kormo', 'f2llmv2', 'stablelm2'], regexes: [QWEN2], ignoreMerges: false, cleanSpaces: false },
  { names: ['gpt-2', 'phi-2', 'mpt', 'olmo', 'roberta-bpe'], regexes: [GPT2], ignoreMerges: false, cleanSpaces: true },
  { names: ['smollm', 'refact', 'codeshell', 'exaone', 'minerva'], regexes: ['\\p{N}', GPT2], ignoreMerges: false, cleanSpaces: true },
  {
    names: ['default'],
    regexes: ['[\\p{P}\\$\\+<=>\\^~\\|]+', GPT2, '\\p{N}+', '[0-9][0-9][0-9]'],
    ignoreMerges: false, cleanSpaces: true,
  },
];

export const SUPPORTED_PRE_TOKENIZERS = KINDS.flatMap((k) => k.names);

export interface PreTokenizer {
  split(text: string): string[];
  ignoreMerges: boolean;
  cleanSpaces: boolean;
}

/** The pre-tokenizer of a GGUF's tokenizer.ggml.pre (absent: llama.cpp's 'default', with its warning's regexes). */
export function preTokenizer(pre: string | null, file: string): PreTokenizer {
  const name = pre ?? 'default';
  const kind = KINDS.find((k) => k.names.includes(name));
  if (!kind) throw new UnsupportedConfigError(file, 'tokenizer.ggml.pre', name, `one of ${SUPPORTED_PRE_TOKENIZERS.join(', ')}`);
  const regexes = kind.regexes.map(jsRegex);
  return {
    ignoreMerges: kind.ignoreMerges,
    cleanSpaces: kind.cleanSpaces,
    split(text) {
      let pieces = [text];
      for (const re of regexes) {
        const next: string[] = [];
        for (const piece of pieces) splitKeepingGaps(piece, re, next);
        pieces = next;
      }
      return pieces;
    },
  };
}

/** Every match of `re` in `text` and every stretch between matches, in order (unicode_regex_split keeps both). */
function splitKeepingGaps(text: string, re: RegExp, out: string[]): void {
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m[0].length === 0) continue;
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(m[0]);
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
}
