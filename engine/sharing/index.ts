// One engine for every tab: the SharedWorker's host of one SieveEngine, and each tab's session on it.
export { EngineSession, SharedEngineHost, type EngineWorkerApi } from './shared-engine-host.ts';
