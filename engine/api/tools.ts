// Tool calls (issue 15 item 2): how a chat template's model writes a call, the prompt text for templates that do
// not render `tools`, the grammar that forces a call (tool_choice 'required' or a named function), and parsing the
// model's text into OpenAI's tool_calls, whole or as stream deltas.
// Formats: 'hermes' (Hermes 2 Pro, Qwen2.5, Qwen3): <tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>;
// 'llama3' (Llama 3.1+ JSON tool calling): {"name": ..., "parameters": {...}}, optionally after <|python_tag|>.
import type { GrammarSpec } from '../grammar/index.ts';
import type { ChatMessage, ChatTemplate } from '../tokenizer/index.ts';
import type { ChatCompletionChunkToolCall, ChatCompletionMessageToolCall } from './types.ts';
import type { ValidatedTool, ValidatedToolChoice } from './validate.ts';

export type ToolCallFormat = 'hermes' | 'llama3';

const HERMES_OPEN = '<tool_call>';
const HERMES_CLOSE = '</tool_call>';
const PYTHON_TAG = '<|python_tag|>';

/** The format the model's template speaks: Qwen's and Hermes' <tool_call> tags, Llama-3's headers, else Hermes'. */
export function toolCallFormat(template: ChatTemplate): ToolCallFormat {
  if (template.source.includes(HERMES_OPEN)) return 'hermes';
  if (template.source.includes('<|start_header_id|>')) return 'llama3';
  return 'hermes';
}

/** Whether the template renders `tools` itself (else Sieve describes them in a system message). */
export function templateRendersTools(template: ChatTemplate): boolean {
  return /\btools\b/.test(template.source);
}

/**
 * For a template that ignores `tools`: the tools and the call format as a system message (merged into the first
 * system message when there is one), in Sieve's own words.
 */
export function withToolSystemMessage(messages: ChatMessage[], tools: ValidatedTool[], format: ToolCallFormat): ChatMessage[] {
  const list = tools.map((t) => JSON.stringify({ type: 'function', function: t })).join('\n');
  const how = format === 'hermes'
    ? `To call a function, reply with ${HERMES_OPEN}\n{"name": "<function name>", "arguments": {<arguments as JSON>}}\n${HERMES_CLOSE} (one block per call).`
    : 'To call a function, reply with only {"name": "<function name>", "parameters": {<arguments as JSON>}}.';
  const text = `You can call these functions:\n${list}\n${how} Otherwise answer in plain text.`;
  if (messages[0]?.role === 'system') return [{ ...messages[0], content: `${messages[0].content}\n\n${text}` }, ...messages.slice(1)];
  return [{ role: 'system', content: text }, ...messages];
}

/** The JSON Schema of one call's object in `format` ({name, arguments} or {name, parameters}). */
function callSchema(tool: ValidatedTool, format: ToolCallFormat): Record<string, unknown> {
  const key = format === 'hermes' ? 'arguments' : 'parameters';
  return { type: 'object', properties: { name: { const: tool.name }, [key]: tool.parameters }, required: ['name', key], additionalProperties: false };
}

/** The grammar a forced tool_choice puts on the reply: exactly one call, to the named tool or any of them. */
export function toolChoiceGrammar(tools: ValidatedTool[], choice: ValidatedToolChoice, format: ToolCallFormat): GrammarSpec | null {
  if (choice === 'none' || choice === 'auto') return null;
  const allowed = typeof choice === 'object' ? tools.filter((t) => t.name === choice.name) : tools;
  const schemas = allowed.map((t) => callSchema(t, format));
  const schema = schemas.length === 1 ? schemas[0] : { anyOf: schemas };
  if (format === 'llama3') return { type: 'json_schema', schema, at: 'tools' };
  return { type: 'json_schema', schema, at: 'tools', begin: `${HERMES_OPEN}\n`, end: `\n${HERMES_CLOSE}` };
}

export interface ParsedReply {
  /** Text outside the calls (trimmed); null when the reply was only calls. */
  content: string | null;
  toolCalls: ChatCompletionMessageToolCall[];
}

let callCounter = 0;
function callId(): string {
  callCounter = (callCounter + 1) % 1e9;
  return `call_${Date.now().toString(36)}${callCounter.toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** One call's JSON text as a tool call, or null when it is not one (bad JSON, an unknown tool, no argument object). */
function parseCall(json: string, tools: ValidatedTool[], format: ToolCallFormat): ChatCompletionMessageToolCall | null {
  let value: unknown;
  try { value = JSON.parse(json); } catch { return null; }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  const args = v.arguments ?? v.parameters ?? (format === 'llama3' ? undefined : {});
  if (typeof v.name !== 'string' || !tools.some((t) => t.name === v.name)) return null;
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return null;
  return { id: callId(), type: 'function', function: { name: v.name, arguments: JSON.stringify(args) } };
}

/**
 * The model's reply as content and tool calls. Malformed output (bad JSON, an unknown function) is left as plain
 * content: the caller sees what the model wrote, and nothing throws.
 */
export function parseToolCalls(text: string, tools: ValidatedTool[], format: ToolCallFormat): ParsedReply {
  if (format === 'llama3') {
    const body = text.trim().replace(PYTHON_TAG, '').trim();
    if (!body.startsWith('{')) return { content: text, toolCalls: [] };
    // Several calls come separated by ';' or new lines.
    const parts = body.split(/\s*;\s*|\n+(?=\s*\{)/).filter((p) => p.trim() !== '');
    const calls = parts.map((p) => parseCall(p, tools, format));
    if (calls.some((c) => c === null)) return { content: text, toolCalls: [] };
    return { content: null, toolCalls: calls as ChatCompletionMessageToolCall[] };
  }
  const calls: ChatCompletionMessageToolCall[] = [];
  let rest = '';
  let at = 0;
  for (;;) {
    const open = text.indexOf(HERMES_OPEN, at);
    if (open < 0) { rest += text.slice(at); break; }
    const close = text.indexOf(HERMES_CLOSE, open);
    const body = text.slice(open + HERMES_OPEN.length, close < 0 ? text.length : close);
    const call = parseCall(body.trim(), tools, format);
    if (!call) return { content: text, toolCalls: [] };
    calls.push(call);
    rest += text.slice(at, open);
    at = close < 0 ? text.length : close + HERMES_CLOSE.length;
  }
  const content = rest.trim();
  return { content: calls.length > 0 && content === '' ? null : calls.length > 0 ? content : text, toolCalls: calls };
}

/**
 * A stream's text with tools on: content is released as it comes, except what may be the start of a call, which is
 * held; once a call starts, text gathers until the reply ends and is then parsed (calls become deltas, or the text
 * goes out as content when it was malformed).
 */
export class ToolCallStream {
  private held = '';
  private inCall = false;
  private released = '';

  constructor(private readonly tools: ValidatedTool[], private readonly format: ToolCallFormat) {}

  /** Text to send as content now. */
  push(text: string): string {
    if (this.inCall) { this.held += text; return ''; }
    this.held += text;
    const marker = this.format === 'hermes' ? this.held.indexOf(HERMES_OPEN) : this.llamaStart();
    if (marker >= 0) {
      this.inCall = true;
      const before = this.held.slice(0, marker);
      this.held = this.held.slice(marker);
      this.released += before;
      return before;
    }
    // Keep a tail that may be the marker's beginning.
    const keep = this.format === 'hermes' ? partialSuffix(this.held, HERMES_OPEN)
      : this.released.trim() === '' && PYTHON_TAG.startsWith(this.held.trimStart()) ? this.held.length : 0;
    const out = this.held.slice(0, this.held.length - keep);
    this.held = this.held.slice(this.held.length - keep);
    this.released += out;
    return out;
  }

  /** At the end: the rest as content, or the calls as deltas (content then says whatever text they leave). */
  finish(): { content: string; calls: ChatCompletionChunkToolCall[] } {
    if (!this.inCall) { const content = this.held; this.held = ''; return { content, calls: [] }; }
    const parsed = parseToolCalls(this.held, this.tools, this.format);
    if (parsed.toolCalls.length === 0) return { content: this.held, calls: [] };
    const calls: ChatCompletionChunkToolCall[] = parsed.toolCalls.map((c, index) => ({ index, id: c.id, type: 'function', function: { name: c.function.name, arguments: c.function.arguments } }));
    return { content: parsed.content ?? '', calls };
  }

  /** Llama-3 writes a call as the whole reply: a '{' (or <|python_tag|>) before any other text starts one. */
  private llamaStart(): number {
    if (this.released.trim() !== '') return -1;
    const t = this.held.trimStart();
    return t.startsWith('{') || t.startsWith(PYTHON_TAG) ? this.held.length - t.length : -1;
  }
}

/** How many trailing characters of `text` are a proper prefix of `marker`. */
function partialSuffix(text: string, marker: string): number {
  for (let n = Math.min(marker.length - 1, text.length); n > 0; n--) if (marker.startsWith(text.slice(text.length - n))) return n;
  return 0;
}
