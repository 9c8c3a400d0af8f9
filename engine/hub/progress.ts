// Download progress: bytes, total and time left, from a rate measured over a recent window (not since the start,
// so a resumed or throttled download shows what the connection does now).

/**
 * The rate is measured over the last RATE_WINDOW_MS of samples: long enough to smooth chunk bursts (a network
 * chunk is 16-64 KiB), short enough to follow a connection that slows down or recovers.
 */
export const RATE_WINDOW_MS = 5000;
/** Below this much measured time the rate is noise: no time left is shown. */
export const MIN_RATE_SPAN_MS = 250;

export interface DownloadProgress {
  file: string;
  /** Bytes of this file present (kept from earlier attempts plus arrived now). */
  loadedBytes: number;
  /** The file's size (0 when unknown). */
  totalBytes: number;
  /** Bytes per second over the recent window (0 until measurable). */
  bytesPerSecond: number;
  /** Milliseconds left at that rate; null while unknown. */
  timeLeftMs: number | null;
  /** Read from the browser's cache, no network. */
  fromCache: boolean;
  /** Bytes kept from an interrupted download that this one resumed after (0 when it started fresh). */
  resumedFrom: number;
}

/** Milliseconds left for `remaining` bytes at `bytesPerSecond`; null when the rate is unknown. */
export function timeLeftMs(remaining: number, bytesPerSecond: number): number | null {
  if (!(bytesPerSecond > 0) || remaining < 0) return null;
  return (remaining / bytesPerSecond) * 1000;
}

/** Tracks one file's bytes over time. Feed it (time, bytes present) samples; read rate and time left. */
export class RateMeter {
  private samples: { t: number; bytes: number }[] = [];

  constructor(private readonly windowMs = RATE_WINDOW_MS) {}

  /** Records that `bytes` were present at time `t` (ms, monotonic). A drop (restart from 0) clears the history. */
  sample(t: number, bytes: number): void {
    const last = this.samples[this.samples.length - 1];
    if (last && bytes < last.bytes) this.samples = [];
    this.samples.push({ t, bytes });
    // Keep one sample older than the window so the window is always fully covered.
    while (this.samples.length > 2 && this.samples[1].t <= t - this.windowMs) this.samples.shift();
  }

  bytesPerSecond(): number {
    if (this.samples.length < 2) return 0;
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const span = last.t - first.t;
    if (span < MIN_RATE_SPAN_MS) return 0;
    return ((last.bytes - first.bytes) * 1000) / span;
  }

  /** Time left for a file of `total` bytes (null when the total or the rate is unknown). */
  timeLeftMs(total: number): number | null {
    const last = this.samples[this.samples.length - 1];
    if (!last || total <= 0) return null;
    return timeLeftMs(Math.max(0, total - last.bytes), this.bytesPerSecond());
  }
}
