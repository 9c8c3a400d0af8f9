// The calibration artifact (docs/calibration.md): its JSON schema as types, validation on load with typed errors
// naming the field, the check that it was made for the model at hand, and where it lives beside a model.
import { BadCalibrationError } from '../errors/index.ts';
import { urlSource, type FileSource, type ModelConfig, type RopeLayout } from '../model/index.ts';

/** Bumped when the schema changes incompatibly; a loader refuses other versions. */
export const CALIBRATION_VERSION = 1;
/** The `format` field: tells a calibration artifact from any other JSON file. */
export const CALIBRATION_FORMAT = 'sieve-calibration';

/** The methods `sieve calibrate` knows; each is also the name of the attention policy that reads its artifact. */
export const CALIBRATION_METHODS = ['double-sparsity', 'fasa'] as const;
export type CalibrationMethod = (typeof CALIBRATION_METHODS)[number];

export function isCalibrationMethod(name: string): name is CalibrationMethod {
  return (CALIBRATION_METHODS as readonly string[]).includes(name);
}

/** The artifact's name beside a model: `<method>.calibration.json`. */
export function calibrationFileName(method: CalibrationMethod): string {
  return `${method}.calibration.json`;
}

/** What the artifact says about the model it was made for; a model that differs in any of these is refused. */
export interface CalibrationModelIdentity {
  /** Where the model was loaded from (for messages only; not compared). */
  source: string;
  architecture: string;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  hiddenSize: number;
  vocabSize: number;
  ropeLayout: RopeLayout;
  ropeTheta: number;
}

/** How the statistics were gathered. */
export interface CalibrationRun {
  /** The calibration text (file name), for the record. */
  text: string;
  /** Tokens of the text run through the model, and the window (prefill length) they were cut into. */
  tokens: number;
  window: number;
}

/** Double Sparsity: per (layer, query head, channel) the "qk" statistic, and the channels ranked by it. */
export interface DoubleSparsityData {
  /** mean over calibration tokens of |q_c * k_c|, the token with itself, after RoPE (Double Sparsity's "qk" outliers). */
  statistic: 'qk';
  /** [numLayers][numHeads][headDim]. */
  scores: number[][][];
  /** [numLayers][numHeads][headDim]: channel indices, highest score first (ties: lower channel first). */
  ranks: number[][][];
}

/** FASA: per (layer, query head, RoPE frequency chunk) how often the chunk's top-K tokens agree with the head's. */
export interface FasaData {
  /** K of the top-K sets compared. */
  topK: number;
  /** Query positions averaged (per layer and head). */
  queries: number;
  /** [numLayers][numHeads][headDim / 2]: mean |chunk top-K ∩ head top-K| / K, in [0, 1]. */
  agreement: number[][][];
  /** [numLayers][numHeads][headDim / 2]: chunk indices, highest agreement first (ties: lower chunk first). */
  ranks: number[][][];
}

interface ArtifactBase {
  format: typeof CALIBRATION_FORMAT;
  version: typeof CALIBRATION_VERSION;
  model: CalibrationModelIdentity;
  /** Sizes of the data arrays: [layers][heads][entries] (entries: headDim channels, or headDim / 2 chunks). */
  shape: { layers: number; heads: number; entries: number };
  calibration: CalibrationRun;
}

export type DoubleSparsityCalibration = ArtifactBase & { method: 'double-sparsity'; data: DoubleSparsityData };
export type FasaCalibration = ArtifactBase & { method: 'fasa'; data: FasaData };
export type CalibrationArtifact = DoubleSparsityCalibration | FasaCalibration;

/** The model identity recorded in an artifact made for `config`. */
export function modelIdentity(config: ModelConfig, source: string): CalibrationModelIdentity {
  const c = config;
  return {
    source, architecture: c.architecture, numLayers: c.numLayers, numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim,
    hiddenSize: c.hiddenSize, vocabSize: c.vocabSize, ropeLayout: c.ropeLayout, ropeTheta: c.ropeTheta,
  };
}

/** Entries per head of a method's data: channels (Double Sparsity) or RoPE pairs (FASA). */
export function entriesPerHead(method: CalibrationMethod, headDim: number): number {
  return method === 'double-sparsity' ? headDim : headDim / 2;
}

type Json = Record<string, unknown>;

/**
 * Validates parsed JSON as an artifact; `file` names it in errors. Checks the format, version and method, every
 * field's type, the data arrays' shapes against `shape` and the model identity, values finite (agreement in
 * [0, 1]), and each ranks row a permutation ordered by its scores. Throws BadCalibrationError naming the field.
 */
export function parseCalibration(json: unknown, file: string, expected?: CalibrationMethod): CalibrationArtifact {
  const bad = (field: string, problem: string): never => {
    throw new BadCalibrationError(file, field, problem, expected ?? (isObject(json) && typeof json.method === 'string' ? json.method : undefined));
  };
  if (!isObject(json)) bad('(root)', 'is not a JSON object');
  const root = json as Json;
  if (root.format !== CALIBRATION_FORMAT) bad('format', `must be "${CALIBRATION_FORMAT}", got ${JSON.stringify(root.format)}`);
  if (root.version !== CALIBRATION_VERSION) bad('version', `this engine reads version ${CALIBRATION_VERSION}, got ${JSON.stringify(root.version)}`);
  const method = root.method;
  if (typeof method !== 'string' || !isCalibrationMethod(method)) bad('method', `must be one of ${CALIBRATION_METHODS.join(', ')}, got ${JSON.stringify(method)}`);
  if (expected && method !== expected) bad('method', `is "${method}"; the ${expected} policy needs a ${expected} calibration`);
  const m = method as CalibrationMethod;

  const model = object(root.model, 'model', bad);
  const int = (o: Json, key: string, path: string, min = 1) => {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) bad(`${path}.${key}`, `must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const str = (o: Json, key: string, path: string) => {
    if (typeof o[key] !== 'string') bad(`${path}.${key}`, `must be a string, got ${JSON.stringify(o[key])}`);
    return o[key] as string;
  };
  str(model, 'source', 'model');
  str(model, 'architecture', 'model');
  for (const key of ['numLayers', 'numHeads', 'numKvHeads', 'headDim', 'hiddenSize', 'vocabSize']) int(model, key, 'model');
  if (model.ropeLayout !== 'half' && model.ropeLayout !== 'interleaved') bad('model.ropeLayout', `must be "half" or "interleaved", got ${JSON.stringify(model.ropeLayout)}`);
  if (typeof model.ropeTheta !== 'number' || !(model.ropeTheta > 0)) bad('model.ropeTheta', `must be a positive number, got ${JSON.stringify(model.ropeTheta)}`);
  if ((model.headDim as number) % 2 !== 0) bad('model.headDim', `must be even (RoPE pairs), got ${model.headDim}`);
  if ((model.numHeads as number) % (model.numKvHeads as number) !== 0) bad('model.numKvHeads', `${model.numKvHeads} KV heads do not divide ${model.numHeads} query heads`);

  const shape = object(root.shape, 'shape', bad);
  const L = int(shape, 'layers', 'shape');
  const H = int(shape, 'heads', 'shape');
  const E = int(shape, 'entries', 'shape');
  if (L !== model.numLayers) bad('shape.layers', `is ${L}; the model has ${model.numLayers} layers`);
  if (H !== model.numHeads) bad('shape.heads', `is ${H}; the model has ${model.numHeads} query heads`);
  const wantE = entriesPerHead(m, model.headDim as number);
  if (E !== wantE) bad('shape.entries', `is ${E}; ${m} keeps ${wantE} entries per head (head dim ${model.headDim})`);

  const run = object(root.calibration, 'calibration', bad);
  str(run, 'text', 'calibration');
  int(run, 'tokens', 'calibration');
  int(run, 'window', 'calibration');

  const data = object(root.data, 'data', bad);
  let values: number[][][];
  if (m === 'double-sparsity') {
    if (data.statistic !== 'qk') bad('data.statistic', `must be "qk", got ${JSON.stringify(data.statistic)}`);
    values = cube(data.scores, 'data.scores', L, H, E, bad, 0, Infinity);
  } else {
    const topK = int(data, 'topK', 'data');
    int(data, 'queries', 'data');
    if (topK < 1) bad('data.topK', 'must be at least 1');
    values = cube(data.agreement, 'data.agreement', L, H, E, bad, 0, 1);
  }
  const ranks = cube(data.ranks, 'data.ranks', L, H, E, bad, 0, E - 1);
  for (let l = 0; l < L; l++) {
    for (let h = 0; h < H; h++) {
      const row = ranks[l][h];
      const seen = new Uint8Array(E);
      row.forEach((e, i) => {
        const where = `data.ranks[${l}][${h}][${i}]`;
        if (!Number.isInteger(e)) bad(where, `must be an integer index, got ${e}`);
        if (seen[e]) bad(where, `repeats index ${e}: a rank row must list every index once`);
        seen[e] = 1;
        if (i === 0) return;
        const before = values[l][h][row[i - 1]];
        const here = values[l][h][e];
        if (before < here || (before === here && row[i - 1] > e)) {
          bad(where, `index ${e} is out of order: ranks follow the scores, highest first, equal scores lower index first`);
        }
      });
    }
  }
  return root as unknown as CalibrationArtifact;
}

/**
 * Throws BadCalibrationError when `artifact` was made for a model unlike `config` (layers, heads, head dim, RoPE
 * layout and theta, architecture, hidden size, vocabulary): its channel and chunk indices would mean nothing there.
 */
export function checkCalibrationFits(artifact: CalibrationArtifact, config: ModelConfig, file: string): void {
  const want = modelIdentity(config, '');
  const got = artifact.model;
  for (const key of ['architecture', 'numLayers', 'numHeads', 'numKvHeads', 'headDim', 'hiddenSize', 'vocabSize', 'ropeLayout', 'ropeTheta'] as const) {
    if (got[key] !== want[key]) {
      throw new BadCalibrationError(file, `model.${key}`, `it was made for a model with ${key} ${got[key]} (${got.source}); this model has ${want[key]}`, artifact.method);
    }
  }
}

/**
 * The artifact of `method` beside a model, read through the folder's FileSource (a URL folder, a local folder), or
 * null when there is none. A file that is there but invalid throws BadCalibrationError.
 */
export async function readCalibrationBeside(folder: FileSource, method: CalibrationMethod): Promise<CalibrationArtifact | null> {
  const name = calibrationFileName(method);
  const bytes = await folder.read(name);
  if (bytes === null) return null;
  const file = `${folder.description.replace(/\/+$/, '')}/${name}`;
  return parseCalibrationBytes(bytes, file, method);
}

/** Parses an artifact from its file bytes (UTF-8 JSON). */
export function parseCalibrationBytes(bytes: Uint8Array, file: string, expected?: CalibrationMethod): CalibrationArtifact {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new BadCalibrationError(file, '(root)', `is not JSON (${(e as Error).message})`, expected);
  }
  return parseCalibration(json, file, expected);
}

function isObject(x: unknown): x is Json {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function object(x: unknown, field: string, bad: (field: string, problem: string) => never): Json {
  if (!isObject(x)) bad(field, 'must be an object');
  return x as Json;
}

/** A [L][H][E] array of finite numbers in [min, max]. */
function cube(x: unknown, field: string, L: number, H: number, E: number, bad: (field: string, problem: string) => never, min: number, max: number): number[][][] {
  if (!Array.isArray(x) || x.length !== L) bad(field, `must be an array of ${L} layers`);
  (x as unknown[]).forEach((layer, l) => {
    if (!Array.isArray(layer) || layer.length !== H) bad(`${field}[${l}]`, `must be an array of ${H} heads`);
    (layer as unknown[]).forEach((row, h) => {
      if (!Array.isArray(row) || row.length !== E) bad(`${field}[${l}][${h}]`, `must be an array of ${E} numbers`);
      (row as unknown[]).forEach((v, i) => {
        if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) bad(`${field}[${l}][${h}][${i}]`, `must be a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
      });
    });
  });
  return x as number[][][];
}

/**
 * The folder a model URL's artifacts live in, as a FileSource: the URL itself for a checkpoint folder, the folder of
 * a .gguf file URL. Relative URLs resolve against the page or worker; null when there is no http(s) URL to read.
 */
export function calibrationFolderOfUrl(url: string): FileSource | null {
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  let absolute: URL;
  try {
    absolute = new URL(url, base);
  } catch {
    return null;
  }
  if (absolute.protocol !== 'http:' && absolute.protocol !== 'https:') return null;
  absolute.search = '';
  absolute.hash = '';
  const folder = absolute.pathname.toLowerCase().endsWith('.gguf') ? new URL('.', absolute) : absolute;
  return urlSource(folder.href);
}
