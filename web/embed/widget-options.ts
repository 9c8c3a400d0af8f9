// The chat widget's settings, read from the script tag's data- attributes.

export interface WidgetOptions {
  /** data-model: a model URL (relative ones resolve against Sieve's origin) or a Hugging Face repo id. */
  model: string;
  /** data-attention: an attention spec in the policy grammar, e.g. "h2o:heavy=64,recent=64"; the engine's default when absent. */
  attention?: string;
  /** data-max-tokens: the longest reply, in tokens. */
  maxTokens: number;
  /** data-temperature. */
  temperature?: number;
  /** data-system: a system message that starts every conversation. */
  system?: string;
  /** data-title: the widget's heading. */
  title: string;
  /** data-target: a CSS selector of the element the widget goes into; by default it follows the script tag. */
  target?: string;
  /**
   * data-remote: an OpenAI-compatible server's /v1 URL (a proxy of yours): the widget chats with it from the page,
   * `data-model` naming its model. There is no data-api-key: a key in a page is visible to every visitor.
   */
  remote?: string;
}

/** A reply long enough to answer a question, short enough to keep a small model from rambling. */
export const DEFAULT_MAX_TOKENS = 256;
export const DEFAULT_TITLE = 'Sieve';

function positiveInteger(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new TypeError(`${name}="${text}" must be a positive integer.`);
  return n;
}

/** Null when there is no data-model (the script then only provides window.Sieve); throws TypeError on a bad value. */
export function readWidgetOptions(data: DOMStringMap | Record<string, string | undefined>): WidgetOptions | null {
  if (data.apiKey !== undefined) {
    throw new TypeError('data-api-key is refused: a key in a page is visible to every visitor. Point data-remote at your own proxy that adds the key (README: the remote door).');
  }
  const model = data.model?.trim();
  if (!model) return null;
  const remote = data.remote?.trim() || undefined;
  if (remote !== undefined && !/^https?:\/\//.test(remote)) throw new TypeError(`data-remote="${remote}" must be an http(s) URL ending in /v1.`);
  const temperature = data.temperature === undefined ? undefined : Number(data.temperature);
  if (temperature !== undefined && !(temperature >= 0)) throw new TypeError(`data-temperature="${data.temperature}" must be a number >= 0.`);
  return {
    model,
    attention: data.attention?.trim() || undefined,
    maxTokens: data.maxTokens === undefined ? DEFAULT_MAX_TOKENS : positiveInteger('data-max-tokens', data.maxTokens),
    temperature,
    system: data.system?.trim() || undefined,
    title: data.title?.trim() || DEFAULT_TITLE,
    target: data.target?.trim() || undefined,
    remote,
  };
}
