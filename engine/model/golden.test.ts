// loadModel on the checkpoints that transformers itself saved (models/golden/<case>/, made by make_golden.py).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ropeInverseFrequencies } from './index.ts';
import { loadModelFromPath } from './node.ts';

const GOLDEN = fileURLToPath(new URL('../../models/golden/', import.meta.url));

interface GoldenMeta {
  case: string;
  arch: string;
  dtype: 'float32' | 'float16' | 'bfloat16';
  tied_embeddings: boolean;
  safetensors_files: string[];
  num_tensors: number;
  vocab_size: number;
  rope_inv_freq: number[] | null;
}

const cases: GoldenMeta[] = existsSync(GOLDEN)
  ? readdirSync(GOLDEN, { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(GOLDEN, d.name, 'meta.json')))
      .map((d) => JSON.parse(readFileSync(join(GOLDEN, d.name, 'meta.json'), 'utf8')) as GoldenMeta)
  : [];

/** Whether every value is a float of the checkpoint's dtype (so the loader widened, not reinterpreted, the bits). */
function representable(data: Float32Array, dtype: GoldenMeta['dtype']): boolean {
  if (dtype === 'float32') return true;
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  for (let i = 0; i < data.length; i++) {
    if (dtype === 'bfloat16' && (bits[i] & 0xffff) !== 0) return false;
    // f16 has 10 mantissa bits: the low 13 of the f32 mantissa are zero for normal f16 values.
    if (dtype === 'float16' && Math.abs(data[i]) >= 2 ** -14 && (bits[i] & 0x1fff) !== 0) return false;
  }
  return true;
}

describe('golden transformers checkpoints', () => {
  it('are present', () => {
    expect(cases.map((c) => c.case).sort()).toEqual(['llama-gqa-untied', 'llama-legacy-config', 'llama3-rope', 'qwen2', 'qwen3']);
  });

  it.each(cases.map((c) => [c.case, c] as const))('loads %s', async (name, meta) => {
    const m = await loadModelFromPath(join(GOLDEN, name));
    expect(m.format).toBe('safetensors');
    expect(m.config.architecture).toBe(meta.arch);
    expect(m.config.vocabSize).toBe(meta.vocab_size);
    expect(m.config.tieWordEmbeddings).toBe(meta.tied_embeddings);
    expect(m.weights.has('lm_head.weight')).toBe(!meta.tied_embeddings);
    expect(m.weights.names().length).toBe(meta.num_tensors);
    expect(m.tokenizerFiles.generationConfig).not.toBeNull();
    const embed = m.weights.get('model.embed_tokens.weight');
    expect(embed.shape).toEqual([meta.vocab_size, m.config.hiddenSize]);
    expect(representable(embed.data, meta.dtype)).toBe(true);
    expect(embed.data.some((x) => x !== 0)).toBe(true);
    // RoPE as transformers computed it for this config (theta, llama3 scaling, head_dim) after rounding to f32.
    expect(meta.rope_inv_freq).not.toBeNull();
    const ours = Array.from(ropeInverseFrequencies(m.config), (x) => Math.fround(x));
    expect(ours.length).toBe(meta.rope_inv_freq!.length);
    ours.forEach((x, i) => expect(Math.abs(x - meta.rope_inv_freq![i]) / meta.rope_inv_freq![i]).toBeLessThan(1e-6));
  });
});
