// The engine's light face for pages: request/response types, typed errors and the worker error transfer,
// without pulling the engine itself (its kernels) into the page bundle.
export type { EngineGenerateRequest, EngineGenerateResult, EngineLoadOptions, EngineLogitsRequest, ModelInfo, SieveEngine } from './engine.ts';
// The model catalog for pickers (models/catalog.json and its pure helpers; no downloads or GPU code).
export {
  modelCatalog, findCatalogModel, catalogModelUrl, downloadBytes, type CatalogModel,
} from './hub/index.ts';
// The client API's name for engine/quant's one weight-format type (a catalog model's `quantization`).
export type { QuantizationMode as WeightFormat } from './quant/index.ts';
export * from './errors/index.ts';
export { installSieveErrorTransfer } from './worker-errors.ts';
export type { DecodeProfile } from './runtime/index.ts';
export type { PrefillProgress } from './generation/index.ts';
export type * from './api/index.ts';
export type { LoadProgress } from './model/index.ts';
// One engine for every tab: the worker-side API both worker kinds expose, and the shared worker's handshake.
export type { EngineWorkerApi } from './sharing/index.ts';
export * from './shared-handshake.ts';
export { watchWorkerLife } from './worker-life.ts';
