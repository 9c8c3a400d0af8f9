// Test helper: seeded random inputs and the storage buffers that carry them, for kernel tests on the Node device
// (node-webgpu.test-helper.ts): one copy instead of one per test file.
import { SeededRandom } from '../generation/index.ts';

/**
 * Uniforms in [0, 1) from `seed` (mulberry32, engine/generation's SeededRandom): for seeds below 2^32 the same
 * sequence the tests' own copies of mulberry32 drew, so their inputs are unchanged.
 */
export function seededUniform(seed: number): () => number {
  const r = new SeededRandom(seed >>> 0);
  return () => r.next();
}

/** `count` values offset + uniform(-amplitude, amplitude). */
export function randoms(next: () => number, count: number, amplitude = 1, offset = 0): Float32Array<ArrayBuffer> {
  const a = new Float32Array(count);
  for (let i = 0; i < count; i++) a[i] = offset + (next() * 2 - 1) * amplitude;
  return a;
}

/** A storage buffer (STORAGE | COPY_SRC | COPY_DST, at least 16 bytes, whole 16-byte steps) holding `data`. */
export function storageBuffer(device: GPUDevice, data: ArrayBufferView): GPUBuffer {
  const b = device.createBuffer({ size: Math.max(16, Math.ceil(data.byteLength / 16) * 16), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  // writeBuffer takes whole 4-byte words: a short tail (Uint8Array codes, Uint16Array halves) is padded with zeros.
  const bytes = new Uint8Array(Math.ceil(data.byteLength / 4) * 4);
  bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  device.queue.writeBuffer(b, 0, bytes);
  return b;
}
