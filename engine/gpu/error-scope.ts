// GPU work that can fail on the device side (allocations, pipeline creation) run inside WebGPU error scopes, so a
// refusal is a typed error at the place it happened instead of an invalid object that fails every later step.
import { GpuValidationError, OutOfGpuMemoryError } from '../errors/index.ts';

export interface ErrorScopeOptions<T> {
  /** The bytes `make` asks for, for the error (OUT_OF_GPU_MEMORY says how much was refused). */
  bytes: number | ((made: T | null) => number);
  /** Frees what `make` made when the device refused part of it (nothing of a refused load stays allocated). */
  release?: (made: T) => void;
}

/**
 * Runs `make` inside an out-of-memory and a validation error scope. When the device reports an error, what was made is
 * released and OutOfGpuMemoryError (`what`, the bytes asked for) or GpuValidationError is thrown; an error `make`
 * throws itself passes through (after both scopes are popped, so the device's scope stack stays balanced).
 * Scopes are per device and stack-wise: no other code may push or pop on the device while `make` awaits.
 */
export async function withGpuErrorScopes<T>(device: GPUDevice, what: string, make: () => T | Promise<T>, options: ErrorScopeOptions<T>): Promise<T> {
  device.pushErrorScope('validation');
  device.pushErrorScope('out-of-memory');
  let made: T | null = null;
  let thrown: unknown = null;
  try {
    made = await make();
  } catch (e) {
    thrown = e;
  }
  const outOfMemory = await device.popErrorScope();
  const invalid = await device.popErrorScope();
  if (!outOfMemory && !invalid) {
    if (thrown !== null) throw thrown;
    return made as T;
  }
  // Counted before the release: a count of live bytes (engine/gpu's accounting) would drop with it.
  const bytes = typeof options.bytes === 'function' ? options.bytes(made) : options.bytes;
  if (made !== null) options.release?.(made);
  if (outOfMemory) throw new OutOfGpuMemoryError(what, bytes, firstLine(outOfMemory.message));
  throw new GpuValidationError(what, firstLine((invalid as GPUError).message));
}

/** Dawn appends a call trace to its messages; the first line says what went wrong. */
function firstLine(message: string): string {
  return message.split('\n')[0].trim();
}
