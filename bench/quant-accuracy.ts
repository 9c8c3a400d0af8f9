// Accuracy of the block formats on the trained sieve-tiny (docs/quantization.md, "A trained model"): the CPU reference
// over each format's dequantized weights against f32, on the 128-token golden prompt: max |logit diff|, argmax
// agreement, mean KL(f32 || q), and perplexity of the prompt's next tokens. Symmetric int8/int4 are the load options;
// the asymmetric rows use QuantizationSpec.symmetric = false (llama.cpp's Q4_1 rule, min = -lo). A few seconds on the CPU.
// Run: npx tsx bench/quant-accuracy.ts
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadModelFromPath } from '../engine/model/node.ts';
import type { Tensor, WeightStore } from '../engine/model/index.ts';
import { dequantizeMatrix, isQuantizedWeight, QUANT_BLOCK_SIZE, quantizeMatrix, type QuantizationSpec } from '../engine/quant/index.ts';
import { referenceLogits } from '../engine/reference/index.ts';

const MODEL = fileURLToPath(new URL('../models/sieve-tiny', import.meta.url));
const ids: number[] = JSON.parse(readFileSync(`${MODEL}/golden/ids.json`, 'utf8'));

function logSoftmax(row: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(row, (v) => v - lse);
}

const loaded = await loadModelFromPath(MODEL);
const vocab = loaded.config.vocabSize;
const n = ids.length;
const f32 = referenceLogits(loaded.config, loaded.weights, ids, 'prefill');
const ref = Array.from({ length: n }, (_, t) => logSoftmax(f32.subarray(t * vocab, (t + 1) * vocab)));
const perplexity = (lp: Float64Array[]) => Math.exp(-lp.slice(0, n - 1).reduce((s, row, t) => s + row[ids[t + 1]], 0) / (n - 1));
console.log(`sieve-tiny, ${n} tokens: f32 perplexity ${perplexity(ref).toFixed(3)}`);

const cases: [string, QuantizationSpec][] = [
  ['int8', { bits: 8, blockSize: QUANT_BLOCK_SIZE, symmetric: true }],
  ['int8 asymmetric', { bits: 8, blockSize: QUANT_BLOCK_SIZE, symmetric: false }],
  ['int4', { bits: 4, blockSize: QUANT_BLOCK_SIZE, symmetric: true }],
  ['int4 asymmetric', { bits: 4, blockSize: QUANT_BLOCK_SIZE, symmetric: false }],
];
for (const [name, spec] of cases) {
  const cache = new Map<string, Tensor>();
  const weights: WeightStore = {
    has: (w) => loaded.weights.has(w),
    names: () => loaded.weights.names(),
    get: (w) => {
      const t = loaded.weights.get(w);
      if (!isQuantizedWeight(w) || t.shape.length !== 2) return t;
      if (!cache.has(w)) cache.set(w, { shape: t.shape, data: dequantizeMatrix(quantizeMatrix(t.data, t.shape[0], t.shape[1], spec)) });
      return cache.get(w)!;
    },
  };
  const q = referenceLogits(loaded.config, weights, ids, 'prefill');
  let maxAbs = 0;
  let agree = 0;
  let kl = 0;
  const lq: Float64Array[] = [];
  for (let t = 0; t < n; t++) {
    const a = f32.subarray(t * vocab, (t + 1) * vocab);
    const b = q.subarray(t * vocab, (t + 1) * vocab);
    let ia = 0;
    let ib = 0;
    for (let i = 0; i < vocab; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
      if (a[i] > a[ia]) ia = i;
      if (b[i] > b[ib]) ib = i;
    }
    if (ia === ib) agree++;
    const lb = logSoftmax(b);
    lq.push(lb);
    for (let i = 0; i < vocab; i++) kl += Math.exp(ref[t][i]) * (ref[t][i] - lb[i]);
  }
  console.log(`${name}: max abs ${maxAbs.toFixed(3)}, argmax = f32 ${(100 * agree / n).toFixed(1)}%, mean KL ${(kl / n).toExponential(2)}, perplexity ${perplexity(lq).toFixed(3)}`);
}
