// Loads @mlc-ai/web-xgrammar (the grammar engine WebLLM uses: JSON Schema / EBNF / regex to per-token bitmasks).
// The package is one UMD file with its wasm inside, published as "type": "module" although it is a script: under a
// bundler (the page's worker) importing it either gives its exports or sets globalThis.xgrammar; in Node its
// emscripten glue needs CommonJS's require and __filename, so the file is run as a CommonJS module.
import type * as Xgrammar from '@mlc-ai/web-xgrammar';

export type XgrammarModule = typeof Xgrammar;

let loading: Promise<XgrammarModule> | null = null;

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string' && typeof window === 'undefined'
  && typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope === 'undefined';

function hasApi(x: unknown): x is XgrammarModule {
  return typeof (x as Partial<XgrammarModule> | undefined)?.GrammarCompiler === 'function';
}

async function loadInNode(): Promise<XgrammarModule> {
  // Named through a variable so page bundlers leave the Node builtins alone.
  const moduleName = 'node:module';
  const fsName = 'node:fs';
  const { createRequire } = await import(/* @vite-ignore */ moduleName) as typeof import('node:module');
  const { readFileSync } = await import(/* @vite-ignore */ fsName) as typeof import('node:fs');
  const require = createRequire(import.meta.url);
  const file = require.resolve('@mlc-ai/web-xgrammar');
  const module = { exports: {} as Record<string, unknown> };
  // The glue's own `await import('module')` is answered by require: code made by new Function has no module
  // context to import from under every runner (Vitest's vm has none).
  const source = readFileSync(file, 'utf8').replaceAll("import('module')", "__sieveImport('module')");
  const sieveImport = (name: string) => Promise.resolve(require(name));
  new Function('exports', 'module', 'require', '__filename', '__sieveImport', source)(module.exports, module, require, file, sieveImport);
  return module.exports as unknown as XgrammarModule;
}

async function loadInBrowser(): Promise<XgrammarModule> {
  const ns = await import('@mlc-ai/web-xgrammar') as unknown as { default?: unknown };
  const found = [ns, ns.default, (globalThis as { xgrammar?: unknown }).xgrammar].find(hasApi);
  if (!found) throw new Error('@mlc-ai/web-xgrammar loaded without its API (GrammarCompiler)');
  return found;
}

/** What xgrammar's C++ printed while a capture ran (its errors: "[FATAL] file:line: message"). */
let captured: string[] | null = null;

/**
 * xgrammar reports a bad schema, grammar or regex by printing "[FATAL] ...: message" to stderr and aborting, so the
 * JS error says only "Aborted()". Its stderr is console.error bound when the wasm starts; starting it under a wrapper
 * of console.error lets captureErrors() hear the message.
 */
async function startWithErrorCapture(x: XgrammarModule): Promise<XgrammarModule> {
  const original = console.error;
  console.error = (...args: unknown[]) => {
    if (captured) captured.push(args.map(String).join(' '));
    else original.apply(console, args);
  };
  try {
    (await x.Grammar.builtinJSONGrammar()).dispose();
  } finally {
    console.error = original;
  }
  return x;
}

/** The xgrammar module, loaded once per realm. */
export function loadXgrammar(): Promise<XgrammarModule> {
  loading ??= (isNode ? loadInNode() : loadInBrowser()).then(startWithErrorCapture).catch((e) => { loading = null; throw e; });
  return loading;
}

/** Runs an xgrammar call; when it fails, the error carries xgrammar's own message (the last "[FATAL]" line it printed). */
export async function withXgrammarErrors<T>(run: () => Promise<T>): Promise<T> {
  const lines: string[] = [];
  captured = lines;
  try {
    return await run();
  } catch (e) {
    const fatal = lines.filter((l) => l.includes('[FATAL]')).pop();
    const message = fatal ? fatal.replace(/^.*\[FATAL\]\s*\S+?:\d+:\s*/, '') : String((e as Error)?.message ?? e);
    throw new Error(message);
  } finally {
    captured = null;
  }
}
