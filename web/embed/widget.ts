// The chat widget that the script tag mounts: a shadow root on the host page, its engine in Sieve's frame.
import type { ChatCompletionMessageParam, EngineClient, LoadProgress } from '../client/index.ts';
import type { WidgetOptions } from './widget-options.ts';
import widgetCss from './widget.css?raw';

const PHASES: Record<LoadProgress['phase'], string> = {
  fetch: 'Downloading the model',
  parse: 'Reading the model',
  upload: 'Uploading to the GPU',
  compile: 'Compiling',
};
const FINISH_NOTES: Record<string, string> = { abort: 'Stopped', length: 'Reached the length limit' };

/** Error text with the engine's remedy, when it has one. */
function describe(e: unknown): string {
  const err = e as { message?: string; remedy?: string };
  const message = err?.message ?? String(e);
  return err?.remedy ? `${message} ${err.remedy}` : message;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * The DOM is built with createElement and textContent only (no innerHTML: a host page under Trusted Types would
 * refuse it), styled by one constructable stylesheet (no style attributes or <style> elements, which a CSP without
 * 'unsafe-inline' blocks). The shadow root is open so the page's tests and tools can read the widget.
 */
export class ChatWidget {
  readonly host: HTMLElement;
  private readonly root = el('div', 'sieve');
  private readonly log = el('div', 'log');
  private readonly status = el('p', 'status');
  private readonly modelLabel = el('span', 'model');
  private readonly input = el('textarea', 'input');
  private readonly send = el('button', 'send', 'Send');
  private readonly stop = el('button', 'stop', 'Stop');
  private readonly messages: ChatCompletionMessageParam[] = [];
  private generation: AbortController | null = null;

  constructor(private readonly engine: EngineClient, private readonly options: WidgetOptions) {
    this.host = document.createElement('sieve-chat');
    const shadow = this.host.attachShadow({ mode: 'open' });
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(widgetCss);
    shadow.adoptedStyleSheets = [sheet];

    const bar = el('header', 'bar');
    bar.append(el('h2', 'title', options.title), this.modelLabel);
    this.modelLabel.textContent = options.model;
    this.log.setAttribute('role', 'log');
    this.log.setAttribute('aria-live', 'polite');
    this.log.setAttribute('aria-label', `${options.title} conversation`);
    this.status.setAttribute('role', 'status');
    const form = el('form', 'composer');
    this.input.rows = 1;
    this.input.placeholder = 'Ask something (Enter sends)';
    this.input.setAttribute('aria-label', 'Message');
    this.send.type = 'submit';
    this.stop.type = 'button';
    this.stop.hidden = true;
    form.append(this.input, this.send, this.stop);
    this.root.append(bar, this.log, this.status, form);
    this.root.setAttribute('role', 'region');
    this.root.setAttribute('aria-label', options.title);
    shadow.append(this.root);

    form.addEventListener('submit', (e) => { e.preventDefault(); void this.ask(); });
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); void this.ask(); }
    });
    this.stop.addEventListener('click', () => this.generation?.abort());
    if (options.system) this.messages.push({ role: 'system', content: options.system });
    this.setState('loading');
  }

  /** Loads the model; the widget takes messages once it is in. */
  async start(): Promise<void> {
    this.showStatus('Starting the engine…');
    try {
      const info = await this.engine.load(this.options.model, { onProgress: (p) => this.showProgress(p) });
      this.modelLabel.title = `${info.architecture}, ${info.source}`;
      this.showStatus('Ready');
      this.setState('ready');
    } catch (e) {
      this.showStatus(`Could not load the model: ${describe(e)}`, 'error');
      this.setState('error');
    }
  }

  private async ask(): Promise<void> {
    const text = this.input.value.trim();
    if (!text || this.root.dataset.state !== 'ready') return;
    this.input.value = '';
    this.messages.push({ role: 'user', content: text });
    this.log.append(el('p', 'msg user', text));
    const reply = el('p', 'msg assistant');
    const content = el('span', 'content');
    reply.append(content);
    this.log.append(reply);
    this.setState('generating');
    this.showStatus('');
    const generation = new AbortController();
    this.generation = generation;
    let finish: string | null = null;
    try {
      const stream = await this.engine.chat.completions.create({
        messages: this.messages,
        stream: true,
        max_tokens: this.options.maxTokens,
        ...(this.options.temperature !== undefined ? { temperature: this.options.temperature } : {}),
        ...(this.options.attention ? { attention: this.options.attention } : {}),
      }, { signal: generation.signal });
      for await (const chunk of stream) {
        const choice = chunk.choices[0];
        if (choice?.delta.content) {
          content.textContent += choice.delta.content;
          this.log.scrollTop = this.log.scrollHeight;
        }
        if (choice?.finish_reason) finish = choice.finish_reason;
      }
      this.messages.push({ role: 'assistant', content: content.textContent ?? '' });
      if (finish) {
        reply.dataset.finish = finish;
        const note = FINISH_NOTES[finish];
        if (note) reply.append(el('span', 'note', note));
      }
    } catch (e) {
      // The user's message stays in the log but not in the history: the next question is not asked twice.
      this.messages.pop();
      reply.dataset.finish = 'error';
      this.showStatus(describe(e), 'error');
    } finally {
      this.generation = null;
      this.setState('ready');
    }
  }

  private setState(state: 'loading' | 'ready' | 'generating' | 'error'): void {
    this.root.dataset.state = state;
    this.send.hidden = state === 'generating';
    this.stop.hidden = state !== 'generating';
    this.send.disabled = state !== 'ready';
    this.input.disabled = state === 'loading' || state === 'error';
  }

  private showProgress(p: LoadProgress): void {
    const label = PHASES[p.phase] ?? p.phase;
    const percent = p.totalBytes > 0 ? ` ${Math.floor((100 * Math.min(p.loadedBytes, p.totalBytes)) / p.totalBytes)}%` : '';
    this.showStatus(`${label}…${percent}`);
  }

  private showStatus(text: string, kind: 'info' | 'error' = 'info'): void {
    this.status.textContent = text;
    this.status.dataset.kind = kind;
  }
}
