// What the page says about an error: its message and, always, what to do about it (the engine's remedy, or the
// page's own for errors that carry none: storage, the browser, a bug).

export interface Explained {
  message: string;
  remedy: string;
}

/** Ends a sentence with a full stop unless it has its own (a message and its remedy then read as two sentences). */
export function sentence(text: string): string {
  const t = text.trim();
  return t.length === 0 || /[.!?…)"']$/.test(t) ? t : `${t}.`;
}

/** `fallbackRemedy`: what to do in the place the error happened, when the error itself does not say. */
export function explain(e: unknown, fallbackRemedy: string): Explained {
  const err = e as { message?: unknown; remedy?: unknown } | null;
  const message = typeof err?.message === 'string' && err.message.length > 0 ? err.message : String(e);
  const remedy = typeof err?.remedy === 'string' && err.remedy.length > 0 ? err.remedy : fallbackRemedy;
  return { message: sentence(message), remedy: sentence(remedy) };
}
