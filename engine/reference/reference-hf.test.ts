// The reference forward against Hugging Face transformers: logits of tiny synthetic Llama (explicit head_dim, llama3
// RoPE scaling, untied), Qwen2 (q/k/v bias, tied) and Qwen3 (q/k norm, head_dim != hidden / heads) models, made by
// testdata/make_hf_golden.py with weights this file recomputes bit for bit.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { expectedTensorShapes, parseHfConfig, TensorMapWeightStore, type ModelConfig, type Tensor } from '../model/index.ts';
import { referenceLogits } from './index.ts';

/**
 * Largest |reference - transformers| allowed, relative to the largest |logit| of the case. Both compute in f32;
 * transformers sums in f32 (blocked), we in f64, so they differ by a few f32 ulps per op. Measured (transformers
 * 5.18, torch 2.13 CPU): 1.9e-7 .. 2.7e-7; the bound leaves 7x room.
 */
const RELATIVE_TOLERANCE = 2e-6;

interface GoldenCase {
  name: string;
  config: Record<string, unknown>;
  parameters: string[];
  ids: number[];
  logits: number[];
}
const golden = JSON.parse(readFileSync(new URL('./testdata/hf-golden.json', import.meta.url), 'utf8')) as { cases: GoldenCase[] };

// ---- the weight generator of make_hf_golden.py ----
function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(text)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}
function lowbias32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}
function synthetic(name: string, shape: number[]): Tensor {
  const count = shape.reduce((a, b) => a * b, 1);
  const seed = fnv1a32(name);
  const data = new Float32Array(count);
  const fanIn = shape[shape.length - 1];
  for (let i = 0; i < count; i++) {
    const v = ((lowbias32((seed + Math.imul(i, 0x9e3779b9)) >>> 0) >>> 8) - 2 ** 23) * 2 ** -23;
    if (name.endsWith('norm.weight')) data[i] = 1 + 0.25 * v;
    else if (name.endsWith('.bias')) data[i] = 0.5 * v;
    else if (name === 'model.embed_tokens.weight') data[i] = v;
    else data[i] = v * 2 ** -Math.ceil(Math.log2(fanIn) / 2);
  }
  return { shape, data };
}

function syntheticWeights(config: ModelConfig): TensorMapWeightStore {
  const tensors = new Map<string, Tensor>();
  for (const [name, shape] of expectedTensorShapes(config).required) tensors.set(name, synthetic(name, shape));
  return new TensorMapWeightStore(tensors, () => 'synthetic');
}

function relativeError(got: Float32Array, want: number[]): number {
  let maxDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < want.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
    maxAbs = Math.max(maxAbs, Math.abs(want[i]));
  }
  return maxDiff / maxAbs;
}

describe('reference forward against transformers', () => {
  it('has the three cases', () => {
    expect(golden.cases.map((c) => c.name)).toEqual(['llama-head-dim-llama3-rope-untied', 'qwen2-bias-tied', 'qwen3-qk-norm-head-dim']);
  });

  for (const c of golden.cases) {
    describe(c.name, () => {
      const config = parseHfConfig(c.config, `${c.name}/config.json`);
      const weights = syntheticWeights(config);

      it('the weights are the ones transformers used', () => {
        expect([...weights.names()].sort()).toEqual([...c.parameters].sort());
      });

      it('prefill and decode logits match transformers', () => {
        expect(c.logits).toHaveLength(c.ids.length * config.vocabSize);
        const prefill = relativeError(referenceLogits(config, weights, c.ids, 'prefill'), c.logits);
        const decode = relativeError(referenceLogits(config, weights, c.ids, 'decode'), c.logits);
        console.log(`${c.name}: relative max error prefill ${prefill.toExponential(2)}, decode ${decode.toExponential(2)}`);
        expect(prefill).toBeLessThan(RELATIVE_TOLERANCE);
        expect(decode).toBeLessThan(RELATIVE_TOLERANCE);
      });

      it('the architecture feature under test matters: without it the logits miss by far', () => {
        let wrong: { config: ModelConfig; weights: TensorMapWeightStore };
        if (config.architecture === 'llama') {
          wrong = { config: { ...config, ropeScaling: null }, weights };
        } else if (config.architecture === 'qwen3') {
          wrong = { config: { ...config, qkNorm: false }, weights };
        } else {
          const unbiased = new Map(weights.names().filter((n) => !n.endsWith('.bias')).map((n) => [n, weights.get(n)]));
          wrong = { config, weights: new TensorMapWeightStore(unbiased, () => 'synthetic') };
        }
        expect(relativeError(referenceLogits(wrong.config, wrong.weights, c.ids, 'prefill'), c.logits)).toBeGreaterThan(100 * RELATIVE_TOLERANCE);
      });
    });
  }
});
