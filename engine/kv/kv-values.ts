// What a KV page of each dtype holds of a value, for the CPU references that must store K and V as the cache does.
import { f16Bits, f16Table } from '../quant/index.ts';
import type { KvDtype } from './constants.ts';

/**
 * `values` as a page of `dtype` holds them, in place: unchanged for f32, rounded to the nearest f16 (ties to even)
 * for f16. The GPU's pack2x16float may round either way when a value is not exact (WGSL leaves the direction to the
 * implementation), so a GPU f16 page can differ from this by one f16 ulp (2^-10 of the value) per element: tests
 * state their bounds with that.
 */
export function roundToKvDtype<T extends Float32Array>(values: T, dtype: KvDtype): T {
  if (dtype === 'f32') return values;
  const table = f16Table();
  for (let i = 0; i < values.length; i++) values[i] = table[f16Bits(values[i])];
  return values;
}
