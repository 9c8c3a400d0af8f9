// The hub module's face: the model catalog, cached resumable verified downloads (OPFS), quota and capability checks.
export {
  modelCatalog, findCatalogModel, parseCatalog, denseContext, LIMIT_PROFILES, LOAD_RESERVE_BYTES, catalogModelUrl, catalogModelConfig, downloadBytes, parameterCount,
  weightBytes, formatToFitTab, TAB_WEIGHT_BUDGET_BYTES, BYTES_PER_WEIGHT,
  type Catalog, type CatalogModel, type LimitProfileId, type CatalogFile, type CatalogSource, type ModelUrlOptions,
} from './catalog.ts';
export {
  checkQuota, checkCapabilities, modelNeeds, ggufModelNeeds, QUOTA_HEADROOM_BYTES, type AdapterCapabilities, type GgufTensorDescription, type ModelNeeds,
  type StorageEstimateLike,
} from './checks.ts';
export { parseEtag, announcedDigest, parseContentRange, isHubLayoutUrl, type ContentDigest, type ParsedEtag } from './etag.ts';
export { RateMeter, timeLeftMs, RATE_WINDOW_MS, type DownloadProgress } from './progress.ts';
export { fetchToStore, MAX_ATTEMPTS, type FetchToStoreOptions } from './download.ts';
export {
  MemoryModelStorage, OpfsModelStorage, defaultModelStorage, OPFS_ROOT_FOLDER, SEGMENT_BYTES,
  type ModelStorage, type ModelStore, type StoredFileMeta, type StoredModelManifest,
} from './store.ts';
export { openCachedModelSource, deleteCachedModel, isModelCached, type CachedModelSource, type CachedSourceOptions } from './source.ts';
