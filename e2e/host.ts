// Helpers for browser tests: open the engine host page and call the engine in its worker.
import { expect, type Page } from '@playwright/test';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

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

// ---- Helpers for the reference, CLI and bad-input specs (appended). ----

export const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));

/** A golden case's 300 token ids. */
export function goldenIds(name: string): number[] {
  return JSON.parse(readFileSync(`${GOLDEN_DIR}${name}/ids.json`, 'utf8')) as number[];
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/sieve.js <args>` from the repository root, as a user would, and waits for it. */
export function runSieve(args: string[], timeoutMs = 240_000): CliResult {
  const r = spawnSync(process.execPath, ['bin/sieve.js', ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The `{"error": {...}}` object that the CLI prints as its last stderr line on failure. */
export function cliError(stderr: string): Record<string, unknown> {
  const last = stderr.trim().split('\n').pop() ?? '';
  const parsed = JSON.parse(last) as { error?: Record<string, unknown> };
  expect(parsed.error, `stderr was: ${stderr}`).toBeDefined();
  return parsed.error as Record<string, unknown>;
}

/** Max |a - b| over rows [0, rows) of two [n, vocab] row-major logit arrays. */
export function maxAbsDiffRows(a: Float32Array, b: Float32Array, rows: number, vocab: number): number {
  expect(a.length).toBeGreaterThanOrEqual(rows * vocab);
  expect(b.length).toBeGreaterThanOrEqual(rows * vocab);
  let m = 0;
  for (let i = 0; i < rows * vocab; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
