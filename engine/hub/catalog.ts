// The model catalog (models/catalog.json): typed, validated, and turned into URLs, download sizes and GPU needs.
import { BadModelFileError } from '../errors/index.ts';
import { DEFAULT_KV_MEMORY_BYTES, kvCapacity } from '../kv/index.ts';
import { expectedTensorShapes, HUGGING_FACE_ORIGIN, parseHfConfig, type ModelConfig } from '../model/index.ts';
import { QUANTIZATION_MODES, quantizationSpec, quantizedBytes, type QuantizationMode } from '../quant/index.ts';
import catalogJson from '../../models/catalog.json';

const CATALOG_FILE = 'models/catalog.json';


/**
 * Bytes per weight on the GPU, as engine/quant stores each load option: f32 4, f16 2; int8 and int4 in symmetric
 * blocks of QUANT_BLOCK_SIZE (32) codes with one f32 scale each, (32 * 8 + 32) / 32 = 9 bits and (32 * 4 + 32) / 32 =
 * 5 bits. Norm vectors stay f32 (under 0.1% of a catalog model's weights); a GGUF's own blocks are ggufModelNeeds'.
 */
export const BYTES_PER_WEIGHT: Readonly<Record<QuantizationMode, number>> = Object.fromEntries(QUANTIZATION_MODES.map((mode) => {
  const spec = quantizationSpec(mode);
  return [mode, spec ? quantizedBytes(1, spec.blockSize, spec) / spec.blockSize : mode === 'f16' ? 2 : 4];
})) as Record<QuantizationMode, number>;

/**
 * Weight bytes a tab can give a model: 1 GiB, the low end of the 1-4 GB per-tab memory caps DESIGN.md names, so the
 * KV cache, activations and the JS heap still fit beside the weights. A catalog model's `quantization` is the first
 * format of QUANTIZATION_MODES (least loss first) whose weights fit this budget (checked by catalog.test.ts).
 */
export const TAB_WEIGHT_BUDGET_BYTES = 2 ** 30;

/**
 * The two GPUs the catalog states dense contexts for. The KV pool a model gets there: the profile's kvMemory, or what
 * the GPU has left after the weights (in the catalog's format) and LOAD_RESERVE_BYTES, whichever is less.
 * - integrated-4gb: a 4 GB integrated GPU (system memory shared with the browser), loaded with the default kvMemory
 *   (DEFAULT_KV_MEMORY_BYTES, 1 GiB).
 * - discrete-8gb: an 8 GB discrete GPU, loaded with kvMemory: 4 GiB (half the card, leaving room for the display and
 *   other tabs).
 */
export const LIMIT_PROFILES = [
  { id: 'integrated-4gb', name: '4 GB integrated GPU', gpuMemoryBytes: 4 * 2 ** 30, kvMemoryBytes: DEFAULT_KV_MEMORY_BYTES },
  { id: 'discrete-8gb', name: '8 GB discrete GPU', gpuMemoryBytes: 8 * 2 ** 30, kvMemoryBytes: 4 * 2 ** 30 },
] as const;
export type LimitProfileId = (typeof LIMIT_PROFILES)[number]['id'];

/** GPU memory a load needs beside weights and KV pool: activations, ORT's sessions and buffers, staging (estimate). */
export const LOAD_RESERVE_BYTES = 512 * 2 ** 20;

/** Dense tokens of the model under each limit profile (what catalog.json's `denseContext` must state). */
export function denseContext(model: CatalogModel): Record<LimitProfileId, number> {
  const config = catalogModelConfig(model);
  const weights = weightBytes(model.parameters, model.quantization);
  const out = {} as Record<LimitProfileId, number>;
  for (const p of LIMIT_PROFILES) {
    const kvMemory = Math.max(0, Math.min(p.kvMemoryBytes, p.gpuMemoryBytes - weights - LOAD_RESERVE_BYTES));
    out[p.id] = kvCapacity(config, config.maxPositionEmbeddings, kvMemory).tokens;
  }
  return out;
}

export interface CatalogFile {
  /** Path inside the repository or folder. */
  path: string;
  /** Size in bytes: exact when `sha256` is given (measured), else an estimate (see the model's `sources`). */
  approxBytes: number;
  /** Stored with Git LFS on the hub (its ETag is then the file's sha256). */
  lfs: boolean;
  /** Known sha256 of the file (hex), checked after download when the server sends none. */
  sha256?: string;
}

export type CatalogSource =
  | { kind: 'hub'; repo: string; revision: string }
  /** A URL relative to the app (the project's own models, served beside the page). */
  | { kind: 'url'; url: string };

export interface CatalogModel {
  id: string;
  name: string;
  source: CatalogSource;
  license: string;
  /** The hub asks for an access token (and an accepted license) before serving the files. */
  gated: boolean;
  parameters: number;
  checkpointDtype: 'f32' | 'f16' | 'bf16';
  /** The weight format the model needs to fit a browser tab (TAB_WEIGHT_BUDGET_BYTES). */
  quantization: QuantizationMode;
  /** The fields of the model's config.json that size it (parsed with the engine's own parseHfConfig). */
  config: Record<string, unknown>;
  files: CatalogFile[];
  /** Positions a dense sequence holds under each LIMIT_PROFILES entry (f32 KV; denseContext() computes them). */
  denseContext: Record<LimitProfileId, number>;
  /** Where each figure comes from, by field name. */
  sources: Record<string, string>;
}

export interface Catalog {
  version: 1;
  models: CatalogModel[];
}

/** The catalog shipped with Sieve (models/catalog.json), validated once. */
let bundled: Catalog | null = null;
export function modelCatalog(): Catalog {
  bundled ??= parseCatalog(catalogJson);
  return bundled;
}

export function findCatalogModel(id: string, catalog: Catalog = modelCatalog()): CatalogModel | null {
  return catalog.models.find((m) => m.id === id) ?? null;
}

/** Validates catalog JSON; throws BadModelFileError naming the model and field that is wrong. */
export function parseCatalog(json: unknown, file = CATALOG_FILE): Catalog {
  if (!isObject(json)) throw new BadModelFileError(file, '(root)', 'is not a JSON object');
  if (json.version !== 1) throw new BadModelFileError(file, 'version', `is ${JSON.stringify(json.version)}, expected 1`);
  if (!Array.isArray(json.models)) throw new BadModelFileError(file, 'models', 'is not an array');
  const ids = new Set<string>();
  const models = json.models.map((m, i): CatalogModel => {
    const at = (field: string) => `models[${i}]${isObject(m) && typeof m.id === 'string' ? ` (${m.id})` : ''}.${field}`;
    const fail = (field: string, problem: string): never => { throw new BadModelFileError(file, at(field), problem); };
    if (!isObject(m)) return fail('', 'is not an object');
    const str = (field: string): string => (typeof m[field] === 'string' && (m[field] as string).length > 0 ? m[field] as string : fail(field, 'is not a non-empty string'));
    const id = str('id');
    if (!/^[\w.-]+$/.test(id)) fail('id', 'may hold only letters, digits, "_", "." and "-"');
    if (ids.has(id)) fail('id', 'appears twice');
    ids.add(id);
    const source = parseSource(m.source, (problem) => fail('source', problem));
    const parameters = m.parameters;
    if (typeof parameters !== 'number' || !Number.isSafeInteger(parameters) || parameters <= 0) fail('parameters', 'is not a positive integer');
    if (!['f32', 'f16', 'bf16'].includes(m.checkpointDtype as string)) fail('checkpointDtype', 'is not one of f32, f16, bf16');
    if (!QUANTIZATION_MODES.includes(m.quantization as QuantizationMode)) fail('quantization', `is not one of ${QUANTIZATION_MODES.join(', ')}`);
    if (typeof m.gated !== 'boolean') fail('gated', 'is not a boolean');
    if (m.gated && source.kind !== 'hub') fail('gated', 'only hub models can be gated');
    if (!isObject(m.config)) fail('config', 'is not an object');
    try {
      parseHfConfig(m.config, `${file} ${at('config')}`);
    } catch (e) {
      fail('config', (e as Error).message);
    }
    if (!Array.isArray(m.files) || m.files.length === 0) fail('files', 'is not a non-empty array');
    const paths = new Set<string>();
    const files = (m.files as unknown[]).map((f, j): CatalogFile => {
      const ff = (problem: string): never => fail(`files[${j}]`, problem);
      if (!isObject(f)) return ff('is not an object');
      if (typeof f.path !== 'string' || f.path.length === 0 || f.path.startsWith('/') || f.path.split('/').includes('..')) ff('path is not a relative path inside the model');
      if (paths.has(f.path as string)) ff(`path ${f.path} appears twice`);
      paths.add(f.path as string);
      if (typeof f.approxBytes !== 'number' || !Number.isSafeInteger(f.approxBytes) || f.approxBytes <= 0) ff('approxBytes is not a positive integer');
      if (typeof f.lfs !== 'boolean') ff('lfs is not a boolean');
      if (f.sha256 !== undefined && (typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256))) ff('sha256 is not 64 lowercase hex digits');
      return { path: f.path as string, approxBytes: f.approxBytes as number, lfs: f.lfs as boolean, ...(f.sha256 ? { sha256: f.sha256 as string } : {}) };
    });
    if (!isObject(m.denseContext)) fail('denseContext', 'is not an object');
    const dense = m.denseContext as Record<string, unknown>;
    for (const p of LIMIT_PROFILES) {
      if (typeof dense[p.id] !== 'number' || !Number.isSafeInteger(dense[p.id]) || (dense[p.id] as number) < 0) fail(`denseContext.${p.id}`, 'is not a non-negative integer');
    }
    if (!isObject(m.sources)) fail('sources', 'is not an object');
    for (const field of ['config', 'parameters', 'approxBytes', 'quantization']) {
      const s = (m.sources as Record<string, unknown>)[field];
      if (typeof s !== 'string' || s.length === 0) fail(`sources.${field}`, 'must say where the figure comes from');
    }
    return {
      id, name: str('name'), source, license: str('license'), gated: m.gated as boolean, parameters: parameters as number,
      checkpointDtype: m.checkpointDtype as CatalogModel['checkpointDtype'], quantization: m.quantization as QuantizationMode,
      config: m.config as Record<string, unknown>, files, denseContext: dense as Record<LimitProfileId, number>, sources: m.sources as Record<string, string>,
    };
  });
  return { version: 1, models };
}

function parseSource(v: unknown, fail: (problem: string) => never): CatalogSource {
  if (!isObject(v)) return fail('is not an object');
  if (v.kind === 'hub') {
    if (typeof v.repo !== 'string' || !/^[\w.-]+\/[\w.-]+$/.test(v.repo)) fail('repo is not of the form <org>/<name>');
    if (typeof v.revision !== 'string' || v.revision.length === 0 || v.revision.includes('/')) fail('revision is not a branch, tag or commit');
    return { kind: 'hub', repo: v.repo as string, revision: v.revision as string };
  }
  if (v.kind === 'url') {
    if (typeof v.url !== 'string' || v.url.length === 0) fail('url is not a non-empty string');
    return { kind: 'url', url: v.url as string };
  }
  return fail('kind is neither "hub" nor "url"');
}

export interface ModelUrlOptions {
  /** Where hub repositories are served (a mirror, or the test server); default https://huggingface.co. */
  hubOrigin?: string;
  /** What `url` sources resolve against (the page's address). */
  appBase?: string;
}

/**
 * The URL the engine loads: `<hubOrigin>/<repo>/resolve/<revision>/` for hub models (with a trailing slash: a base
 * URL), the `url` (absolute against appBase when given) for the project's own.
 */
export function catalogModelUrl(model: CatalogModel, options: ModelUrlOptions = {}): string {
  if (model.source.kind === 'url') return options.appBase ? new URL(model.source.url, options.appBase).href : model.source.url;
  const origin = (options.hubOrigin ?? HUGGING_FACE_ORIGIN).replace(/\/+$/, '');
  return `${origin}/${model.source.repo}/resolve/${encodeURIComponent(model.source.revision)}/`;
}

/** Bytes to download (the sum of the files' sizes; estimates where the catalog has no exact size). */
export function downloadBytes(model: CatalogModel): number {
  return model.files.reduce((a, f) => a + f.approxBytes, 0);
}

/** The model's config as the engine normalizes it. */
export function catalogModelConfig(model: CatalogModel): ModelConfig {
  return parseHfConfig(model.config, `${CATALOG_FILE} ${model.id}.config`);
}

/** Parameters the config implies (weights the engine would hold; a tied lm_head counted once). */
export function parameterCount(config: ModelConfig): number {
  let n = 0;
  for (const shape of expectedTensorShapes(config).required.values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

/** Weight bytes held on the GPU in `format`. */
export function weightBytes(parameters: number, format: QuantizationMode): number {
  return Math.ceil(parameters * BYTES_PER_WEIGHT[format]);
}

/** The least lossy format whose weights fit TAB_WEIGHT_BUDGET_BYTES (int4 when nothing does). */
export function formatToFitTab(parameters: number, budget = TAB_WEIGHT_BUDGET_BYTES): QuantizationMode {
  return QUANTIZATION_MODES.find((f) => weightBytes(parameters, f) <= budget) ?? 'int4';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
