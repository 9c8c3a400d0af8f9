// GGUF files made by llama.cpp (convert_hf_to_gguf.py: f16, q8_0; llama-quantize: Q4_0, Q4_K_M, Q5_K_M, Q6_K) from
// golden HF checkpoints, against transformers' logits (models/golden/make_h200_goldens.py). The engine's CPU
// reference runs each file as the GGUF loader reads it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadModelFromPath } from '../../../engine/model/node.ts';
import { ReferenceModel } from '../../../engine/reference/index.ts';

const DIR = fileURLToPath(new URL('.', import.meta.url));
const TOLERANCE = 2e-3;

/** file -> the logits it must give, and what they are. */
const CASES: { file: string; oracle: string; about: string; types: string[] }[] = [
  { file: 'llama-kquant-f16.gguf', oracle: 'llama-kquant-f16.logits.f32', about: 'transformers on the GGUF (f16 weights)', types: ['F16'] },
  { file: 'llama-kquant-q8_0.gguf', oracle: 'llama-kquant-q8_0.logits.f32', about: 'transformers on the GGUF, dequantized by gguf-py', types: ['Q8_0'] },
  { file: 'llama-kquant-Q4_0.gguf', oracle: 'llama-kquant-Q4_0.logits.f32', about: 'transformers on the GGUF, dequantized by gguf-py', types: ['Q4_0', 'Q6_K'] },
  { file: 'llama-kquant-Q4_K_M.gguf', oracle: 'llama-kquant-Q4_K_M.logits.f32', about: 'transformers on the GGUF, dequantized by gguf-py', types: ['Q4_K', 'Q6_K'] },
  { file: 'llama-kquant-Q5_K_M.gguf', oracle: 'llama-kquant-Q5_K_M.logits.f32', about: 'transformers on the GGUF, dequantized by gguf-py', types: ['Q5_K', 'Q6_K'] },
  { file: 'llama-kquant-Q6_K.gguf', oracle: 'llama-kquant-Q6_K.logits.f32', about: 'transformers on the GGUF, dequantized by gguf-py', types: ['Q6_K'] },
  // transformers' GGUF loader ignores rope_freqs (its logits from this file are 0.82 off); the checkpoint's bf16
  // weights are exact in f16, so the HF checkpoint's own logits are the oracle, and they need the llama3 factors.
  { file: 'llama3-rope-f16.gguf', oracle: 'llama3-rope.hf.logits.f32', about: 'transformers on the HF checkpoint (bf16, exact in f16)', types: ['F16'] },
];

function f32File(name: string): Float32Array {
  const raw = readFileSync(join(DIR, name));
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

const ids = JSON.parse(readFileSync(join(DIR, 'ids.json'), 'utf8')) as number[];
const meta = JSON.parse(readFileSync(join(DIR, 'made.json'), 'utf8')) as { files: Record<string, { tensor_types: Record<string, number> }> };
const measured: Record<string, number> = {};

describe('llama.cpp GGUF files = transformers logits (CPU reference)', () => {
  for (const c of CASES) {
    it(`${c.file}: within ${TOLERANCE} of ${c.about}`, async () => {
      // The file holds the quantization types it is named for (llama-quantize's mix: Q6_K for some tensors).
      for (const t of c.types) expect(meta.files[c.file].tensor_types[t], t).toBeGreaterThan(0);
      const loaded = await loadModelFromPath(join(DIR, c.file));
      const want = f32File(c.oracle);
      expect(want.length).toBe(ids.length * loaded.config.vocabSize);
      const got = new ReferenceModel(loaded.config, loaded.weights).prefill(ids);
      const diff = maxAbsDiff(got, want);
      measured[c.file] = diff;
      expect(diff).toBeLessThan(TOLERANCE);
    });
  }

  it('llama3-rope-f16.gguf carries rope_freqs: without its factors the logits are far off', async () => {
    const loaded = await loadModelFromPath(join(DIR, 'llama3-rope-f16.gguf'));
    expect(loaded.config.ropeScaling?.type).toBe('frequency_factors');
    const plain = new ReferenceModel({ ...loaded.config, ropeScaling: null }, loaded.weights).prefill(ids);
    expect(maxAbsDiff(plain, f32File('llama3-rope.hf.logits.f32'))).toBeGreaterThan(0.1);
  });

  it('qwen3-f16.gguf (q/k norms, half-split RoPE, head_dim 32 != hidden/heads): near the f32 checkpoint, as f16 rounding allows', async () => {
    // transformers cannot run this GGUF (its GGUF config reader drops head_dim: a shape error), so the oracle is the
    // f32 checkpoint itself, and the bound is what rounding the weights to f16 costs: llama-kquant's f16 file is
    // 7.6e-3 from its f32 checkpoint in transformers (made.json).
    const loaded = await loadModelFromPath(join(DIR, 'qwen3-f16.gguf'));
    expect(loaded.config).toMatchObject({ architecture: 'qwen3', headDim: 32, qkNorm: true, ropeLayout: 'half' });
    const got = new ReferenceModel(loaded.config, loaded.weights).prefill(ids);
    const diff = maxAbsDiff(got, f32File('qwen3.hf.logits.f32'));
    measured['qwen3-f16.gguf vs f32 checkpoint'] = diff;
    expect(diff).toBeLessThan(1e-2);
  });

  it('prints the measured differences', () => {
    console.log('max |Sieve - oracle| per file:', JSON.stringify(measured));
  });
});

describe('the quantized GGUFs repacked into our blocks', () => {
  it("keeps every block tensor exactly: each dequantizes to ggml's values, block by block", async () => {
    const { parseGguf } = await import('../../../engine/model/gguf.ts');
    const { dequantizeMatrix, ggmlRepackSpec, repackGgmlBlocks } = await import('../../../engine/quant/index.ts');
    const seen = new Set<string>();
    for (const { file } of CASES.filter((c) => c.types.some((t) => t.startsWith('Q')))) {
      const { weights } = parseGguf(new Uint8Array(readFileSync(join(DIR, file))), file);
      for (const name of weights.names()) {
        const dtype = weights.dtype(name);
        if (!ggmlRepackSpec(dtype)) continue;
        seen.add(dtype);
        const { shape, data } = weights.get(name);
        const back = dequantizeMatrix(repackGgmlBlocks(dtype, weights.storedBytes(name), shape[0], shape[1])!);
        const block = dtype.endsWith('_K') ? 256 : 32;
        for (let b = 0; b < data.length / block; b++) {
          const bad = Array.from({ length: block }, (_, j) => b * block + j).find((i) => !Object.is(back[i], data[i]));
          expect(bad, `${file} ${name} (${dtype}) block ${b}`).toBeUndefined();
        }
      }
    }
    expect([...seen].sort()).toEqual(['Q4_0', 'Q4_K', 'Q5_K', 'Q6_K', 'Q8_0']);
  });
});
