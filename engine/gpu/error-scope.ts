// GPU work that can fail on the device side (allocations, pipeline creation) run inside WebGPU error scopes, so a
// refusal is a typed error at the place it happened instead of an invalid object that fails every later step.
import { GpuValidationError, OutOfGpuMemoryError } from '../errors/index.ts';
import { accountBuffers } from './buffer-accounting.ts';

export interface ErrorScopeOptions<T> {
  /**
   * The bytes `make` asks for, for the error (OUT_OF_GPU_MEMORY says how much was refused); counted once `make` has
   * returned. Absent: the bytes of the buffers the device was asked for meanwhile (engine/gpu's accounting).
   */
  bytes?: number | ((made: T | null) => number);
  /** Frees what `make` made when the device refused part of it (nothing of a refused load stays allocated). */
  release?: (made: T) => void;
}

/**
 * Runs `make` inside an out-of-memory and a validation error scope. When the device reports an error, what was made is
 * released and OutOfGpuMemoryError (`what`, the bytes asked for) or GpuValidationError is thrown; an error `make`
 * throws itself passes through (after both scopes are popped, so the device's scope stack stays balanced).
 * A synchronous `make` leaves the scopes as soon as it returns, before this returns, so the caller may go on making
 * things (GpuWeights.upload does, tensor after tensor) without its work landing in these scopes. An asynchronous one
 * keeps them open while it awaits: no other code may push or pop on the device meanwhile.
 */
export function withGpuErrorScopes<T>(device: GPUDevice, what: string, make: () => T | Promise<T>, options: ErrorScopeOptions<T> = {}): Promise<T> {
  const scope = openScopes(device);
  let result: T | Promise<T>;
  try {
    result = make();
  } catch (e) {
    return scope.close(what, null, options).then(() => { throw e; });
  }
  if (!isThenable(result)) {
    const made = result;
    return scope.close(what, made, options).then(() => made);
  }
  return Promise.resolve(result).then(
    (made) => scope.close(what, made, options).then(() => made),
    (e) => scope.close(what, null, options).then(() => { throw e; }),
  );
}

/** The device's answers for scoped work of synchronous callers not yet asked for, per device. */
const unchecked = new WeakMap<GPUDevice, Promise<void>[]>();

/**
 * withGpuErrorScopes for code that cannot wait: an attention policy making its buffers and kernels inside a decode
 * step's encoding (a hook that returns a plan, not a promise). `make` runs inside the scopes, which are popped as soon
 * as it returns, and what it made is returned at once; the device answers later, and checkGpuErrors(device) throws
 * that answer, typed, at the step's readback, so the step's results are never used. `release` then runs first (a
 * policy drops the state it made, and the next step makes it again). An error `make` throws itself is thrown here.
 */
export function withDeferredGpuErrorScopes<T>(device: GPUDevice, what: string, make: () => T, options: ErrorScopeOptions<T> = {}): T {
  const scope = openScopes(device);
  let made: T;
  try {
    made = make();
  } catch (e) {
    void scope.close(what, null, options).catch(() => undefined); // make's own error is the one to hear
    throw e;
  }
  const verdict = scope.close(what, made, options);
  verdict.catch(() => undefined); // heard through checkGpuErrors; never an unhandled rejection meanwhile
  const list = unchecked.get(device) ?? [];
  list.push(verdict);
  unchecked.set(device, list);
  return made;
}

/**
 * Throws the first typed error the device gave for withDeferredGpuErrorScopes' work since the last check (each answer
 * is heard once). Callers check after a readback, before using what the GPU computed: the answers of work encoded
 * before a submit have come by the time its results can be read.
 */
export async function checkGpuErrors(device: GPUDevice): Promise<void> {
  const list = unchecked.get(device);
  if (!list || list.length === 0) return;
  unchecked.delete(device);
  const failed = (await Promise.allSettled(list)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

interface OpenScopes {
  /** Pops both scopes now (synchronously); the promise settles with the device's answer (rejected: typed, released). */
  close<T>(what: string, made: T | null, options: ErrorScopeOptions<T>): Promise<void>;
}

function openScopes(device: GPUDevice): OpenScopes {
  const account = accountBuffers(device);
  const before = account.liveBytes;
  device.pushErrorScope('validation');
  device.pushErrorScope('out-of-memory');
  return {
    close<T>(what: string, made: T | null, options: ErrorScopeOptions<T>): Promise<void> {
      // Counted before the release (live bytes drop with it) and before the caller goes on making things.
      const bytes = options.bytes === undefined ? account.liveBytes - before : typeof options.bytes === 'function' ? options.bytes(made) : options.bytes;
      const outOfMemory = device.popErrorScope();
      const invalid = device.popErrorScope();
      return Promise.all([outOfMemory, invalid]).then(([oom, bad]) => {
        if (!oom && !bad) return;
        if (made !== null) options.release?.(made);
        if (oom) throw new OutOfGpuMemoryError(what, bytes, firstLine(oom.message));
        throw new GpuValidationError(what, firstLine((bad as GPUError).message));
      });
    },
  };
}

function isThenable<T>(x: T | Promise<T>): x is Promise<T> {
  return typeof (x as { then?: unknown } | null)?.then === 'function';
}

/** Dawn appends a call trace to its messages; the first line says what went wrong. */
function firstLine(message: string): string {
  return message.split('\n')[0].trim();
}
