// Cached hub downloads in Node against tools/hub-server.ts (a real HTTP server in the hub's layout), stored in memory.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IntegrityError, ModelAccessError, ModelFetchError, StorageQuotaError } from '../errors/index.ts';
import { loadFromSource } from '../model/index.ts';
import { startHubServer, type HubServer } from '../../tools/hub-server.ts';
import { findCatalogModel } from './catalog.ts';
import { fetchToStore } from './download.ts';
import type { DownloadProgress } from './progress.ts';
import { openCachedModelSource } from './source.ts';
import { MemoryModelStorage } from './store.ts';

const GOLDEN_QWEN2 = fileURLToPath(new URL('../../models/golden/qwen2/', import.meta.url));
const SIEVE_TINY = fileURLToPath(new URL('../../models/sieve-tiny/', import.meta.url));
const REPO = 'sieve-test/qwen2';
const SHARD = 'model-00001-of-00003.safetensors';
const SHARD_BYTES = 107688;
const FAST = { retryDelayMs: 1 };

let hub: HubServer;
beforeAll(async () => { hub = await startHubServer({ [REPO]: GOLDEN_QWEN2, 'sieve-test/tiny': SIEVE_TINY, 'gated/tiny': SIEVE_TINY }); });
afterAll(async () => { await hub.close(); });
beforeEach(() => hub.reset());

const gets = () => hub.requests.filter((r) => r.method === 'GET');

describe('cached hub source', () => {
  it('downloads a sharded checkpoint with progress, verifies it, and loads it again with zero requests', async () => {
    const storage = new MemoryModelStorage();
    const events: DownloadProgress[] = [];
    const source = await openCachedModelSource(hub.modelUrl(REPO), { storage, onProgress: (p) => events.push(p), ...FAST });
    const model = await loadFromSource(source);
    await source.markComplete();
    expect(model.config.architecture).toBe('qwen2');
    const shardEvents = events.filter((e) => e.file === SHARD);
    expect(shardEvents.at(-1)).toMatchObject({ loadedBytes: SHARD_BYTES, totalBytes: SHARD_BYTES, fromCache: false });
    // LFS files went through the hub's redirect to the CDN path; tokenizer files are absent (404).
    expect(gets().some((r) => r.status === 302 && r.path.endsWith(SHARD))).toBe(true);
    expect(gets().filter((r) => r.status === 404).map((r) => r.path.split('/').pop()).sort())
      .toEqual(['model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    const store = await storage.open(hub.modelUrl(REPO).replace(/\/$/, ''));
    expect((await store.getMeta(SHARD))?.verified).toBe('sha256');
    expect((await store.getMeta('config.json'))?.verified).toBe('git-sha1');

    hub.reset();
    const again = await openCachedModelSource(hub.modelUrl(REPO), { storage, onProgress: (p) => events.push(p) });
    const second = await loadFromSource(again);
    expect(hub.requests).toHaveLength(0);
    expect(second.weights.get('model.norm.weight').data).toEqual(model.weights.get('model.norm.weight').data);
    expect(events.at(-1)?.fromCache).toBe(true);
  });

  it('answers a 404 as absent, and a missing config.json fails the load with ModelFetchError', async () => {
    hub.switches.notFound.add(`${REPO}/config.json`);
    const source = await openCachedModelSource(hub.modelUrl(REPO), { storage: new MemoryModelStorage(), ...FAST });
    await expect(loadFromSource(source)).rejects.toThrow(ModelFetchError);
    await expect(loadFromSource(source)).rejects.toMatchObject({ code: 'MODEL_FETCH_FAILED', details: { status: 'not found' } });
  });

  it('resumes a download cut midway with a Range request and verifies the joined file', async () => {
    hub.switches.truncate.set(`${REPO}/${SHARD}`, { atBytes: 50_000, times: 1 });
    const storage = new MemoryModelStorage();
    const events: DownloadProgress[] = [];
    const bytes = await fetchToStore({
      store: await storage.open('m'), file: SHARD, url: hub.modelUrl(REPO) + SHARD, trustEtag: true, onProgress: (p) => events.push(p), ...FAST,
    });
    expect(bytes?.byteLength).toBe(SHARD_BYTES);
    const cdn = gets().filter((r) => r.path.startsWith('/__cdn/'));
    expect(cdn).toHaveLength(2);
    expect(cdn[0].range).toBeNull();
    expect(cdn[1].range).toMatch(/^bytes=\d+-$/);
    const resumedAt = Number(/bytes=(\d+)-/.exec(cdn[1].range!)![1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(50_000);
    expect(cdn[1].status).toBe(206);
    expect(events.at(-1)).toMatchObject({ loadedBytes: SHARD_BYTES, resumedFrom: 0 });
  });

  it('keeps what arrived when every attempt is cut, and the next load resumes from it', async () => {
    hub.switches.truncate.set(`${REPO}/${SHARD}`, { atBytes: 30_000, times: 2 });
    const store = await new MemoryModelStorage().open('m');
    const options = { store, file: SHARD, url: hub.modelUrl(REPO) + SHARD, trustEtag: true, maxAttempts: 2, ...FAST };
    await expect(fetchToStore(options)).rejects.toThrow(/tried 2 times.*loading again resumes/);
    const kept = await store.size(SHARD);
    expect(kept).toBeGreaterThan(0);
    hub.reset();
    const events: DownloadProgress[] = [];
    const bytes = await fetchToStore({ ...options, onProgress: (p) => events.push(p) });
    expect(bytes?.byteLength).toBe(SHARD_BYTES);
    expect(gets().find((r) => r.path.startsWith('/__cdn/'))?.range).toBe(`bytes=${kept}-`);
    expect(events.at(-1)?.resumedFrom).toBe(kept);
  });

  it('starts over when the server ignores Range, and still verifies', async () => {
    hub.switches.truncate.set(`${REPO}/${SHARD}`, { atBytes: 50_000, times: 1 });
    hub.switches.ranges = false;
    const bytes = await fetchToStore({ store: await new MemoryModelStorage().open('m'), file: SHARD, url: hub.modelUrl(REPO) + SHARD, trustEtag: true, ...FAST });
    expect(bytes?.byteLength).toBe(SHARD_BYTES);
    expect(gets().filter((r) => r.path.startsWith('/__cdn/')).map((r) => r.status)).toEqual([200, 200]);
  });

  it('does not read a CDN\'s own ETag as the sha256 after a cross-origin redirect (size checked instead)', async () => {
    hub.switches.crossOriginCdn = true;
    const store = await new MemoryModelStorage().open('m');
    const bytes = await fetchToStore({ store, file: SHARD, url: hub.modelUrl(REPO) + SHARD, trustEtag: true, ...FAST });
    expect(bytes?.byteLength).toBe(SHARD_BYTES);
    expect((await store.getMeta(SHARD))?.verified).toBe('size');
    expect(gets().map((r) => r.status)).toEqual([302, 200]);
  });

  it('fails a corrupted file with IntegrityError and deletes the bad copy', async () => {
    hub.switches.corrupt.add(`${REPO}/${SHARD}`);
    const store = await new MemoryModelStorage().open('m');
    const error = await fetchToStore({ store, file: SHARD, url: hub.modelUrl(REPO) + SHARD, trustEtag: true, ...FAST }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as IntegrityError).details).toMatchObject({ check: 'sha256' });
    expect(await store.size(SHARD)).toBe(0);
    expect(await store.getMeta(SHARD)).toBeNull();
  });

  it('checks the catalog sha256 when the server sends no ETag', async () => {
    hub.switches.etags = false;
    hub.switches.corrupt.add('sieve-test/tiny/config.json');
    const tiny = findCatalogModel('sieve-tiny')!;
    const store = await new MemoryModelStorage().open('m');
    const url = hub.modelUrl('sieve-test/tiny') + 'config.json';
    const expectedSha256 = tiny.files.find((f) => f.path === 'config.json')!.sha256;
    await expect(fetchToStore({ store, file: 'config.json', url, trustEtag: true, expectedSha256 })).rejects.toThrow(IntegrityError);
    hub.switches.corrupt.clear();
    await fetchToStore({ store, file: 'config.json', url, trustEtag: true, expectedSha256 });
    expect((await store.getMeta('config.json'))?.verified).toBe('catalog-sha256');
  });

  it('sends the access token to gated repositories; without it the load fails with ModelAccessError', async () => {
    hub.switches.gated.set('gated/tiny', 'hf_secret');
    const url = hub.modelUrl('gated/tiny');
    const denied = await openCachedModelSource(url, { storage: new MemoryModelStorage() });
    await expect(loadFromSource(denied)).rejects.toMatchObject({ code: 'MODEL_ACCESS_DENIED', details: { status: 401, hasToken: false } });
    const wrong = await openCachedModelSource(url, { storage: new MemoryModelStorage(), accessToken: 'hf_wrong' });
    await expect(loadFromSource(wrong)).rejects.toThrow(ModelAccessError);
    hub.reset();
    hub.switches.gated.set('gated/tiny', 'hf_secret');
    const ok = await openCachedModelSource(url, { storage: new MemoryModelStorage(), accessToken: 'hf_secret' });
    const model = await loadFromSource(ok);
    expect(model.config.hiddenSize).toBe(256);
    expect(gets().filter((r) => !r.path.startsWith('/__cdn/')).every((r) => r.authorization === 'Bearer hf_secret')).toBe(true);
  });

  it('refuses before any request when the catalog\'s files do not fit a forced small quota', async () => {
    const tiny = findCatalogModel('sieve-tiny')!;
    const estimate = async () => ({ quota: 10_000_000, usage: 1_000_000 });
    const error = await openCachedModelSource(hub.modelUrl('sieve-test/tiny'), { storage: new MemoryModelStorage(), files: tiny.files, estimate }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageQuotaError);
    expect((error as StorageQuotaError).details).toMatchObject({ availableBytes: 9_000_000 });
    expect(hub.requests).toHaveLength(0);
  });
});
