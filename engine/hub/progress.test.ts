// Progress math: rate over a recent window, time left, and what happens when a download restarts.
import { describe, expect, it } from 'vitest';
import { MIN_RATE_SPAN_MS, RateMeter, timeLeftMs } from './progress.ts';

describe('timeLeftMs', () => {
  it('is remaining bytes over the rate, null while the rate is unknown', () => {
    expect(timeLeftMs(1000, 500)).toBe(2000);
    expect(timeLeftMs(0, 500)).toBe(0);
    expect(timeLeftMs(1000, 0)).toBeNull();
    expect(timeLeftMs(1000, NaN)).toBeNull();
  });
});

describe('RateMeter', () => {
  it('measures the rate over its window and predicts the time left', () => {
    const m = new RateMeter(1000);
    for (let t = 0; t <= 2000; t += 100) m.sample(t, t * 10); // 10 bytes/ms = 10 kB/s
    expect(m.bytesPerSecond()).toBeCloseTo(10_000, 6);
    expect(m.timeLeftMs(30_000)).toBeCloseTo(1000, 6); // 10,000 bytes left at 10 kB/s
  });
  it('follows a connection that slows down (the window forgets the fast start)', () => {
    const m = new RateMeter(1000);
    let bytes = 0;
    for (let t = 0; t <= 3000; t += 100) { m.sample(t, bytes); bytes += t < 1500 ? 10_000 : 100; }
    expect(m.bytesPerSecond()).toBeCloseTo(1000, 6); // 100 bytes per 100 ms at the end
  });
  it('says nothing until enough time passed, and restarts after a drop to fewer bytes', () => {
    const m = new RateMeter(1000);
    m.sample(0, 0);
    m.sample(MIN_RATE_SPAN_MS - 1, 5000);
    expect(m.bytesPerSecond()).toBe(0);
    expect(m.timeLeftMs(10_000)).toBeNull();
    m.sample(1000, 8000);
    expect(m.bytesPerSecond()).toBe(8000);
    m.sample(1100, 0); // the server restarted the file from byte 0
    expect(m.bytesPerSecond()).toBe(0);
    expect(m.timeLeftMs(0)).toBeNull();
  });
});
