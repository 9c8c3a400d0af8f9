// A tokenizer built from the vocabulary a GGUF file carries (SentencePiece-style "llama" model).
// stories260K's scores are all zero, so score-ordered merging cannot rebuild its encoder. We encode
// deterministically instead: the segmentation with the FEWEST pieces, ties broken toward the LONGEST FIRST
// piece (then recursively the same rule on the rest), with <0xXX> byte tokens for anything no piece covers.
import type { GgufVocabulary } from '../model/index.ts';
import type { TextTokenizer } from './tokenizer.ts';

const SPACE = '\u2581'; // SentencePiece's visible space
const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;
/** llama.cpp token types: 1 normal, 2 unknown, 3 control, 4 user defined, 5 unused, 6 byte. */
const TYPE_NORMAL = 1;
const TYPE_USER_DEFINED = 4;

export function ggufTokenizer(vocab: GgufVocabulary): TextTokenizer {
  const pieceToId = new Map<string, number>();
  const byteToId = new Map<number, number>();
  let maxPieceLength = 1;
  vocab.tokens.forEach((token, id) => {
    const byte = BYTE_TOKEN.exec(token);
    if (byte) { byteToId.set(parseInt(byte[1], 16), id); return; }
    const type = vocab.tokenTypes?.[id] ?? TYPE_NORMAL;
    if (type !== TYPE_NORMAL && type !== TYPE_USER_DEFINED) return;
    if (!pieceToId.has(token)) pieceToId.set(token, id);
    maxPieceLength = Math.max(maxPieceLength, [...token].length);
  });

  function encodeText(text: string): number[] {
    // add_dummy_prefix, spaces as U+2581 (as SentencePiece's llama models do)
    const chars = [...(SPACE + text.replaceAll(' ', SPACE))];
    const n = chars.length;
    // best[i] = fewest pieces to cover chars[i..]; choice[i] = length of the first piece (0 = byte fallback)
    const best = new Int32Array(n + 1);
    const choice = new Int32Array(n + 1);
    for (let i = n - 1; i >= 0; i--) {
      // byte fallback for one character: as many tokens as its UTF-8 bytes
      best[i] = new TextEncoder().encode(chars[i]).length + best[i + 1];
      choice[i] = 0;
      let piece = '';
      for (let len = 1; len <= maxPieceLength && i + len <= n; len++) {
        piece += chars[i + len - 1];
        if (!pieceToId.has(piece)) continue;
        const cost = 1 + best[i + len];
        // '<=' with increasing len: among equal counts the longest first piece wins.
        if (cost <= best[i]) { best[i] = cost; choice[i] = len; }
      }
    }
    const ids: number[] = [];
    for (let i = 0; i < n;) {
      if (choice[i] === 0) {
        for (const b of new TextEncoder().encode(chars[i])) {
          const id = byteToId.get(b);
          if (id !== undefined) ids.push(id);
        }
        i += 1;
      } else {
        ids.push(pieceToId.get(chars.slice(i, i + choice[i]).join('')) as number);
        i += choice[i];
      }
    }
    return ids;
  }

  return {
    encode(text: string) {
      const ids = encodeText(text);
      if (vocab.addBosToken && vocab.bosTokenId !== null) ids.unshift(vocab.bosTokenId);
      return ids;
    },
    decode(ids: number[]) {
      const bytes: number[] = [];
      const encoder = new TextEncoder();
      for (const id of ids) {
        const token = vocab.tokens[id];
        if (token === undefined) continue;
        const type = vocab.tokenTypes?.[id] ?? TYPE_NORMAL;
        if (type === 3) continue; // control tokens (BOS/EOS) print nothing
        const byte = BYTE_TOKEN.exec(token);
        if (byte) bytes.push(parseInt(byte[1], 16));
        else bytes.push(...encoder.encode(token.replaceAll(SPACE, ' ')));
      }
      const text = new TextDecoder().decode(new Uint8Array(bytes));
      // drop the dummy prefix space of a sequence start
      return text.startsWith(' ') ? text.slice(1) : text;
    },
  };
}
