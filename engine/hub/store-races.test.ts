// The model store under concurrent use in one process (Node: the memory store, with engine/hub's in-process locks in
// place of Web Locks): two loads of one model at once download each file once, a delete waits for the load reading
// the files, and a load waiting for another's download can be aborted. The same in Chromium's OPFS, across tabs:
// e2e/model-store-tabs.spec.ts.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AbortedError } from '../errors/index.ts';
import { loadFromSource } from '../model/index.ts';
import { startHubServer, type HubServer } from '../../tools/hub-server.ts';
import { deleteCachedModel, openCachedModelSource } from './source.ts';
import { MemoryModelStorage } from './store.ts';

const GOLDEN_QWEN2 = fileURLToPath(new URL('../../models/golden/qwen2/', import.meta.url));
const REPO = 'sieve-test/qwen2';
const FAST = { retryDelayMs: 1 };

let hub: HubServer;
beforeAll(async () => { hub = await startHubServer({ [REPO]: GOLDEN_QWEN2 }); });
afterAll(async () => { await hub.close(); });
beforeEach(() => hub.reset());

/** Downloads (a 404 is asked again by each load until one completes and remembers it; a redirect is not a download). */
const gets = () => hub.requests.filter((r) => r.method === 'GET' && (r.status === 200 || r.status === 206));

describe('model store races', () => {
  it('two loads of one model at once download each file once and read the same bytes', async () => {
    const storage = new MemoryModelStorage();
    hub.switches.bytesPerSecond = 400_000; // ~0.3 MB: both loads are under way together
    const [a, b] = await Promise.all([0, 1].map(() => openCachedModelSource(hub.modelUrl(REPO), { storage, ...FAST })));
    const [ma, mb] = await Promise.all([loadFromSource(a), loadFromSource(b)]);
    a.close();
    b.close();
    const perFile = new Map<string, number>();
    for (const r of gets()) perFile.set(r.path, (perFile.get(r.path) ?? 0) + 1);
    expect([...perFile.values()].every((n) => n === 1), JSON.stringify([...perFile])).toBe(true);
    for (const name of ma.weights.names()) expect(mb.weights.get(name).data, name).toEqual(ma.weights.get(name).data);
  });

  it('a delete waits for the load reading the model, which reads it whole; then the next load downloads again', async () => {
    const storage = new MemoryModelStorage();
    const first = await openCachedModelSource(hub.modelUrl(REPO), { storage, ...FAST });
    const expected = await loadFromSource(first);
    await first.markComplete(); // its 404s remembered: the next load makes no request
    first.close();
    hub.reset();

    const reading = await openCachedModelSource(hub.modelUrl(REPO), { storage, ...FAST });
    let deleted = false;
    const deleting = deleteCachedModel(hub.modelUrl(REPO), storage).then(() => { deleted = true; });
    try {
      const model = await loadFromSource(reading);
      expect(hub.requests).toHaveLength(0); // read from the store, none of it pulled away
      expect(model.weights.get('model.norm.weight').data).toEqual(expected.weights.get('model.norm.weight').data);
      await new Promise((r) => setTimeout(r, 50));
      expect(deleted).toBe(false);
    } finally {
      reading.close();
    }
    await deleting;
    expect(await storage.list()).toEqual([]);

    const after = await openCachedModelSource(hub.modelUrl(REPO), { storage, ...FAST });
    await loadFromSource(after);
    after.close();
    expect(gets().length).toBeGreaterThan(0);
  });

  it('a load waiting for another load\'s download of the same file stops at its abort, with no request of its own', async () => {
    const storage = new MemoryModelStorage();
    hub.switches.bytesPerSecond = 100_000;
    const a = await openCachedModelSource(hub.modelUrl(REPO), { storage, ...FAST });
    const downloading = a.read('model-00001-of-00003.safetensors');
    await new Promise((r) => setTimeout(r, 100));
    const controller = new AbortController();
    const b = await openCachedModelSource(hub.modelUrl(REPO), { storage, ...FAST, signal: controller.signal });
    const waiting = b.read('model-00001-of-00003.safetensors');
    setTimeout(() => controller.abort(), 50);
    const t = performance.now();
    await expect(waiting).rejects.toBeInstanceOf(AbortedError);
    expect(performance.now() - t).toBeLessThan(500); // not after a's download (about a second)
    b.close();
    expect(await downloading).not.toBeNull();
    a.close();
    expect(gets()).toHaveLength(1);
  });
});
