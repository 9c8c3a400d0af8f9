// The chat page's number formats: sizes, durations, rates and the time left of a model download.
import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration, formatRate, timeLeftMs } from './format.ts';

describe('chat page formats', () => {
  it('formats sizes in decimal units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1_234)).toBe('1.23 KB');
    expect(formatBytes(1_049_600)).toBe('1.05 MB');
    expect(formatBytes(269_000_000)).toBe('269 MB');
    expect(formatBytes(-1)).toBe('?');
  });

  it('formats durations, rounding up', () => {
    expect(formatDuration(1)).toBe('1 s');
    expect(formatDuration(59_001)).toBe('1 min 0 s');
    expect(formatDuration(3_725_000)).toBe('1 h 2 min');
  });

  it('formats rates', () => {
    expect(formatRate(0)).toBe('–');
    expect(formatRate(12.345)).toBe('12.3 tok/s');
    expect(formatRate(512.6)).toBe('513 tok/s');
  });

  it('tells the time left at the average rate, or null when it cannot', () => {
    expect(timeLeftMs(250, 1000, 1000)).toBe(3000);
    expect(timeLeftMs(1000, 1000, 1000)).toBe(0);
    expect(timeLeftMs(0, 1000, 1000)).toBeNull();
    expect(timeLeftMs(10, 0, 1000)).toBeNull();
  });
});
