// Which model the chat page loads by default: the last one loaded here when this browser keeps it (so an installed app
// opens offline with no request), else the project's own model, else a shared test model.

/** The project's own model (models/<name>/, served by Vite under /models/). Preferred when its config.json exists. */
export const PROJECT_MODEL_URL = '/models/sieve-tiny/';
/** What proves the project model is present. */
const PROJECT_MODEL_PROBE = `${PROJECT_MODEL_URL}config.json`;
/**
 * When the project's model is not served: stories260K (Karpathy's llama2.c TinyStories model, 260K parameters,
 * GGUF), from ../shared/models/, which Vite serves under /shared-models/.
 */
export const FALLBACK_MODEL_URL = '/shared-models/stories260K/stories260K.gguf';

/** localStorage key of the model last loaded on this page (its URL, as given to the engine). */
export const LAST_MODEL_KEY = 'sieve:last-model';

async function exists(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { method: 'HEAD', cache: 'no-store' });
    // A dev or preview server answers unknown paths with the app's index.html (200): that is not a model file.
    return r.ok && !(r.headers.get('content-type') ?? '').startsWith('text/html');
  } catch {
    return false; // offline, or the server is gone
  }
}

export interface DefaultModelSources {
  /** Whether the browser's model store holds all of a model's files (EngineClient.isModelCached). */
  isCached(url: string): Promise<boolean>;
  /** The model last loaded on this page, if any. */
  lastLoaded: string | null;
}

/**
 * The default model's URL, or null when none is kept nor served (the page then says how to load one). Kept models
 * come first and need no request, so the page works offline; only when none is kept does it ask the server.
 */
export async function findDefaultModel(sources: DefaultModelSources): Promise<string | null> {
  const candidates = [sources.lastLoaded, PROJECT_MODEL_URL, FALLBACK_MODEL_URL].filter((u): u is string => !!u);
  for (const url of candidates) {
    if (await sources.isCached(url).catch(() => false)) return url;
  }
  if (await exists(PROJECT_MODEL_PROBE)) return PROJECT_MODEL_URL;
  if (await exists(FALLBACK_MODEL_URL)) return FALLBACK_MODEL_URL;
  return null;
}
