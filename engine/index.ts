// The engine's public face: what the worker, the pages and the CLI may import.
export { SieveEngine } from './engine.ts';
export type { DecodeProfile } from './runtime/index.ts';
export type { EngineGenerateRequest, EngineGenerateResult, EngineLoadOptions, EngineLogitsRequest, ModelInfo } from './engine.ts';
export * from './errors/index.ts';
export { installSieveErrorTransfer } from './worker-errors.ts';
export { EngineSession, SharedEngineHost, type EngineWorkerApi } from './sharing/index.ts';
export * from './shared-handshake.ts';
export { holdWorkerLife } from './worker-life.ts';
