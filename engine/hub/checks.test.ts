// Quota and capability checks, made before a download starts.
import { describe, expect, it } from 'vitest';
import { BufferLimitError, StorageQuotaError } from '../errors/index.ts';
import { catalogModelConfig, findCatalogModel } from './catalog.ts';
import { checkCapabilities, checkQuota, modelNeeds, QUOTA_HEADROOM_BYTES } from './checks.ts';

const MB = 1e6;

describe('checkQuota', () => {
  it('throws StorageQuotaError naming the bytes needed and available when a forced small quota is too small', () => {
    let error: unknown;
    try { checkQuota('Qwen/Qwen3-0.6B', 1503 * MB, { quota: 500 * MB, usage: 100 * MB }); } catch (e) { error = e; }
    expect(error).toBeInstanceOf(StorageQuotaError);
    const e = error as StorageQuotaError;
    expect(e.code).toBe('STORAGE_QUOTA');
    expect(e.details).toMatchObject({ neededBytes: 1503 * MB + QUOTA_HEADROOM_BYTES, availableBytes: 400 * MB });
    expect(e.message).toContain(String(1503 * MB + QUOTA_HEADROOM_BYTES));
    expect(e.remedy).toMatch(/remove cached models/);
  });
  it('passes when the download and the headroom fit, and when the browser tells no quota', () => {
    expect(() => checkQuota('m', 100 * MB, { quota: 200 * MB, usage: 0 })).not.toThrow();
    expect(() => checkQuota('m', 100 * MB, { quota: 100 * MB, usage: 0 })).toThrow(StorageQuotaError); // headroom
    expect(() => checkQuota('m', 100 * MB, {})).not.toThrow();
    expect(() => checkQuota('m', 0, { quota: 0, usage: 0 })).not.toThrow(); // everything is stored already
  });
});

describe('checkCapabilities', () => {
  const swiftshader = { limits: { maxStorageBufferBindingSize: 2 ** 30, maxBufferSize: 2 ** 30 }, features: new Set<string>() };
  const mobile = { limits: { maxStorageBufferBindingSize: 128 * 2 ** 20, maxBufferSize: 256 * 2 ** 20 }, features: new Set<string>() };

  it('finds the largest tensor of a catalog model from its config alone', () => {
    const needs = modelNeeds(catalogModelConfig(findCatalogModel('qwen2.5-0.5b-instruct')!), 'f32');
    expect(needs.largestTensor).toBe('model.embed_tokens.weight');
    expect(needs.largestTensorBytes).toBe(151936 * 896 * 4);
  });
  it('lets Qwen2.5-0.5B in f32 onto a 1 GiB adapter but not under a 128 MiB binding limit', () => {
    const config = catalogModelConfig(findCatalogModel('qwen2.5-0.5b-instruct')!);
    expect(() => checkCapabilities('qwen', modelNeeds(config, 'f32'), swiftshader)).not.toThrow();
    let error: unknown;
    try { checkCapabilities('qwen', modelNeeds(config, 'f32'), mobile); } catch (e) { error = e; }
    expect(error).toBeInstanceOf(BufferLimitError);
    expect((error as BufferLimitError).details).toMatchObject({ limit: 128 * 2 ** 20, limitName: 'maxStorageBufferBindingSize' });
    // int4 brings the embedding table to 76.6 MB: it fits the same adapter.
    expect(() => checkCapabilities('qwen', modelNeeds(config, 'int4'), mobile)).not.toThrow();
  });
  it('counts f16 weights at 2 bytes and asks for no feature (f16 pairs are read without shader-f16)', () => {
    const config = catalogModelConfig(findCatalogModel('sieve-tiny')!);
    const f32 = modelNeeds(config, 'f32');
    const f16 = modelNeeds(config, 'f16');
    expect(f16.largestTensorBytes).toBe(f32.largestTensorBytes / 2);
    expect(f16.features).toEqual([]);
    expect(() => checkCapabilities('tiny', f16, swiftshader)).not.toThrow();
  });
  it('names maxBufferSize when that is the smaller limit', () => {
    const odd = { limits: { maxStorageBufferBindingSize: 2 ** 31, maxBufferSize: 2 ** 20 }, features: new Set<string>() };
    expect(() => checkCapabilities('tiny', modelNeeds(catalogModelConfig(findCatalogModel('sieve-tiny')!)), odd)).toThrow(/maxBufferSize/);
  });
});
