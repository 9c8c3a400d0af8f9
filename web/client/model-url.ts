// Turns what a user types as a model (a folder or .gguf URL, a relative path, a Hugging Face repo id) into the URL
// the engine loads. Done on the page: relative URLs must resolve against the page, not the worker's script.
import { ACCEPTED_MODEL_INPUTS, InvalidArgumentError } from '../../engine/protocol.ts';

/** Where hub repositories are fetched from (their `resolve/<revision>/<file>` layout). */
export const HUGGING_FACE_ORIGIN = 'https://huggingface.co';

/** `<org>/<name>` with the characters the hub allows in both parts. */
const HUB_REPO_ID = /^[\w.-]+\/[\w.-]+$/;

export function isHubRepoId(input: string): boolean {
  return HUB_REPO_ID.test(input.trim()) && !input.trim().startsWith('.');
}

/** `scheme:` at the start: an address of its own (http:, ftp:, file:, or `localhost:8000/` read as one). */
const SCHEME = /^[a-z][a-z\d+.-]*:/i;

/**
 * `org/name` -> https://huggingface.co/org/name/resolve/main/ (the main branch); an http(s) URL as given; a path
 * (`/models/x/`, `./x/`, `models/x/`, `model.gguf`) made absolute against `base` (the page's address). Anything else
 * (a word or a sentence typed into the field, another scheme) is refused before any request, with InvalidArgumentError
 * saying what a model may be.
 */
export function resolveModelUrl(input: string, base: string): string {
  const text = input.trim();
  const refuse = (why: string): never => { throw new InvalidArgumentError('model', why, `Enter ${ACCEPTED_MODEL_INPUTS}.`); };
  if (text.length === 0) refuse('no model was given');
  if (isHubRepoId(text)) return `${HUGGING_FACE_ORIGIN}/${text}/resolve/main/`;
  if (SCHEME.test(text)) {
    if (!/^https?:\/\//i.test(text)) {
      refuse(`"${text}" is not an http(s) URL${/^[\w.-]+:\d+(\/|$)/.test(text) ? ' (an address needs http:// or https:// before it)' : ''}`);
    }
    try {
      return new URL(text).href;
    } catch {
      refuse(`"${text}" is not a valid URL`);
    }
  }
  // A path names a folder or a file: it has a '/' or is a .gguf file name; a bare word or sentence is neither.
  if (!text.includes('/') && !/\.gguf$/i.test(text)) refuse(`"${text}" is not a URL, a path or a Hugging Face repo id`);
  return new URL(text, base).href;
}
