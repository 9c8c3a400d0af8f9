// Rotary position embedding tables, shared by the CPU reference and the GPU path (which uploads them).
import type { ModelConfig, RopeLayout } from './types.ts';

/**
 * Inverse frequencies theta^(-2i/d), with Llama 3's frequency-dependent scaling when configured
 * (the formula of transformers' `_compute_llama3_parameters`). Computed in f64; callers round to f32.
 */
export function ropeInverseFrequencies(config: Pick<ModelConfig, 'headDim' | 'ropeTheta' | 'ropeScaling'>): Float64Array {
  const half = config.headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(config.ropeTheta, (2 * i) / config.headDim);
  const s = config.ropeScaling;
  if (s && s.type === 'llama3') {
    const lowFreqWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
    const highFreqWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
    for (let i = 0; i < half; i++) {
      const wavelen = (2 * Math.PI) / inv[i];
      if (wavelen > lowFreqWavelen) {
        inv[i] = inv[i] / s.factor;
      } else if (wavelen >= highFreqWavelen) {
        const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
        inv[i] = (1 - smooth) * (inv[i] / s.factor) + smooth * inv[i];
      }
    }
  }
  if (s && s.type === 'frequency_factors') for (let i = 0; i < half; i++) inv[i] = inv[i] / s.factors[i];
  return inv;
}

/** cos and sin for positions [start, start + count), each laid out [count, headDim / 2], f32. */
export function ropeTable(inverseFrequencies: Float64Array, start: number, count: number): { cos: Float32Array; sin: Float32Array } {
  const half = inverseFrequencies.length;
  const cos = new Float32Array(count * half);
  const sin = new Float32Array(count * half);
  for (let t = 0; t < count; t++) {
    const pos = start + t;
    for (let i = 0; i < half; i++) {
      // transformers multiplies in f32; round the frequency the same way before the product.
      const angle = Math.fround(Math.fround(inverseFrequencies[i]) * pos);
      cos[t * half + i] = Math.cos(angle);
      sin[t * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

/** The two dims that rotate together with frequency i. */
export function ropePair(i: number, headDim: number, layout: RopeLayout): [number, number] {
  return layout === 'half' ? [i, i + headDim / 2] : [2 * i, 2 * i + 1];
}

/** Rotates one head vector in place with row `row` of a rope table. */
export function applyRope(
  vec: Float32Array, offset: number, headDim: number, layout: RopeLayout,
  cos: Float32Array, sin: Float32Array, row: number,
): void {
  const half = headDim / 2;
  for (let i = 0; i < half; i++) {
    const [a, b] = ropePair(i, headDim, layout);
    const c = cos[row * half + i];
    const s = sin[row * half + i];
    const x0 = vec[offset + a];
    const x1 = vec[offset + b];
    vec[offset + a] = x0 * c - x1 * s;
    vec[offset + b] = x1 * c + x0 * s;
  }
}
