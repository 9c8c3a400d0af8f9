// The three selecting policies of this folder and its siblings (Quest, TidalDecode, Recycled Attention) through the
// GPU decoder on stories260K, token by token: with a budget of at least the sequence length their logits equal the
// dense GPU run's within 1e-4 at every step (their plans list every slot), and at a small budget they do not.
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { nodeGpuDevice } from '../../gpu/node-webgpu.test-helper.ts';
import type { LoadedModel } from '../../model/index.ts';
import { loadModelFromPath } from '../../model/node.ts';
import { GpuDecodeRun, maxLogitDiff } from '../gpu-decode-run.test-helper.ts';
import { createPolicy } from '../index.ts';
import { parseAttentionSpec } from '../spec.ts';

const MODEL = fileURLToPath(new URL('../../../../shared/models/stories260K/stories260K.gguf', import.meta.url));
/** ATTENTION.md: a policy whose budget covers the sequence equals dense within 1e-4. */
const DENSE_TOLERANCE = 1e-4;
/** Tokens decoded: a full 16-token page and part of a second; SwiftShader decodes about a token a second. */
const STEPS = 18;
const ids = Array.from({ length: STEPS }, (_, i) => 3 + ((i * 131) % 500));

let model: LoadedModel;
let run: GpuDecodeRun | null = null;
beforeAll(async () => {
  model = await loadModelFromPath(MODEL);
});

async function decodeAll(spec: string): Promise<Float32Array[]> {
  run ??= new GpuDecodeRun(await nodeGpuDevice(), model);
  return run.decodeAll(createPolicy(parseAttentionSpec(spec)), ids);
}

let dense: Float32Array[] | null = null;

describe('selecting policies through the GPU decoder (stories260K)', () => {
  // Budgets of 32 with 24 tokens: every slot is read. Layers 1.. plan lists (stories260K has 5 layers).
  const full = [
    'quest:budget=32,dense-layers=1', 'tidal:budget=32,select-layer=1,reselect-layer=3',
    'recycled:budget=32,stride=4', 'recycled:budget=32,dynamic=0.95,check-every=2',
  ];
  it.for(full)('%s with a budget covering the sequence gives dense logits within 1e-4 at every step', async (spec) => {
    dense ??= await decodeAll('dense');
    const got = await decodeAll(spec);
    const diff = maxLogitDiff(got, dense);
    console.log(`${spec}: max |logit - dense| = ${diff.toExponential(2)}`);
    expect(diff).toBeLessThan(DENSE_TOLERANCE);
  });

  it.for(['quest:budget=16,dense-layers=1', 'tidal:budget=8,select-layer=1,reselect-layer=3', 'recycled:budget=4,stride=8'])(
    '%s reads less than every token and so changes the logits', async (spec) => {
      dense ??= await decodeAll('dense');
      const got = await decodeAll(spec);
      expect(maxLogitDiff(got, dense)).toBeGreaterThan(1e-3);
    },
  );
});
