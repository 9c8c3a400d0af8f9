// GPT-2's byte-level alphabet: every byte as one printable code point, so byte-level BPE vocabularies (GPT-2, Llama-3,
// Qwen) store any byte string as text. The table is GPT-2's bytes_to_unicode (openai/gpt-2 encoder.py), which
// llama.cpp (unicode.cpp unicode_byte_to_utf8_map) and Hugging Face tokenizers (ByteLevel) use too: the printable
// Latin-1 bytes map to themselves, the other 68 to U+0100 upwards in byte order.

const BYTE_TO_CHAR: string[] = (() => {
  const table = new Array<string>(256);
  const keep = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 0x100;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(keep(b) ? b : next++);
  return table;
})();

const CHAR_TO_BYTE = new Map<string, number>(BYTE_TO_CHAR.map((c, b) => [c, b]));

const UTF8 = new TextEncoder();

/** Text -> its UTF-8 bytes written in the byte-level alphabet (one code point per byte). */
export function byteLevelEncode(text: string): string {
  let out = '';
  for (const b of UTF8.encode(text)) out += BYTE_TO_CHAR[b];
  return out;
}

/** The byte-level code point of one byte. */
export function byteLevelChar(byte: number): string {
  return BYTE_TO_CHAR[byte];
}

/**
 * A byte-level token's bytes. A code point outside the alphabet (a token a converter wrote as plain text) is kept as
 * its own UTF-8, as llama.cpp's llama_decode_text does.
 */
export function byteLevelDecode(token: string, out: number[]): void {
  for (const c of token) {
    const b = CHAR_TO_BYTE.get(c);
    if (b !== undefined) out.push(b);
    else out.push(...UTF8.encode(c));
  }
}
