// PagedKVCache on Dawn (SwiftShader): the pool grows by steps as a sequence needs pages, keeping every page's bytes at
// its id, and a growth the device refuses is OUT_OF_GPU_MEMORY with the cache as it was and still usable.
import { nodeGpuDevice } from '../gpu/node-webgpu.test-helper.ts';
import { describe, expect, it } from 'vitest';
import { readBuffer } from '../gpu/index.ts';
import { kvPageBytes } from './capacity.ts';
import { PagedKVCache } from './paged-kv-cache.ts';

describe('PagedKVCache growth', () => {
  it('grows a step at a time as a sequence needs pages, keeping pages and page data at their ids', async () => {
    const device = await nodeGpuDevice();
    const L = 2;
    const G = 2;
    const d = 8;
    const page = kvPageBytes(d);
    // Room for 8 pages per (layer, head) = 128 tokens; steps of 2 pages per (layer, head) = 32 tokens.
    const cache = await PagedKVCache.create(device, {
      numLayers: L, numKvHeads: G, headDim: d, maxTokensPerSequence: 128, memoryBudgetBytes: L * G * 8 * page, growthBytes: L * G * 2 * page,
    });
    expect(cache.capacityTokens).toBe(128);
    expect(cache.poolBytes).toBe(L * G * 2 * page);
    expect(cache.maxPoolBytes).toBe(L * G * 8 * page);
    const metadata = cache.createPageData('test-metadata', 16);
    const seq = cache.createSequence();
    await cache.ensure(seq, 20);
    cache.reserve(seq, 20);
    expect(cache.generation).toBe(0); // 20 tokens fit the first step

    // Mark every page the sequence holds (K/V floats and its page-data slot) with its (page, layer, head).
    const marks = new Map<string, number>();
    const pageFloats = 2 * 16 * d;
    for (let p = 0; p < 2; p++) {
      for (let l = 0; l < L; l++) {
        for (let g = 0; g < G; g++) {
          const id = cache.pageId(seq, p, l, g);
          const mark = 1000 * p + 100 * l + 10 * g + 1;
          marks.set(`${p}:${l}:${g}`, mark);
          const arena = cache.arenaOf(l);
          device.queue.writeBuffer(arena.pages, id * pageFloats * 4, new Float32Array(pageFloats).fill(mark));
          device.queue.writeBuffer(metadata.buffers[arena.index], id * 16, new Float32Array(4).fill(mark));
        }
      }
    }
    const before = cache.arenas.map((a) => a.pages);

    // 20 more tokens need a third page per (layer, head): one step more (4 pages).
    expect(() => cache.reserve(seq, 20)).toThrow(/must grow first/);
    await cache.ensure(seq, 20);
    cache.reserve(seq, 20);
    expect(cache.generation).toBeGreaterThan(0);
    expect(cache.poolBytes).toBe(L * G * 4 * page);
    expect(cache.arenas.every((a, i) => a.pages !== before[i])).toBe(true);
    for (let p = 0; p < 2; p++) {
      for (let l = 0; l < L; l++) {
        for (let g = 0; g < G; g++) {
          const id = cache.pageId(seq, p, l, g);
          const arena = cache.arenaOf(l);
          const kv = await readBuffer(device, arena.pages, id * pageFloats * 4, pageFloats * 4);
          const meta = await readBuffer(device, metadata.buffers[arena.index], id * 16, 16);
          const mark = marks.get(`${p}:${l}:${g}`);
          expect(kv.every((v) => v === mark)).toBe(true);
          expect(meta.every((v) => v === mark)).toBe(true);
        }
      }
    }
    // Up to the budget and no further: 128 tokens fit, 129 are CONTEXT_FULL.
    await cache.ensure(seq, 128 - 40);
    cache.reserve(seq, 128 - 40);
    expect(cache.poolBytes).toBe(cache.maxPoolBytes);
    await cache.ensure(seq, 1);
    expect(() => cache.reserve(seq, 1)).toThrow(expect.objectContaining({ code: 'CONTEXT_FULL' }));
    metadata.destroy();
    cache.destroy();
  });

  it('a growth the device refuses is OUT_OF_GPU_MEMORY; the cache is as it was and goes on', async () => {
    const device = await nodeGpuDevice();
    // One layer, one KV head of 64 dims: 8 KiB of K/V per page, so 131,072 pages are one 1 GiB buffer, which
    // SwiftShader refuses (vkAllocateMemory: VK_ERROR_OUT_OF_DEVICE_MEMORY; 1023 MiB it gives).
    const d = 64;
    const pages = 131072;
    const cache = await PagedKVCache.create(device, {
      numLayers: 1, numKvHeads: 1, headDim: d, maxTokensPerSequence: pages * 16, memoryBudgetBytes: pages * kvPageBytes(d),
      growthBytes: 16 * kvPageBytes(d),
    });
    expect(device.limits.maxBufferSize).toBeGreaterThanOrEqual(2 ** 30);
    const seq = cache.createSequence();
    const poolBytes = cache.poolBytes;
    await expect(cache.ensure(seq, pages * 16)).rejects.toMatchObject({ code: 'OUT_OF_GPU_MEMORY', details: { bytes: expect.any(Number) } });
    expect(cache.poolBytes).toBe(poolBytes);
    expect(cache.generation).toBe(0);
    expect(cache.tokensHeld(seq)).toBe(0);
    // Usable: a growth the device gives still works.
    await cache.ensure(seq, 16 * 20);
    cache.reserve(seq, 16 * 20);
    expect(cache.tokensHeld(seq)).toBe(320);
    expect(cache.poolBytes).toBe(32 * kvPageBytes(d));
    cache.destroy();
  });
});
