// Chat templates: messages -> prompt text, with the model's Jinja template (tokenizer_config.json) or a plain default.
import { Template } from '@huggingface/jinja';
import { BadModelFileError, InvalidArgumentError } from '../errors/index.ts';

export type ChatRole = 'system' | 'user' | 'assistant' | 'tool';

export interface ChatMessage {
  role: ChatRole;
  content: string;
  /** An assistant turn's tool calls (OpenAI's shape: {type: 'function', function: {name, arguments}}). */
  tool_calls?: unknown[];
  /** A tool turn's answer to the call of this id. */
  tool_call_id?: string;
  /** The speaker's name (OpenAI's), or a tool turn's function name. */
  name?: string;
  /** An assistant turn's reasoning, for templates that render it (Qwen3 drops it from earlier turns). */
  reasoning_content?: string;
}

export interface ChatTemplateOptions {
  /** End with the opening of an assistant turn, so the model writes the reply (true for generation). */
  addGenerationPrompt?: boolean;
  /** Tool definitions (OpenAI's shape), passed as the template's `tools`, as transformers' apply_chat_template does. */
  tools?: readonly unknown[];
  /** Further template variables, like apply_chat_template's keyword arguments (enable_thinking, date_string). */
  variables?: Readonly<Record<string, unknown>>;
}

export interface ChatTemplate {
  /** The Jinja source in use (the model's, or DEFAULT_CHAT_TEMPLATE). */
  readonly source: string;
  /** True when the model shipped no template and the plain default is used. */
  readonly isDefault: boolean;
  /** BOS text the template may print itself; callers drop a second BOS the tokenizer adds. */
  readonly bosToken: string;
  render(messages: readonly ChatMessage[], options?: ChatTemplateOptions): string;
}

/**
 * The template for models that ship none (base models such as stories260K): an optional system text, then
 * "User: ...\nAssistant: ...\n" turns, ending in "Assistant:" for generation. Plain text, no special tokens, so any
 * base model can continue it; stop on "\nUser:" to end the reply at the next turn.
 */
export const DEFAULT_CHAT_TEMPLATE = [
  // Newlines live inside string literals because "-%}" trims the whitespace after a tag.
  '{%- for message in messages -%}',
  '{%- if message.role == "system" -%}{{ message.content + "\\n\\n" }}',
  '{%- elif message.role == "user" -%}{{ "User: " + message.content + "\\n" }}',
  '{%- elif message.role == "assistant" -%}{{ "Assistant: " + message.content + "\\n" }}',
  '{%- else -%}{{ (message.role | capitalize) + ": " + message.content + "\\n" }}',
  '{%- endif -%}',
  '{%- endfor -%}',
  '{%- if add_generation_prompt -%}{{ "Assistant:" }}{%- endif -%}',
].join('');

/** A stop string that ends a reply under the default template when the model goes on to write the user's turn. */
export const DEFAULT_TEMPLATE_STOP = '\nUser:';

/** tokenizer_config.json writes special tokens as strings or as AddedToken objects ({content: ...}). */
function tokenText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return '';
}

/** chat_template is a string, or a list of {name, template} of which "default" is the chat one. */
function templateSource(config: Record<string, unknown> | null): string | null {
  const t = config?.chat_template;
  if (t === undefined || t === null) return null;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const named = t as { name?: unknown; template?: unknown }[];
    const chosen = named.find((x) => x?.name === 'default') ?? named[0];
    if (typeof chosen?.template === 'string') return chosen.template;
  }
  throw new BadModelFileError('tokenizer_config.json', 'chat_template', 'must be a string or a list of {name, template}');
}

/** The model's chat template from tokenizer_config.json, or the plain default when it has none. */
export function createChatTemplate(tokenizerConfig: Record<string, unknown> | null): ChatTemplate {
  const own = templateSource(tokenizerConfig);
  const source = own ?? DEFAULT_CHAT_TEMPLATE;
  let template: Template;
  try {
    template = new Template(source);
  } catch (e) {
    throw new BadModelFileError('tokenizer_config.json', 'chat_template', `does not parse as Jinja: ${(e as Error).message}`);
  }
  const bosToken = tokenText(tokenizerConfig?.bos_token);
  const eosToken = tokenText(tokenizerConfig?.eos_token);
  return {
    source,
    isDefault: own === null,
    bosToken,
    render(messages, options = {}) {
      try {
        return template.render({
          ...options.variables,
          messages: messages as unknown as Record<string, unknown>[],
          ...(options.tools ? { tools: options.tools as unknown as Record<string, unknown>[] } : {}),
          add_generation_prompt: options.addGenerationPrompt ?? true,
          bos_token: bosToken,
          eos_token: eosToken,
        });
      } catch (e) {
        // @huggingface/jinja provides raise_exception (templates refuse e.g. roles out of order) and strftime_now.
        throw new InvalidArgumentError('messages', `the chat template failed: ${(e as Error).message}`);
      }
    },
  };
}
