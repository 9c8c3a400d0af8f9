// Double Sparsity and FASA through the GPU decoder on small seeded random models, calibrated on random token windows
// by the real calibration: with a budget of at least the sequence length their logits equal the dense GPU run's
// within 1e-4 at every step (their lists name every older slot), and at a small budget they do not.
import { describe, expect, it } from 'vitest';
import { calibrateWindows, type CalibrationArtifact } from '../../calibration/index.ts';
import { nodeGpuDevice } from '../../gpu/node-webgpu.test-helper.ts';
import { seededUniform } from '../../gpu/test-inputs.test-helper.ts';
import { layerWeight, type LoadedModel, type ModelConfig, type RopeLayout, type Tensor } from '../../model/index.ts';
import { GpuDecodeRun, maxLogitDiff } from '../gpu-decode-run.test-helper.ts';
import { createPolicy } from '../index.ts';
import { parseAttentionSpec } from '../spec.ts';

/** ATTENTION.md: a policy whose budget covers the sequence equals dense within 1e-4. */
const DENSE_TOLERANCE = 1e-4;
/** Tokens decoded: a full 16-token page and part of a second. */
const STEPS = 24;

/** A random llama checkpoint: weights uniform in +-0.14 (norms around 1), enough to give peaked, varied attention. */
function randomModel(ropeLayout: RopeLayout, seed: number): LoadedModel {
  const config: ModelConfig = {
    architecture: 'llama', vocabSize: 61, hiddenSize: 64, intermediateSize: 96, numLayers: 3, numHeads: 4, numKvHeads: 2, headDim: 16,
    rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: null, ropeLayout, maxPositionEmbeddings: 64, tieWordEmbeddings: true,
    attentionBias: false, qkNorm: false, bosTokenId: null, eosTokenIds: [],
  };
  const next = seededUniform(seed);
  const tensors = new Map<string, Tensor>();
  const add = (name: string, shape: number[], offset = 0) => {
    const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => offset + (next() * 2 - 1) * 0.14);
    tensors.set(name, { shape, data });
  };
  const { hiddenSize: D, numHeads: H, numKvHeads: G, headDim: d, intermediateSize: F } = config;
  add('model.embed_tokens.weight', [config.vocabSize, D]);
  add('model.norm.weight', [D], 1);
  for (let l = 0; l < config.numLayers; l++) {
    const w = (suffix: string, shape: number[], offset = 0) => add(layerWeight(l, suffix), shape, offset);
    w('input_layernorm.weight', [D], 1);
    w('post_attention_layernorm.weight', [D], 1);
    w('self_attn.q_proj.weight', [H * d, D]);
    w('self_attn.k_proj.weight', [G * d, D]);
    w('self_attn.v_proj.weight', [G * d, D]);
    w('self_attn.o_proj.weight', [D, H * d]);
    w('mlp.gate_proj.weight', [F, D]);
    w('mlp.up_proj.weight', [F, D]);
    w('mlp.down_proj.weight', [D, F]);
  }
  return {
    source: `random llama ${ropeLayout} (seed ${seed})`, format: 'safetensors', config, ggufVocabulary: null,
    tokenizerFiles: { tokenizerJson: null, tokenizerConfig: null, generationConfig: null },
    weights: { has: (n) => tensors.has(n), get: (n) => tensors.get(n) as Tensor, names: () => [...tensors.keys()] },
  };
}

describe.each<RopeLayout>(['half', 'interleaved'])('Double Sparsity and FASA through the GPU decoder (random model, %s RoPE)', (ropeLayout) => {
  const model = randomModel(ropeLayout, ropeLayout === 'half' ? 5 : 6);
  const next = seededUniform(99);
  const ids = Array.from({ length: STEPS }, () => Math.floor(next() * model.config.vocabSize));
  // The real calibration, on two random 48-token windows (the model has no tokenizer).
  const windows = [0, 1].map(() => Array.from({ length: 48 }, () => Math.floor(next() * model.config.vocabSize)));
  const calibration: Record<string, CalibrationArtifact> = {
    'double-sparsity': calibrateWindows(model, 'double-sparsity', windows, { textName: 'random ids' }),
    fasa: calibrateWindows(model, 'fasa', windows, { textName: 'random ids', topK: 8 }),
  };
  let dense: Float32Array[] | null = null;
  let run: GpuDecodeRun | null = null;

  async function decodeAll(spec: string): Promise<Float32Array[]> {
    const parsed = parseAttentionSpec(spec);
    run ??= new GpuDecodeRun(await nodeGpuDevice(), model);
    return run.decodeAll(createPolicy(parsed, { config: model.config, calibration: calibration[parsed.policy] }), ids);
  }

  // Budgets of 32 with 24 tokens: every older slot is listed. Layers 1.. plan lists.
  it.for(['double-sparsity:budget=32,channels=4,dense-layers=1', 'fasa:budget=32,chunks=2,dense-layers=1'])(
    '%s with a budget covering the sequence gives dense logits within 1e-4 at every step', async (spec) => {
      dense ??= await decodeAll('dense');
      const diff = maxLogitDiff(await decodeAll(spec), dense);
      console.log(`${ropeLayout} ${spec}: max |logit - dense| = ${diff.toExponential(2)}`);
      expect(diff).toBeLessThan(DENSE_TOLERANCE);
    },
  );

  it.for(['double-sparsity:budget=4,channels=4,dense-layers=1', 'fasa:budget=4,chunks=2,dense-layers=1'])(
    '%s reads less than every token and so changes the logits', async (spec) => {
      dense ??= await decodeAll('dense');
      expect(maxLogitDiff(await decodeAll(spec), dense)).toBeGreaterThan(1e-3);
    },
  );
});
