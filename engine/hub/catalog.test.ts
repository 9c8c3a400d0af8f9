// The catalog (models/catalog.json): valid, its figures consistent with the configs, the local models' files exact.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BadModelFileError } from '../errors/index.ts';
import {
  catalogModelConfig, catalogModelUrl, denseContext, downloadBytes, findCatalogModel, formatToFitTab, modelCatalog, parameterCount, parseCatalog,
  TAB_WEIGHT_BUDGET_BYTES, weightBytes,
} from './catalog.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SHARED = fileURLToPath(new URL('../../../shared/', import.meta.url));

describe('models/catalog.json', () => {
  const catalog = modelCatalog();

  it('lists the hub models the issue names and the project\'s own', () => {
    expect(catalog.models.map((m) => m.id)).toEqual([
      'sieve-tiny', 'stories260K', 'smollm2-135m-instruct', 'smollm2-360m-instruct', 'qwen2.5-0.5b-instruct', 'qwen3-0.6b',
      'tinyllama-1.1b-chat-v1.0', 'llama-3.2-1b-instruct',
    ]);
    expect(catalog.models.filter((m) => m.gated).map((m) => m.id)).toEqual(['llama-3.2-1b-instruct']);
  });

  it('states parameter counts that the configs imply (to 0.5%; Qwen3 stores a copy of its tied lm_head, not counted)', () => {
    for (const m of catalog.models) {
      const implied = parameterCount(catalogModelConfig(m));
      expect(Math.abs(implied - m.parameters) / m.parameters, m.id).toBeLessThan(0.005);
    }
  });

  it('asks each model for the least lossy weight format that fits a tab', () => {
    for (const m of catalog.models) expect(m.quantization, m.id).toBe(formatToFitTab(m.parameters));
    expect(weightBytes(findCatalogModel('llama-3.2-1b-instruct')!.parameters, 'int8')).toBeGreaterThan(TAB_WEIGHT_BUDGET_BYTES);
  });

  it('states each model\'s dense context under the two limit profiles as the KV sizing computes it', () => {
    for (const m of catalog.models) expect(m.denseContext, m.id).toEqual(denseContext(m));
    // Issue 12's figures at 512 MiB were 2,320 (Qwen3-0.6B) and 8,128 (Llama-3.2-1B) tokens; at the default 1 GiB:
    expect(findCatalogModel('qwen3-0.6b')!.denseContext['integrated-4gb']).toBe(4656);
    expect(findCatalogModel('llama-3.2-1b-instruct')!.denseContext).toEqual({ 'integrated-4gb': 16256, 'discrete-8gb': 65024 });
  });

  it('sizes bf16 hub checkpoints at 2 bytes per stored parameter (to 1%)', () => {
    for (const m of catalog.models.filter((x) => x.source.kind === 'hub')) {
      const weights = m.files.find((f) => f.path === 'model.safetensors')!;
      const config = catalogModelConfig(m);
      const storedLmHead = m.id === 'qwen3-0.6b' ? config.vocabSize * config.hiddenSize : 0;
      expect(Math.abs(weights.approxBytes - 2 * (m.parameters + storedLmHead)) / weights.approxBytes, m.id).toBeLessThan(0.01);
    }
  });

  it('has the exact size and sha256 of the project\'s own model files', () => {
    const local = { 'sieve-tiny': `${REPO}models/sieve-tiny/`, stories260K: `${SHARED}models/stories260K/` };
    for (const [id, dir] of Object.entries(local)) {
      for (const f of findCatalogModel(id)!.files) {
        expect(f.approxBytes, f.path).toBe(statSync(dir + f.path).size);
        expect(f.sha256, f.path).toBe(createHash('sha256').update(readFileSync(dir + f.path)).digest('hex'));
      }
    }
  });

  it('makes hub URLs in the resolve layout, against any hub origin', () => {
    const qwen = findCatalogModel('qwen3-0.6b')!;
    expect(catalogModelUrl(qwen)).toBe('https://huggingface.co/Qwen/Qwen3-0.6B/resolve/main/');
    expect(catalogModelUrl(qwen, { hubOrigin: 'http://127.0.0.1:9999/' })).toBe('http://127.0.0.1:9999/Qwen/Qwen3-0.6B/resolve/main/');
    expect(catalogModelUrl(findCatalogModel('sieve-tiny')!, { appBase: 'http://127.0.0.1:5173/index.html' })).toBe('http://127.0.0.1:5173/models/sieve-tiny/');
    expect(downloadBytes(findCatalogModel('sieve-tiny')!)).toBe(18891160 + 654 + 112 + 414208 + 604);
  });
});

describe('parseCatalog', () => {
  const good = JSON.parse(readFileSync(`${REPO}models/catalog.json`, 'utf8')) as { models: Record<string, unknown>[] };
  const withModel = (change: (m: Record<string, unknown>) => void) => {
    const copy = structuredClone(good);
    change(copy.models[2]);
    return copy;
  };
  const problem = (json: unknown) => {
    try { parseCatalog(json); } catch (e) { expect(e).toBeInstanceOf(BadModelFileError); return (e as Error).message; }
    throw new Error('parseCatalog accepted it');
  };

  it('names the model and field that is wrong', () => {
    expect(problem(withModel((m) => { m.quantization = 'int3'; }))).toMatch(/smollm2-135m-instruct\)\.quantization/);
    expect(problem(withModel((m) => { (m.source as Record<string, unknown>).repo = 'no-slash'; }))).toMatch(/source: repo/);
    expect(problem(withModel((m) => { (m.files as Record<string, unknown>[])[0].path = '../x'; }))).toMatch(/files\[0\]/);
    expect(problem(withModel((m) => { (m.files as Record<string, unknown>[])[0].sha256 = 'abc'; }))).toMatch(/sha256/);
    expect(problem(withModel((m) => { delete (m.sources as Record<string, unknown>).approxBytes; }))).toMatch(/sources\.approxBytes/);
    expect(problem(withModel((m) => { (m.config as Record<string, unknown>).model_type = 'gpt2'; }))).toMatch(/config/);
    expect(problem(withModel((m) => { m.id = 'sieve-tiny'; }))).toMatch(/appears twice/);
    expect(problem({ version: 2, models: [] })).toMatch(/version/);
  });
});
