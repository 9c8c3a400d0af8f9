// Which model the chat page loads by default: the project's own model when it is there, else a shared test model.

/** The project's own model (models/<name>/, served by Vite under /models/). Preferred when its config.json exists. */
export const PROJECT_MODEL_URL = '/models/sieve-tiny/';
/** What proves the project model is present. */
const PROJECT_MODEL_PROBE = `${PROJECT_MODEL_URL}config.json`;
/**
 * Until the project has its own model: stories260K (Karpathy's llama2.c TinyStories model, 260K parameters, GGUF),
 * from ../shared/models/, which Vite serves under /shared-models/.
 */
export const FALLBACK_MODEL_URL = '/shared-models/stories260K/stories260K.gguf';

async function exists(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { method: 'HEAD', cache: 'no-store' });
    // A dev or preview server answers unknown paths with the app's index.html (200): that is not a model file.
    return r.ok && !(r.headers.get('content-type') ?? '').startsWith('text/html');
  } catch {
    return false;
  }
}

/** The default model's URL, or null when neither is served (the page then says how to load one). */
export async function findDefaultModel(): Promise<string | null> {
  if (await exists(PROJECT_MODEL_PROBE)) return PROJECT_MODEL_URL;
  if (await exists(FALLBACK_MODEL_URL)) return FALLBACK_MODEL_URL;
  return null;
}
