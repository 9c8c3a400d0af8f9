// Tokenizer module face: text <-> ids for a loaded model (tokenizer.json through @huggingface/tokenizers).
export { loadTokenizer } from './tokenizer.ts';
export type { TextTokenizer } from './tokenizer.ts';
