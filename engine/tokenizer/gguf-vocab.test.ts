// The GGUF-vocabulary tokenizer on stories260K (README ids -> README text, round trips) and its documented encode rule.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseGguf } from '../model/gguf.ts';
import type { GgufVocabulary } from '../model/index.ts';
import { ggufTokenizer } from './gguf-vocab.ts';

const MODEL_DIR = new URL('../../../shared/models/stories260K/', import.meta.url);
const BOS = 1;

/** The README's "Known output": its ids, and its text block (wrapped lines, one real newline after "too high."). */
function readme(): { ids: number[]; wrappedText: string } {
  const text = readFileSync(new URL('README.md', MODEL_DIR), 'utf8');
  const section = text.slice(text.indexOf('## Known output'));
  const idBlock = section.slice(section.indexOf('Token ids:'), section.indexOf('Text ('));
  const textBlock = section.slice(section.indexOf('\n\n', section.indexOf('Text (')) + 2, section.indexOf('\n\nThis matches'));
  return {
    ids: idBlock.replace('Token ids:', '').trim().split(/\s+/).map(Number),
    wrappedText: textBlock.split('\n').map((l) => l.trim()).join(' '),
  };
}

/** The same text with its one newline (token 13, <0x0A>) where the README says it is. */
const README_TEXT = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily\'s mom said, "Lily, let\'s go to';

describe('GGUF vocabulary tokenizer (stories260K)', () => {
  const { vocabulary } = parseGguf(new Uint8Array(readFileSync(new URL('stories260K.gguf', MODEL_DIR))), 'stories260K.gguf');
  const vocab = vocabulary;
  const tokenizer = ggufTokenizer(vocab);
  const { ids, wrappedText } = readme();

  it("decodes the README's known ids to the README's text exactly", () => {
    expect(ids).toHaveLength(80);
    expect(README_TEXT.replace('\n', ' ')).toBe(wrappedText); // the literal above is the README's block, unwrapped
    expect(tokenizer.decode(ids)).toBe(README_TEXT);
    expect(tokenizer.decode([BOS, ...ids])).toBe(README_TEXT); // BOS is a control token: no text
  });

  it('encodes with BOS first and round-trips text through encode and decode', () => {
    const samples = [
      README_TEXT,
      'Tom and Sue went to the park.',
      'a  b   c',
      'naïve café, 42 € and 😀 in one line\nand another',
      '!',
    ];
    for (const text of samples) {
      const encoded = tokenizer.encode(text);
      expect(encoded[0]).toBe(BOS);
      expect(encoded.every((id) => Number.isInteger(id) && id >= 0 && id < vocab.tokens.length)).toBe(true);
      expect(tokenizer.decode(encoded)).toBe(text);
    }
  });

  it('encodes the README text in no more pieces than the model generated it with (fewest pieces)', () => {
    const encoded = tokenizer.encode(README_TEXT).slice(1);
    expect(encoded.length).toBeLessThanOrEqual(ids.length);
    expect(tokenizer.encode(README_TEXT)).toEqual(tokenizer.encode(README_TEXT)); // deterministic
  });

  it('falls back to <0xXX> byte tokens for characters no piece covers', () => {
    const encoded = tokenizer.encode('😀').slice(1);
    const bytes = [...new TextEncoder().encode('😀')].map((b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    expect(encoded.map((id) => vocab.tokens[id]).filter((t) => t.startsWith('<0x'))).toEqual(bytes);
  });
});

describe('the encode rule: fewest pieces, ties to the longest first piece', () => {
  /** A hand-made SentencePiece-style vocabulary: 3 control tokens, the 256 byte tokens, then pieces. */
  function tinyVocab(pieces: string[]): GgufVocabulary {
    const bytes = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    const tokens = ['<unk>', '<s>', '</s>', ...bytes, ...pieces];
    return {
      model: 'llama', tokens, scores: null, bosTokenId: 1, eosTokenId: 2, addBosToken: false,
      tokenTypes: tokens.map((_, i) => (i === 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1)),
    };
  }
  const pieceIds = (v: GgufVocabulary, text: string) => ggufTokenizer(v).encode(text).map((id) => v.tokens[id]);

  it('prefers fewer pieces over a greedy longest match', () => {
    // Greedy longest-first would take "▁abc" then "d", "e" (3); the fewest is "▁ab" + "cde" (2).
    const v = tinyVocab(['▁abc', '▁ab', 'cde', 'd', 'e', 'c']);
    expect(pieceIds(v, 'abcde')).toEqual(['▁ab', 'cde']);
  });

  it('breaks a tie in piece count toward the longer first piece', () => {
    // "▁a"+"bc" and "▁ab"+"c" both take 2 pieces: the rule picks "▁ab" first.
    const v = tinyVocab(['▁a', 'bc', '▁ab', 'c', 'b']);
    expect(pieceIds(v, 'abc')).toEqual(['▁ab', 'c']);
    expect(ggufTokenizer(v).decode(ggufTokenizer(v).encode('abc'))).toBe('abc');
  });

  it('adds BOS only when the file asks for it; spaces become ▁', () => {
    const v = tinyVocab(['▁a', '▁b']);
    expect(pieceIds(v, 'a b')).toEqual(['▁a', '▁b']);
    expect(pieceIds({ ...v, addBosToken: true }, 'a b')).toEqual(['<s>', '▁a', '▁b']);
  });
});
