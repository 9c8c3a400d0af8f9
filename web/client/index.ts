// The page-side engine client's face: createEngine() starts the worker; the client speaks OpenAI's shapes.
export { createEngine, SieveClient, type CreateEngineOptions, type EngineClient, type EngineEndpoint } from './engine-client.ts';
export { RemoteEngine, type RemoteEngineOptions } from './remote-engine.ts';
export { HUGGING_FACE_ORIGIN, isHubRepoId, resolveModelUrl } from './model-url.ts';
export type * from './types.ts';
export { AbortedError, SieveError, type SieveErrorCode } from '../../engine/protocol.ts';
export { modelCatalog, findCatalogModel, catalogModelUrl, downloadBytes, type CatalogModel, type WeightFormat } from '../../engine/protocol.ts';
