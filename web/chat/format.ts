// Numbers as the chat page shows them: byte sizes, durations, rates, and the time left of a download.

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

/** Decimal units (1 KB = 1000 B), as browsers' download UIs show sizes. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '?';
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) { value /= 1000; unit += 1; }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function formatRate(tokensPerSecond: number): string {
  if (!Number.isFinite(tokensPerSecond) || tokensPerSecond <= 0) return '–';
  return `${tokensPerSecond >= 100 ? tokensPerSecond.toFixed(0) : tokensPerSecond.toFixed(1)} tok/s`;
}

/**
 * Milliseconds left at the average rate so far, or null while it cannot be told (nothing loaded yet, no total,
 * or too early for a steady rate).
 */
export function timeLeftMs(loaded: number, total: number, elapsedMs: number): number | null {
  if (total <= 0 || loaded <= 0 || elapsedMs <= 0 || loaded > total) return null;
  return (elapsedMs * (total - loaded)) / loaded;
}
