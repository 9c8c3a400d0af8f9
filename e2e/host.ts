// Helpers for browser tests: open the engine host page and call the engine in its worker.
import { expect, type Page } from '@playwright/test';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

type HostCall = (arg?: unknown) => Promise<Record<string, unknown>>;

export async function openHost(page: Page): Promise<void> {
  if (process.env.SIEVE_DEBUG) page.on('console', (m) => console.log(`[page] ${m.text()}`));
  await page.goto('/web/automation/index.html');
  await page.waitForFunction(() => (window as unknown as { sieveHostReady?: boolean }).sieveHostReady === true);
}

export async function hostCall(page: Page, method: string, arg?: unknown): Promise<Record<string, unknown>> {
  return page.evaluate(([m, a]) => (window as unknown as { sieveHost: Record<string, HostCall> }).sieveHost[m as string](a), [method, arg] as const);
}

/** Calls the host and fails the test with the engine's typed error if there was one. */
export async function hostOk(page: Page, method: string, arg?: unknown): Promise<Record<string, unknown>> {
  const r = await hostCall(page, method, arg);
  expect(r.error, JSON.stringify(r.error)).toBeUndefined();
  return r;
}

export function decodeF32(base64: string): Float32Array {
  const bytes = Buffer.from(base64, 'base64');
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export const SHARED_MODELS = fileURLToPath(new URL('../../shared/models/', import.meta.url));
export const GOLDEN_DIR = fileURLToPath(new URL('../models/golden/', import.meta.url));

export function goldenCases(): string[] {
  return readdirSync(GOLDEN_DIR).filter((d) => existsSync(`${GOLDEN_DIR}${d}/logits.f32`)).sort();
}

export function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

/** stories260K's README "Known output" ids (greedy from BOS). */
export function storiesKnownIds(): number[] {
  const readme = readFileSync(`${SHARED_MODELS}stories260K/README.md`, 'utf8');
  const section = readme.slice(readme.indexOf('## Known output'));
  return section.slice(section.indexOf('Token ids:') + 'Token ids:'.length, section.indexOf('Text (')).trim().split(/\s+/).map(Number);
}
