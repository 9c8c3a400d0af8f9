// The CPU reference forward of every policy on stories260K (GQA, 5 layers): at a budget covering the sequence every
// policy gives dense's logits; an evicting policy equals the evicting reference forward (one prefill chunk); a fork
// does not disturb the prefill it came from; a tight budget reads fewer tokens and changes the logits.
import { beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { calibrateWindows } from '../calibration/index.ts';
import { loadModelFromPath, type LoadedModel } from '../model/node.ts';
import { ReferenceModel } from '../reference/index.ts';
import { EvictingReferenceModel } from './evicting-reference.ts';
import { PolicyReferenceModel } from './policy-reference.ts';
import { createReferenceEvictionPolicy, createReferencePolicy } from './reference-policy.ts';
import { listPolicies } from './registry.ts';
import { parseAttentionSpec } from './spec.ts';

const DENSE_TOLERANCE = 1e-4;
const MODEL = fileURLToPath(new URL('../../../shared/models/stories260K/stories260K.gguf', import.meta.url));
const ids = Array.from({ length: 48 }, (_, i) => 3 + ((i * 131) % 500));
const PROMPT = 32;

let loaded: LoadedModel;
const calibrations = new Map<string, unknown>();
let dense: Float32Array[];
beforeAll(async () => {
  loaded = await loadModelFromPath(MODEL);
  const windows = [ids, ids.slice(8)];
  for (const method of ['double-sparsity', 'fasa'] as const) calibrations.set(method, calibrateWindows(loaded, method, windows, { textName: 'test ids' }));
  const reference = new ReferenceModel(loaded.config, loaded.weights);
  const prefill = reference.prefill(ids.slice(0, PROMPT));
  dense = [prefill.slice((PROMPT - 1) * loaded.config.vocabSize)];
  for (let i = PROMPT; i < ids.length; i++) dense.push(reference.decode(ids[i]));
});

function run(model: PolicyReferenceModel): Float32Array[] {
  const out: Float32Array[] = [];
  for (let i = PROMPT; i < ids.length; i++) out.push(model.decode(ids[i]));
  return out;
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((row, s) => row.forEach((v, i) => { m = Math.max(m, Math.abs(v - b[s][i])); }));
  return m;
}

const policyOf = (spec: string) => createReferencePolicy(spec, loaded.config, calibrations.get(spec.split(':')[0]));

describe('PolicyReferenceModel', () => {
  it('covers every registered policy', () => {
    for (const name of listPolicies()) expect(() => policyOf(name)).not.toThrow();
  });

  it.each(listPolicies())('%s at a budget covering the sequence gives dense logits within 1e-4', (name) => {
    const base = new PolicyReferenceModel(loaded.config, loaded.weights);
    const first = base.prefill(ids.slice(0, PROMPT), [0.99]);
    expect(maxDiff([first], [dense[0]])).toBeLessThan(DENSE_TOLERANCE);
    const model = base.fork(policyOf(name === 'dense' ? 'dense' : `${name}:budget=64`));
    expect(maxDiff(run(model), dense.slice(1))).toBeLessThan(DENSE_TOLERANCE);
    // The fork left the prefill as it was: a second fork answers the same.
    expect(maxDiff(run(base.fork(policyOf('dense'))), dense.slice(1))).toBeLessThan(DENSE_TOLERANCE);
  });

  it.each(['streaming:budget=12', 'h2o:budget=12', 'a2sf:budget=12,forgetting=0.9'])('%s equals the evicting reference forward with one prefill chunk', (spec) => {
    const evicting = new EvictingReferenceModel(loaded.config, loaded.weights, createReferenceEvictionPolicy(parseAttentionSpec(spec), loaded.config.numLayers)!, { prefillChunk: PROMPT });
    const expected: Float32Array[] = [evicting.prefill(ids.slice(0, PROMPT)).slice((PROMPT - 1) * loaded.config.vocabSize)];
    for (let i = PROMPT; i < ids.length; i++) expected.push(evicting.decode(ids[i]));
    const base = new PolicyReferenceModel(loaded.config, loaded.weights);
    base.prefill(ids.slice(0, PROMPT), [0.9]);
    const model = base.fork(policyOf(spec));
    expect(model.tokensInCache).toBe(12);
    expect(maxDiff(run(model), expected.slice(1))).toBeLessThan(DENSE_TOLERANCE);
    expect(model.tokensInCache).toBe(12);
    expect(model.head(2, 0).positions).toEqual(evicting.head(2, 0).positions);
  });

  it.each(['quest:budget=16', 'tidal:budget=8', 'recycled:budget=8,stride=4', 'double-sparsity:budget=8', 'fasa:budget=8'])('%s at a tight budget keeps every token but changes the logits', (spec) => {
    const base = new PolicyReferenceModel(loaded.config, loaded.weights);
    base.prefill(ids.slice(0, PROMPT));
    const model = base.fork(policyOf(spec));
    const got = run(model);
    expect(model.tokensInCache).toBe(ids.length);
    expect(got.every((row) => row.every(Number.isFinite))).toBe(true);
    expect(maxDiff(got, dense.slice(1))).toBeGreaterThan(1e-3);
  });

  it('fails with a typed error when a calibrated policy has no calibration, or a fork comes after a decode step', () => {
    expect(() => createReferencePolicy('fasa', loaded.config)).toThrow(expect.objectContaining({ code: 'CALIBRATION_MISSING' }));
    const base = new PolicyReferenceModel(loaded.config, loaded.weights);
    base.prefill(ids.slice(0, 4));
    base.decode(5);
    expect(() => base.fork(policyOf('h2o'))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
