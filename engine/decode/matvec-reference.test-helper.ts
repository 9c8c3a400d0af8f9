// Test helper: the CPU side of every matvec kernel test, y = W x in f64 over the f32 weights the GPU should see
// (engine/quant's dequantizer for blocks, the rounded halves for f16), and the error measure the tolerances bound.

/** y[r] = sum_i w[r][i] x[i] in f64, w row-major [out][inFeatures]. */
export function referenceMatvec(w: Float32Array, x: ArrayLike<number>, out: number, inFeatures: number): Float64Array {
  const y = new Float64Array(out);
  for (let r = 0; r < out; r++) {
    let s = 0;
    for (let i = 0; i < inFeatures; i++) s += w[r * inFeatures + i] * x[i];
    y[r] = s;
  }
  return y;
}

/** max |got - want| over max(1, max |want|): f32 rounding of sums scales with the values summed. */
export function relativeMaxDiff(got: Float32Array, want: ArrayLike<number>): number {
  let m = 0;
  let scale = 1;
  for (let i = 0; i < want.length; i++) {
    m = Math.max(m, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return m / scale;
}
