// sieve.embed.js (a classic script, built as an IIFE): defines window.Sieve and mounts the chat widget of its tag.
import type { SieveClient } from '../client/index.ts';
import { RemoteEngine } from '../client/remote-engine.ts';
import { EmbedRuntime } from './embedded-engine.ts';
import { ChatWidget } from './widget.ts';
import { readWidgetOptions } from './widget-options.ts';

/** What the page sees as window.Sieve. */
export interface SieveGlobal {
  /**
   * A client with web/client's API (load, chat.completions.create, completions.create, interrupt, unload, terminate);
   * with {remote}, the same API spoken to an OpenAI-compatible server from the page (never with an API key).
   */
  createEngine(options?: { remote?: string }): SieveClient | RemoteEngine;
}

/** window.Sieve.createEngine({remote}): no apiKey in a page, whatever the caller passes. */
function remoteEngine(options: { remote: string; apiKey?: unknown }): RemoteEngine {
  if (options.apiKey !== undefined) throw new TypeError('apiKey is refused in a page (every visitor could read it): point remote at your own proxy that adds the key.');
  return new RemoteEngine({ remote: options.remote });
}

// Only readable while this script runs for the first time, never later in a callback.
const script = document.currentScript as HTMLScriptElement | null;

function install(): void {
  if (!script?.src) return; // inlined into a page, the script has no origin of its own to load the frame from
  // A second tag on the page (a second widget) reuses the first one's window.Sieve and so its frame.
  let sieve = (window as { Sieve?: SieveGlobal }).Sieve;
  if (!sieve) {
    const runtime = new EmbedRuntime(script.src);
    sieve = Object.freeze({
      createEngine: (options?: { remote?: string }) => (options?.remote ? remoteEngine(options as { remote: string }) : runtime.createEngine()),
    });
    Object.defineProperty(window, 'Sieve', { value: sieve, enumerable: true });
  }
  const engines = sieve;

  const options = readWidgetOptions(script.dataset);
  if (!options) return;
  const mount = () => {
    const target = options.target ? document.querySelector(options.target) : null;
    if (options.target && !target) throw new TypeError(`sieve.embed.js: data-target="${options.target}" matches no element.`);
    const widget = new ChatWidget(engines.createEngine(options.remote ? { remote: options.remote } : undefined), options);
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
