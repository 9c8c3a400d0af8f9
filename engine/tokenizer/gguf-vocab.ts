// A tokenizer built from the vocabulary inside a GGUF file, by exactly llama.cpp's rules (src/llama-vocab.cpp),
// chosen by tokenizer.ggml.model:
// - "llama": SentencePiece-style. Text is split into characters, then the adjacent pair whose concatenation is a
//   token with the highest score merges first (ties: the leftmost), until no pair is a token; a piece that is no
//   token falls back to its <0xXX> byte tokens. Spaces are written U+2581, with a dummy prefix space.
// - "gpt2": byte-level BPE. The pre-tokenizer (tokenizer.ggml.pre) splits the text, each piece is written in GPT-2's
//   byte alphabet, and the pair of lowest merge rank (tokenizer.ggml.merges) merges first (ties: the leftmost).
// Before either, special tokens (control, user-defined and unknown types) are cut out of the text, longest first,
// and become their own ids (llama_vocab::impl::tokenizer_st_partition with parse_special, as llama-tokenize and
// llama-server's chat prompts do). Decoding is llama_detokenize(remove_special = false, unparse_special = true):
// special tokens print their text, byte tokens their byte, the dummy prefix space of the first piece is dropped.
import { UnsupportedConfigError } from '../model/index.ts';
import type { GgufVocabulary } from '../model/index.ts';
import { byteLevelDecode, byteLevelEncode } from './byte-level.ts';
import { preTokenizer, type PreTokenizer } from './pre-tokenizers.ts';
import type { TextTokenizer } from './tokenizer.ts';

const SPACE = '\u2581'; // SentencePiece's visible space
const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

/** llama.cpp token types (llama_token_type): the attributes its tokenizer keys on. */
const TYPE_NORMAL = 1;
const TYPE_UNKNOWN = 2;
const TYPE_CONTROL = 3;
const TYPE_USER_DEFINED = 4;
const TYPE_BYTE = 6;

export const SUPPORTED_GGUF_TOKENIZERS = ['llama', 'gpt2'];

const UTF8 = new TextEncoder();

/** Text pieces and special-token ids, in order. */
type Fragment = string | number;

interface Vocab {
  readonly tokens: readonly string[];
  readonly types: readonly number[];
  readonly toId: ReadonlyMap<string, number>;
  /** Special tokens matched in raw text, longest text first (llama.cpp's cache_special_tokens). */
  readonly specials: readonly number[];
}

/**
 * Token texts llama.cpp makes control tokens whatever their type (llama_vocab::impl::load, "auto-detect special tokens
 * by text"): its end-of-generation list, always; the fill-in-the-middle ones when the file names no id for that role.
 * Qwen's vocabulary, for one, has "</s>" as a normal token, which llama.cpp then matches in text as one special token.
 */
const END_OF_GENERATION_TEXTS = [
  '<|eot_id|>', '<|im_end|>', '<|end|>', '<|return|>', '<|call|>', '<|flush|>', '<|calls|>', '<end_of_turn>',
  '<|endoftext|>', '</s>', '<|eom_id|>', '<EOT>', '_<EOT>', '[EOT]', '[EOS]', '<|end_of_text|>', '<end_of_utterance>',
  '<eos>', '<turn|>', '<|tool_response>', '<｜end▁of▁sentence｜>', '[e~[',
];
const FILL_IN_THE_MIDDLE_TEXTS: Record<string, string[]> = {
  fim_pre: ['<|fim_prefix|>', '<fim-prefix>', '<fim_prefix>', '<｜fim▁begin｜>', '<PRE>', '▁<PRE>', '<|code_prefix|>', '<|prefix|>'],
  fim_suf: ['<|fim_suffix|>', '<fim-suffix>', '<fim_suffix>', '<｜fim▁hole｜>', '<SUF>', '▁<SUF>', '<|code_suffix|>', '<|suffix|>'],
  fim_mid: ['<|fim_middle|>', '<fim-middle>', '<fim_middle>', '<｜fim▁end｜>', '<MID>', '▁<MID>', '<|code_middle|>', '<|middle|>'],
  fim_pad: ['<|fim_pad|>', '<fim-pad>', '<fim_pad>', '<PAD>', '[PAD]'],
  fim_rep: ['<|fim_repo|>', '<|repo_name|>', '<fim-repo>', '<REPO>', '<reponame>'],
  fim_sep: ['<|file_sep|>'],
};
/** gpt-oss's tokens llama.cpp always renders as plain user-defined text. */
const ALWAYS_USER_DEFINED_TEXTS = ['<|channel|>', '<|message|>', '<|start|>', '<|constrain|>'];

function buildVocab(v: GgufVocabulary): Vocab {
  const types = v.tokens.map((_, id) => v.tokenTypes?.[id] ?? TYPE_NORMAL);
  const toId = new Map<string, number>();
  v.tokens.forEach((t, id) => toId.set(t, id));
  const setType = (text: string, type: number) => { const id = toId.get(text); if (id !== undefined) types[id] = type; };
  // llama.cpp picks the first candidate of a role in hash order; a vocabulary with two candidates for one role is
  // not one we know of, and we mark every candidate.
  for (const [role, texts] of Object.entries(FILL_IN_THE_MIDDLE_TEXTS)) {
    if (v.specialTokenIds[role] === undefined) for (const t of texts) setType(t, TYPE_CONTROL);
  }
  for (const t of END_OF_GENERATION_TEXTS) setType(t, TYPE_CONTROL);
  // Gemma 4's workaround: with <|tool_response> in the vocabulary, </s> is plain text.
  if (toId.has('<|tool_response>')) setType('</s>', TYPE_NORMAL);
  for (const t of ALWAYS_USER_DEFINED_TEXTS) setType(t, TYPE_USER_DEFINED);
  const specials = types.flatMap((t, id) => (t === TYPE_CONTROL || t === TYPE_USER_DEFINED || t === TYPE_UNKNOWN) && v.tokens[id] !== '' ? [id] : []);
  // llama.cpp sorts by byte length with std::sort (ties unspecified); we break ties by id, which only matters for
  // two equally long special tokens that overlap in the text.
  const bytes = new Map(specials.map((id) => [id, UTF8.encode(v.tokens[id]).length]));
  specials.sort((a, b) => (bytes.get(b) as number) - (bytes.get(a) as number) || a - b);
  return { tokens: v.tokens, types, toId, specials };
}

/** Cuts special tokens out of the text: each token in turn splits every raw fragment at each occurrence. */
function partition(text: string, vocab: Vocab): Fragment[] {
  let fragments: Fragment[] = text === '' ? [] : [text];
  for (const id of vocab.specials) {
    const needle = vocab.tokens[id];
    const next: Fragment[] = [];
    for (const f of fragments) {
      if (typeof f === 'number' || !f.includes(needle)) { next.push(f); continue; }
      let from = 0;
      for (let at = f.indexOf(needle); at >= 0; at = f.indexOf(needle, from)) {
        if (at > from) next.push(f.slice(from, at));
        next.push(id);
        from = at + needle.length;
      }
      if (from < f.length) next.push(f.slice(from));
    }
    fragments = next;
  }
  return fragments;
}

/** A binary heap; `before(a, b)` is true when a must come out first. */
class Heap<T> {
  private readonly items: T[] = [];
  constructor(private readonly before: (a: T, b: T) => boolean) {}
  get size(): number { return this.items.length; }
  push(item: T): void {
    const a = this.items;
    a.push(item);
    for (let i = a.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!this.before(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }
  pop(): T {
    const a = this.items;
    const top = a[0];
    const last = a.pop() as T;
    if (a.length > 0) {
      a[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.before(a[l], a[m])) m = l;
        if (r < a.length && this.before(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

/** A doubly linked list of symbols over one string: [start, start + length) code units; length 0 = merged away. */
interface Symbols { start: number[]; length: number[]; prev: number[]; next: number[] }

function splitChars(text: string): Symbols {
  const s: Symbols = { start: [], length: [], prev: [], next: [] };
  let i = 0;
  for (const c of text) {
    const k = s.start.length;
    s.start.push(i);
    s.length.push(c.length);
    s.prev.push(k - 1);
    i += c.length;
    s.next.push(i === text.length ? -1 : k + 1);
  }
  return s;
}

function mergeInto(s: Symbols, left: number, right: number): void {
  s.length[left] += s.length[right];
  s.length[right] = 0;
  s.next[left] = s.next[right];
  if (s.next[right] >= 0) s.prev[s.next[right]] = left;
}

/** llm_tokenizer_spm_session: score-ordered merging with byte fallback. */
function spmPiece(text: string, vocab: Vocab, scores: readonly number[] | null, out: number[]): void {
  const s = splitChars(text);
  interface Bigram { left: number; right: number; score: number; size: number }
  const queue = new Heap<Bigram>((a, b) => a.score > b.score || (a.score === b.score && a.left < b.left));
  const revMerge = new Map<string, [number, number]>();
  const tryAdd = (left: number, right: number) => {
    if (left < 0 || right < 0) return;
    const piece = text.substr(s.start[left], s.length[left] + s.length[right]);
    const id = vocab.toId.get(piece);
    if (id === undefined) return;
    queue.push({ left, right, score: scores?.[id] ?? 0, size: piece.length });
    revMerge.set(piece, [left, right]);
  };
  for (let i = 1; i < s.start.length; i++) tryAdd(i - 1, i);
  while (queue.size > 0) {
    const b = queue.pop();
    if (s.length[b.left] === 0 || s.length[b.right] === 0 || s.length[b.left] + s.length[b.right] !== b.size) continue;
    mergeInto(s, b.left, b.right);
    tryAdd(s.prev[b.left], b.left);
    tryAdd(b.left, s.next[b.left]);
  }
  // resegment: a symbol that is no token splits back along the merge that made it, down to byte tokens.
  const resegment = (start: number, length: number) => {
    const piece = text.substr(start, length);
    const id = vocab.toId.get(piece);
    if (id !== undefined) { out.push(id); return; }
    const merge = revMerge.get(piece);
    if (merge === undefined) {
      for (const byte of UTF8.encode(piece)) {
        const b = vocab.toId.get(`<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`);
        if (b !== undefined) out.push(b);
      }
      return;
    }
    for (const k of merge) resegment(s.start[k], s.length[k]);
  };
  for (let i = s.start.length > 0 ? 0 : -1; i !== -1; i = s.next[i]) resegment(s.start[i], s.length[i]);
}

/** llm_tokenizer_bpe_session: one pre-tokenized piece, merged by rank. */
function bpePiece(piece: string, vocab: Vocab, ranks: ReadonlyMap<string, number>, pre: PreTokenizer, out: number[]): void {
  const word = byteLevelEncode(piece);
  if (pre.ignoreMerges) {
    const whole = vocab.toId.get(word);
    if (whole !== undefined) { out.push(whole); return; }
  }
  const s = splitChars(word);
  interface Bigram { left: number; right: number; rank: number; text: string }
  const queue = new Heap<Bigram>((a, b) => a.rank < b.rank || (a.rank === b.rank && a.left < b.left));
  const symbol = (k: number) => word.substr(s.start[k], s.length[k]);
  const tryAdd = (left: number, right: number) => {
    if (left < 0 || right < 0) return;
    const rank = ranks.get(`${symbol(left)} ${symbol(right)}`);
    if (rank === undefined) return;
    queue.push({ left, right, rank, text: symbol(left) + symbol(right) });
  };
  for (let i = 1; i < s.start.length; i++) tryAdd(i - 1, i);
  while (queue.size > 0) {
    const b = queue.pop();
    if (s.length[b.left] === 0 || s.length[b.right] === 0 || symbol(b.left) + symbol(b.right) !== b.text) continue;
    mergeInto(s, b.left, b.right);
    tryAdd(s.prev[b.left], b.left);
    tryAdd(b.left, s.next[b.left]);
  }
  for (let i = s.start.length > 0 ? 0 : -1; i !== -1; i = s.next[i]) {
    const text = symbol(i);
    const id = vocab.toId.get(text);
    if (id !== undefined) { out.push(id); continue; }
    // A symbol no token spells: one token per byte (each byte-level character is one byte).
    for (const c of text) {
      const b = vocab.toId.get(c);
      if (b !== undefined) out.push(b);
    }
  }
}

/** llama_detokenize's clean_spaces passes (BPE vocabularies whose pre-tokenizer sets it), on the decoded bytes. */
function cleanSpaces(text: string): string {
  return text
    .replace(/ ([?!.,])/g, '$1') // " ?", " !", " .", " ,"
    .replace(/ ' /g, "'") // a single apostrophe between spaces
    .replace(/ '(s|m|re|ve)/g, "'$1"); // contractions " 's", " 'm", " 're", " 've"
}

export function ggufTokenizer(v: GgufVocabulary, file = 'the GGUF file'): TextTokenizer {
  if (!SUPPORTED_GGUF_TOKENIZERS.includes(v.model)) {
    throw new UnsupportedConfigError(file, 'tokenizer.ggml.model', v.model, `one of ${SUPPORTED_GGUF_TOKENIZERS.join(', ')}`);
  }
  const vocab = buildVocab(v);
  const spm = v.model === 'llama';
  const pre = spm ? null : preTokenizer(v.pre, file);
  const ranks = new Map<string, number>();
  if (!spm) {
    if (!v.merges) throw new UnsupportedConfigError(file, 'tokenizer.ggml.merges', 'absent', 'the merges of a byte-level BPE vocabulary');
    v.merges.forEach((m, rank) => { if (!ranks.has(m)) ranks.set(m, rank); });
  }
  const byteOf = vocab.tokens.map((t, id) => {
    if (vocab.types[id] !== TYPE_BYTE) return -1;
    const m = BYTE_TOKEN.exec(t);
    return m ? parseInt(m[1], 16) : -1;
  });

  function encode(text: string): number[] {
    const out: number[] = [];
    if (v.addBosToken && v.bosTokenId !== null) out.push(v.bosTokenId);
    let previousSpecial = true; // SentencePiece: a dummy prefix space at the start and after each special token
    for (const f of partition(text, vocab)) {
      if (typeof f === 'number') { out.push(f); previousSpecial = true; continue; }
      if (spm) {
        const escaped = ((v.addSpacePrefix && previousSpecial ? ' ' : '') + f).replaceAll(' ', SPACE);
        spmPiece(escaped, vocab, v.scores, out);
      } else {
        for (const piece of (pre as PreTokenizer).split(f)) bpePiece(piece, vocab, ranks, pre as PreTokenizer, out);
      }
      previousSpecial = false;
    }
    if (v.addEosToken && v.eosTokenId !== null) out.push(v.eosTokenId);
    return out;
  }

  function decode(ids: number[]): string {
    const bytes: number[] = [];
    let removeSpace = v.addSpacePrefix;
    for (const id of ids) {
      const token = vocab.tokens[id];
      if (token === undefined) continue;
      const type = vocab.types[id];
      const start = bytes.length;
      if (type === TYPE_CONTROL || type === TYPE_UNKNOWN || type === TYPE_USER_DEFINED) bytes.push(...UTF8.encode(token));
      else if (type === TYPE_NORMAL) {
        if (spm) bytes.push(...UTF8.encode(token.replaceAll(SPACE, ' ')));
        else byteLevelDecode(token, bytes);
      } else if (type === TYPE_BYTE && byteOf[id] >= 0) bytes.push(byteOf[id]);
      else if (type === TYPE_BYTE && !spm) byteLevelDecode(token, bytes);
      // token_to_piece's lstrip: the first piece loses one leading space (the dummy prefix).
      if (removeSpace && bytes.length > start && bytes[start] === 0x20) bytes.splice(start, 1);
      removeSpace = false;
    }
    const text = new TextDecoder().decode(new Uint8Array(bytes));
    return pre?.cleanSpaces ? cleanSpaces(text) : text;
  }

  const grammarVocabulary = () => ({ tokens: vocab.tokens.map((t) => t ?? ''), type: spm ? 'byte_fallback' as const : 'byte_level' as const, prependSpace: spm && v.addSpacePrefix });
  return { encode, decode, grammarVocabulary };
}
