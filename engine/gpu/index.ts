// GPU module face: the engine's device and small buffer helpers.
export { createEngineDevice, readBuffer } from './device.ts';
export { patchSharedArrayBufferWrites } from './dawn-node-writes.ts';
export type { EngineDevice } from './device.ts';
export { accountBuffers, type BufferAccounting } from './buffer-accounting.ts';
export { countingEncoder, type DispatchCounts } from './dispatch-counts.ts';
export { checkGpuErrors, withDeferredGpuErrorScopes, withGpuErrorScopes, type ErrorScopeOptions } from './error-scope.ts';
export { isCpuAdapter, type AdapterFacts } from './adapter-kind.ts';
