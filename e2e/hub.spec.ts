// Hub loading in Chromium against tools/hub-server.ts: progress, 404, a cut download resumed (in one load and after a
// reload, from the bytes kept in OPFS), a corrupted file caught by its sha256, a second visit with zero requests, the
// chat page's catalog picker. (The quota check is unit-tested with a forced small quota: Chromium ignores DevTools'
// quota override in the incognito contexts Playwright opens.)
import { expect, test, type Page } from '@playwright/test';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { startHubServer, type HubServer } from '../tools/hub-server.ts';
import { hostCall, openHost } from './host.ts';

const GOLDEN_QWEN2 = fileURLToPath(new URL('../models/golden/qwen2/', import.meta.url));
const SIEVE_TINY = fileURLToPath(new URL('../models/sieve-tiny/', import.meta.url));
const REPO = 'sieve-test/qwen2';
const SHARD = 'model-00001-of-00003.safetensors';
const SHARD_BYTES = 107688;
/** engine/hub/download.ts MAX_ATTEMPTS: cutting this many responses in a row fails one load. */
const MAX_ATTEMPTS = 4;
/** The catalog's SmolLM2-135M repo, served from sieve-tiny's folder: the picker test loads it through `?hub=`. */
const PICKER_REPO = 'HuggingFaceTB/SmolLM2-135M-Instruct';
/** The catalog's gated Llama 3.2 repo, also served from sieve-tiny's folder, behind a token. */
const GATED_REPO = 'meta-llama/Llama-3.2-1B-Instruct';
const TOKEN = 'hf_test_token';

interface Progress { phase: string; file?: string; loadedBytes: number; totalBytes: number; timeLeftMs?: number | null; fromCache?: boolean; resumedFrom?: number }
interface LoadResult { info?: Record<string, unknown>; error?: { code: string; message: string; details?: Record<string, unknown> }; progress?: Progress[] }

/** sieve-tiny's config with a 2M-token vocabulary: a 2 GB f32 embedding, over the software adapter's 1 GiB binding limit. */
const TOO_BIG_REPO = 'sieve-test/too-big';
const TOO_BIG_VOCAB = 2_000_000;

let hub: HubServer;
let tooBig = '';
test.beforeAll(async () => {
  tooBig = mkdtempSync(`${tmpdir()}/sieve-hub-too-big-`);
  const config = JSON.parse(readFileSync(`${SIEVE_TINY}config.json`, 'utf8')) as Record<string, unknown>;
  writeFileSync(`${tooBig}/config.json`, JSON.stringify({ ...config, vocab_size: TOO_BIG_VOCAB }));
  hub = await startHubServer({ [REPO]: GOLDEN_QWEN2, [PICKER_REPO]: SIEVE_TINY, [GATED_REPO]: SIEVE_TINY, [TOO_BIG_REPO]: tooBig });
});
test.afterAll(async () => {
  await hub.close();
  rmSync(tooBig, { recursive: true, force: true });
});
test.beforeEach(() => hub.reset());

async function load(page: Page, extra: Record<string, unknown> = {}): Promise<LoadResult> {
  return await hostCall(page, 'load', { url: hub.modelUrl(REPO), cache: true, progress: true, ...extra }) as LoadResult;
}

const gets = () => hub.requests.filter((r) => r.method === 'GET');
const cdnGets = (file: string) => gets().filter((r) => r.path.startsWith('/__cdn/') && r.path.endsWith(file));

test('progress while downloading, then a second visit loads from OPFS with zero requests', async ({ page }) => {
  await openHost(page);
  hub.switches.bytesPerSecond = 150_000; // the shard takes about 0.7 s: several progress events with a time left
  const first = await load(page);
  expect(first.error, JSON.stringify(first.error)).toBeUndefined();
  expect(first.info?.architecture).toBe('qwen2');
  const shard = first.progress!.filter((p) => p.phase === 'fetch' && p.file === SHARD);
  expect(shard.length).toBeGreaterThan(3);
  expect(shard.at(-1)).toMatchObject({ loadedBytes: SHARD_BYTES, totalBytes: SHARD_BYTES, fromCache: false });
  for (let i = 1; i < shard.length; i++) expect(shard[i].loadedBytes).toBeGreaterThanOrEqual(shard[i - 1].loadedBytes);
  expect(shard.some((p) => typeof p.timeLeftMs === 'number' && p.timeLeftMs > 0)).toBe(true);
  expect(gets().length).toBeGreaterThan(0);

  await page.reload();
  await openHost(page);
  hub.reset();
  const second = await load(page);
  expect(second.error, JSON.stringify(second.error)).toBeUndefined();
  expect(hub.requests).toHaveLength(0);
  expect(second.progress!.filter((p) => p.phase === 'fetch').every((p) => p.fromCache)).toBe(true);
  expect((await hostCall(page, 'cachedModels')).models).toContain(hub.modelUrl(REPO).replace(/\/$/, ''));
});

test('a missing file is a typed error naming it', async ({ page }) => {
  await openHost(page);
  hub.switches.notFound.add(`${REPO}/config.json`);
  const r = await load(page);
  expect(r.error?.code).toBe('MODEL_FETCH_FAILED');
  expect(r.error?.message).toContain(`${hub.modelUrl(REPO)}config.json`);
  expect(r.error?.message).toContain('not found');
});

test('a model too big for the adapter fails with BUFFER_LIMIT before any weight is requested', async ({ page }) => {
  await openHost(page);
  const r = await hostCall(page, 'load', { url: hub.modelUrl(TOO_BIG_REPO), cache: true }) as LoadResult;
  expect(r.error?.code).toBe('BUFFER_LIMIT');
  expect(r.error?.details).toMatchObject({ bytes: TOO_BIG_VOCAB * 256 * 4 });
  expect(gets().map((g) => g.path.split('/').pop())).not.toContain('model.safetensors');
  expect(gets().map((g) => g.path.split('/').pop())).toContain('config.json');
});

test('a download cut midway resumes with a Range request and verifies', async ({ page }) => {
  await openHost(page);
  hub.switches.truncate.set(`${REPO}/${SHARD}`, { atBytes: 40_000, times: 1 });
  const r = await load(page);
  expect(r.error, JSON.stringify(r.error)).toBeUndefined();
  const shardGets = cdnGets(SHARD);
  expect(shardGets.map((g) => g.status)).toEqual([200, 206]);
  expect(shardGets[1].range).toMatch(/^bytes=[1-9]\d*-$/);
  expect(shardGets[1].ifRange).toMatch(/^"[0-9a-f]{64}"$/);
});

test('a load that fails after repeated cuts keeps the bytes; the next visit resumes from them', async ({ page }) => {
  await openHost(page);
  hub.switches.truncate.set(`${REPO}/${SHARD}`, { atBytes: 25_000, times: MAX_ATTEMPTS });
  const failed = await load(page);
  expect(failed.error?.code).toBe('MODEL_FETCH_FAILED');
  expect(failed.error?.message).toMatch(/loading again resumes/);

  // What the failed load had stored (a cut may deliver nothing: later attempts can add 0 bytes).
  const kept = failed.progress!.filter((p) => p.phase === 'fetch' && p.file === SHARD).at(-1)!.loadedBytes;
  expect(kept).toBeGreaterThanOrEqual(25_000);
  await page.reload();
  await openHost(page);
  hub.reset();
  const r = await load(page);
  expect(r.error, JSON.stringify(r.error)).toBeUndefined();
  const resumed = cdnGets(SHARD);
  expect(resumed).toHaveLength(1);
  const from = Number(/^bytes=(\d+)-$/.exec(resumed[0].range ?? '')?.[1]);
  expect(from).toBe(kept);
  expect(resumed[0].status).toBe(206);
  expect(r.progress!.filter((p) => p.phase === 'fetch' && p.file === SHARD).at(-1)).toMatchObject({ loadedBytes: SHARD_BYTES, resumedFrom: from });
});

test('a corrupted file fails its sha256 check with a typed error; the next load fetches it whole', async ({ page }) => {
  await openHost(page);
  hub.switches.corrupt.add(`${REPO}/${SHARD}`);
  const r = await load(page);
  expect(r.error?.code).toBe('INTEGRITY_CHECK_FAILED');
  expect(r.error?.details).toMatchObject({ check: 'sha256' });
  hub.reset();
  const again = await load(page);
  expect(again.error, JSON.stringify(again.error)).toBeUndefined();
  expect(cdnGets(SHARD).map((g) => g.range)).toEqual([null]); // the bad copy was deleted, not resumed
});

test('chat page: the catalog picker lists the catalog and loads a hub model with progress', async ({ page }) => {
  if (process.env.SIEVE_DEBUG) page.on('console', (m) => console.log(`[page] ${m.text()}`));
  await page.route(/\/(shared-models\/stories260K\/|models\/sieve-tiny\/)/, (route) => route.fulfill({ status: 404, body: 'not found' }));
  await page.goto(`/?hub=${encodeURIComponent(hub.origin)}`);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 60_000 });
  const picker = page.getByLabel('Catalog');
  await expect(picker.locator('option')).toHaveCount(9); // a prompt and the 8 catalog models
  await expect(picker).toContainText('SmolLM2 135M Instruct');
  await expect(picker).toContainText('Llama 3.2 1B Instruct (gated)');

  await picker.selectOption('smollm2-135m-instruct');
  await expect(page.getByLabel('Model', { exact: true })).toHaveValue(hub.modelUrl(PICKER_REPO));

  // The picker's model (sieve-tiny's files under SmolLM2's repo name) downloads slowly: bytes and time left show.
  hub.switches.bytesPerSecond = 4_000_000;
  await page.getByRole('button', { name: 'Load' }).click();
  await expect(page.getByRole('status')).toContainText(/Downloading model\.safetensors · .* of 18\.9 MB · about \d+ s left/, { timeout: 60_000 });
  await expect(page.getByRole('status')).toContainText('Loaded', { timeout: 120_000 });
  expect(gets().every((r) => r.path.includes(PICKER_REPO))).toBe(true);
});

test('chat page: the default model goes through the model store; a reload reads it from OPFS', async ({ page }) => {
  const modelGets: string[] = [];
  page.on('request', (r) => { if (r.method() === 'GET' && r.url().includes('/models/sieve-tiny/')) modelGets.push(r.url()); });
  await page.goto('/');
  await expect(page.locator('body')).toHaveAttribute('data-model', /sieve-tiny/, { timeout: 120_000 });
  await expect(page.getByRole('status')).toContainText('Loaded');
  expect(modelGets.map((u) => u.split('/').pop()).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
  await expect(page.getByLabel('Catalog')).toHaveValue('sieve-tiny');

  modelGets.length = 0;
  await page.reload();
  await expect(page.getByRole('status')).toContainText('Loaded', { timeout: 120_000 });
  expect(modelGets).toEqual([]); // only the HEAD probe for config.json reached the server
});

test('chat page: a gated catalog model asks for a token; without it the load says so, with it the model loads', async ({ page }) => {
  await page.route(/\/(shared-models\/stories260K\/|models\/sieve-tiny\/)/, (route) => route.fulfill({ status: 404, body: 'not found' }));
  hub.switches.gated.set(GATED_REPO, TOKEN);
  await page.goto(`/?hub=${encodeURIComponent(hub.origin)}`);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 60_000 });
  const token = page.getByLabel('Hugging Face access token');
  await expect(token).toBeHidden();
  await page.getByLabel('Catalog').selectOption('llama-3.2-1b-instruct');
  await expect(token).toBeVisible();
  await page.getByRole('button', { name: 'Load' }).click();
  await expect(page.locator('#notice')).toContainText('access denied (no access token was given)', { timeout: 60_000 });
  await expect(page.locator('#notice')).toContainText('accept its license');

  await token.fill(TOKEN);
  await page.getByRole('button', { name: 'Load' }).click();
  await expect(page.getByRole('status')).toContainText('Loaded', { timeout: 120_000 });
  const resolveGets = gets().filter((r) => r.path.includes('/resolve/'));
  expect(resolveGets.filter((r) => r.status === 401)).toHaveLength(1);
  expect(resolveGets.filter((r) => r.status !== 401).every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
});

test('a catalog model loads in the weight format its entry needs to fit a tab, unless the caller picks one', async ({ page }) => {
  await openHost(page);
  hub.switches.gated.set(GATED_REPO, TOKEN);
  const url = hub.modelUrl(GATED_REPO);
  const byCatalog = await hostCall(page, 'load', { url, catalogId: 'llama-3.2-1b-instruct', accessToken: TOKEN }) as LoadResult;
  expect(byCatalog.error, JSON.stringify(byCatalog.error)).toBeUndefined();
  expect(byCatalog.info?.quantization).toBe('int4');
  const chosen = await hostCall(page, 'load', { url, catalogId: 'llama-3.2-1b-instruct', accessToken: TOKEN, quantization: 'f32' }) as LoadResult;
  expect(chosen.info?.quantization).toBe('f32');
});
