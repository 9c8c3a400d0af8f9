// Tokenizer module face: text <-> ids for a loaded model (tokenizer.json, or the vocabulary inside a GGUF file).
import type { LoadedModel } from '../model/index.ts';
import { ggufTokenizer } from './gguf-vocab.ts';
import { loadTokenizer as loadHfTokenizer, type TextTokenizer } from './tokenizer.ts';

export type { GrammarVocabulary, TextTokenizer } from './tokenizer.ts';
export { ggufTokenizer } from './gguf-vocab.ts';

/** The model's tokenizer, or null when the model has no tokenizer files (ids only). */
export function loadTokenizer(model: Pick<LoadedModel, 'tokenizerFiles' | 'config' | 'source' | 'ggufVocabulary'>): TextTokenizer | null {
  if (model.ggufVocabulary) return ggufTokenizer(model.ggufVocabulary, model.source);
  return loadHfTokenizer(model);
}
export { createChatTemplate, DEFAULT_CHAT_TEMPLATE, DEFAULT_TEMPLATE_STOP } from './chat-template.ts';
export type { ChatMessage, ChatRole, ChatTemplate, ChatTemplateOptions } from './chat-template.ts';
