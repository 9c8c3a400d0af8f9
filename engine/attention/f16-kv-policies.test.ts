// Every registered policy with f16 KV pages through the GPU decoder on stories260K, token by token, against its CPU
// reference (PolicyReferenceModel) storing K and V rounded to f16 as the pages do: the policies' kernels (Quest's page
// bounds, Double Sparsity's labels, the evicting compaction and its moves) read and write f16 pages as they do f32.
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { calibrateWindows } from '../calibration/index.ts';
import { nodeGpuDevice } from '../gpu/node-webgpu.test-helper.ts';
import type { LoadedModel } from '../model/index.ts';
import { loadModelFromPath } from '../model/node.ts';
import { GpuDecodeRun, maxLogitDiff } from './gpu-decode-run.test-helper.ts';
import { createPolicy, listPolicies } from './index.ts';
import { PolicyReferenceModel } from './policy-reference.ts';
import { createReferencePolicy } from './reference-policy.ts';
import { parseAttentionSpec } from './spec.ts';

const MODEL = fileURLToPath(new URL('../../../shared/models/stories260K/stories260K.gguf', import.meta.url));
/** Tokens decoded: past a 16-token page and past the evicting budgets (12), so every policy selects or evicts. */
const STEPS = 20;
const ids = Array.from({ length: STEPS }, (_, i) => 3 + ((i * 131) % 500));
/** Calibration windows (FASA needs more than its top-K of 32 tokens), as policy-reference.test.ts makes them. */
const CALIBRATION_IDS = Array.from({ length: 48 }, (_, i) => 3 + ((i * 131) % 500));
const SPECS: Record<string, string> = {
  dense: 'dense', streaming: 'streaming:budget=12', h2o: 'h2o:budget=12', a2sf: 'a2sf:budget=12,forgetting=0.9',
  quest: 'quest:budget=16,dense-layers=1', tidal: 'tidal:budget=8,select-layer=1,reselect-layer=3', recycled: 'recycled:budget=8,stride=4',
  'double-sparsity': 'double-sparsity:budget=8', fasa: 'fasa:budget=8',
};
/**
 * Max |logit - reference| with f16 pages. With f32 pages this comparison lands near 1e-5 (the GPU sums in f32 what
 * the reference sums in f64). With f16, a K or V whose f32 value differs in its last bits (RoPE in f32 against f64)
 * may round to the neighbouring f16 (one ulp, 2^-10 of it; pack2x16float may also round the other way, WGSL leaves
 * it open), and stories260K's 5 layers carry such ulps to ~2e-3 of its logits (measured: 1.6e-3 dense, 3.4e-3 h2o).
 */
const F16_LOGITS_TOLERANCE = 5e-3;

let model: LoadedModel;
const calibrations = new Map<string, unknown>();
beforeAll(async () => {
  model = await loadModelFromPath(MODEL);
  for (const method of ['double-sparsity', 'fasa'] as const) calibrations.set(method, calibrateWindows(model, method, [CALIBRATION_IDS, CALIBRATION_IDS.slice(8)], { textName: 'test ids' }));
});

let run: GpuDecodeRun | null = null;

describe('every policy with f16 KV pages against its CPU reference with f16-rounded K/V (stories260K)', () => {
  it('covers every registered policy', () => {
    expect(Object.keys(SPECS).sort()).toEqual([...listPolicies()].sort());
  });

  it.for(Object.entries(SPECS))('%s', { timeout: 300_000 }, async ([name, spec]) => {
    run ??= new GpuDecodeRun(await nodeGpuDevice(), model, { kvDtype: 'f16' });
    const calibration = calibrations.get(name);
    const got = await run.decodeAll(createPolicy(parseAttentionSpec(spec), { config: model.config, calibration }), ids, { firstAsPrefill: true });
    const reference = new PolicyReferenceModel(model.config, model.weights, createReferencePolicy(spec, model.config, calibration), 'f16');
    const want = [reference.prefill([ids[0]])];
    for (let i = 1; i < STEPS; i++) want.push(reference.decode(ids[i]));
    const diff = maxLogitDiff(got, want);
    console.log(`${spec} with f16 KV: max |logit - reference| = ${diff.toExponential(2)}, ${run.cache.tokensHeld(run.seq)} tokens held`);
    expect(diff).toBeLessThan(F16_LOGITS_TOLERANCE);
  });
});
