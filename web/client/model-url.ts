// Turns what a user types as a model (a folder or .gguf URL, a relative path, a Hugging Face repo id) into the URL
// the engine loads. Done on the page: relative URLs must resolve against the page, not the worker's script.

/** Where hub repositories are fetched from (their `resolve/<revision>/<file>` layout). */
export const HUGGING_FACE_ORIGIN = 'https://huggingface.co';

/** `<org>/<name>` with the characters the hub allows in both parts. */
const HUB_REPO_ID = /^[\w.-]+\/[\w.-]+$/;

export function isHubRepoId(input: string): boolean {
  return HUB_REPO_ID.test(input.trim()) && !input.trim().startsWith('.');
}

/**
 * `org/name` -> https://huggingface.co/org/name/resolve/main/ (the main branch); anything else is a URL, made absolute
 * against `base` (the page's address). Throws TypeError for an empty input.
 */
export function resolveModelUrl(input: string, base: string): string {
  const text = input.trim();
  if (text.length === 0) throw new TypeError('A model URL or Hugging Face repo id is required.');
  if (isHubRepoId(text)) return `${HUGGING_FACE_ORIGIN}/${text}/resolve/main/`;
  return new URL(text, base).href;
}
