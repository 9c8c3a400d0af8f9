// PagedKVCache on Dawn (SwiftShader): the pool grows by steps as a sequence needs pages, keeping every page's bytes at
// its id, and a growth the device refuses is OUT_OF_GPU_MEMORY with the cache as it was and still usable.
import { nodeGpuDevice } from '../gpu/node-webgpu.test-helper.ts';
import { describe, expect, it } from 'vitest';
import { readBuffer } from '../gpu/index.ts';
import { kvCapacity, kvPageBytes } from './capacity.ts';
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

describe('KV capacity by dtype', () => {
  it('f16 pages take half the K/V bytes: the same memory holds about twice the tokens (the u32 positions stay)', () => {
    // Llama-3.2-1B: 16 layers, 8 KV heads of 64 dims. A page: 8 KiB of f32 K/V or 4 KiB of f16, plus 64 B of positions.
    const shape = { numLayers: 16, numKvHeads: 8, headDim: 64 };
    expect(kvPageBytes(64, 16, 4)).toBe(8192 + 64);
    expect(kvPageBytes(64, 16, 2)).toBe(4096 + 64);
    const gib = 2 ** 30;
    const f32 = kvCapacity(shape, 131072, gib, 'f32');
    const f16 = kvCapacity(shape, 131072, gib, 'f16');
    expect(f32).toMatchObject({ tokens: 16256, bytesPerToken: 16 * 8 * (8192 + 64) / 16 });
    expect(f16).toMatchObject({ tokens: 32256, bytesPerToken: 16 * 8 * (4096 + 64) / 16 });
    expect(f16.poolBytes).toBeLessThanOrEqual(gib);
    // 128K in f16: 4.3 GB (issue 14's figure).
    expect(kvCapacity(shape, 131072, 8 * gib, 'f16')).toMatchObject({ tokens: 131072, poolBytes: 131072 / 16 * 16 * 8 * (4096 + 64) });
  });

  it('an f16 cache is sized, grown and copied on write in f16 pages', async () => {
    const device = await nodeGpuDevice();
    const d = 8;
    const page = kvPageBytes(d, 16, 2);
    const cache = await PagedKVCache.create(device, {
      numLayers: 1, numKvHeads: 2, headDim: d, maxTokensPerSequence: 128, memoryBudgetBytes: 2 * 8 * page, growthBytes: 2 * 2 * page, dtype: 'f16',
    });
    expect(cache.dtype).toBe('f16');
    expect(cache.pageKvBytes).toBe(2 * 16 * d * 2);
    expect(cache.capacityTokens).toBe(128);
    expect(cache.arenas[0].pages.size).toBe(4 * cache.pageKvBytes);
    const seq = cache.createSequence();
    await cache.ensure(seq, 40);
    cache.reserve(seq, 40);
    expect(cache.arenas[0].pages.size).toBe(8 * cache.pageKvBytes); // one growth step: 2 pages per head
    // A fork's append copies its shared, partly filled last page: the copy holds the page's bytes.
    const id = cache.pageId(seq, 2, 0, 1);
    const words = Uint32Array.from({ length: cache.pageKvBytes / 4 }, (_, i) => 0x3c00_4000 + i);
    device.queue.writeBuffer(cache.arenas[0].pages, id * cache.pageKvBytes, words);
    const child = cache.fork(seq);
    await cache.ensure(child, 1);
    cache.reserve(child, 1);
    const copy = cache.pageId(child, 2, 0, 1);
    expect(copy).not.toBe(id);
    const got = await readBuffer(device, cache.arenas[0].pages, copy * cache.pageKvBytes, cache.pageKvBytes);
    expect(new Uint32Array(got.buffer.slice(0))).toEqual(words);
    expect(() => new PagedKVCache(device, { numLayers: 1, numKvHeads: 1, headDim: 7, maxTokensPerSequence: 16, memoryBudgetBytes: 1 << 16, dtype: 'f16' })).toThrow(/head dim 7 is odd/);
    cache.destroy();
  });
});
