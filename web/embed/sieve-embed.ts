// sieve.embed.js (a classic script, built as an IIFE): defines window.Sieve and mounts the chat widget of its tag.
import type { SieveClient } from '../client/index.ts';
import { EmbedRuntime } from './embedded-engine.ts';
import { ChatWidget } from './widget.ts';
import { readWidgetOptions, type WidgetOptions } from './widget-options.ts';

/** What the page sees as window.Sieve. */
export interface SieveGlobal {
  /** A client with web/client's API (load, chat.completions.create, completions.create, interrupt, unload, terminate). */
  createEngine(): SieveClient;
  /** Mounts another chat widget into `target` (the script tag's own widget is mounted from its data- attributes). */
  mountWidget(target: Element, options: Partial<WidgetOptions> & { model: string }): ChatWidget;
}

// Only readable while this script runs for the first time, never later in a callback.
const script = document.currentScript as HTMLScriptElement | null;

function install(): void {
  const existing = (window as { Sieve?: SieveGlobal }).Sieve;
  if (existing || !script?.src) return; // a second copy of the tag adds nothing; a script without src has no origin to use
  const runtime = new EmbedRuntime(script.src);

  const mountWidget: SieveGlobal['mountWidget'] = (target, options) => {
    const full = readWidgetOptions({ model: options.model }) as WidgetOptions;
    const widget = new ChatWidget(runtime.createEngine(), { ...full, ...options });
    target.append(widget.host);
    void widget.start();
    return widget;
  };
  const sieve: SieveGlobal = { createEngine: () => runtime.createEngine(), mountWidget };
  Object.defineProperty(window, 'Sieve', { value: Object.freeze(sieve), enumerable: true });

  const options = readWidgetOptions(script.dataset);
  if (!options) return;
  const mount = () => {
    const widget = new ChatWidget(runtime.createEngine(), options);
    const target = options.target ? document.querySelector(options.target) : null;
    if (options.target && !target) throw new TypeError(`sieve.embed.js: data-target="${options.target}" matches no element.`);
    if (target) target.append(widget.host);
    else if (script.isConnected && script.parentElement && script.parentElement !== document.head) script.after(widget.host);
    else document.body.append(widget.host);
    void widget.start();
  };
  // In <head>, or with data-target pointing further down the page, the place exists only once the page is parsed.
  if (document.readyState === 'loading' && (options.target || !document.body)) document.addEventListener('DOMContentLoaded', mount, { once: true });
  else mount();
}

install();
