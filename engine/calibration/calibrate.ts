// Calibration: runs calibration text through the CPU reference forward, gathers the method's statistic from the
// post-RoPE queries and keys of every layer, and builds the artifact (schema in artifact.ts, docs/calibration.md).
import { InvalidArgumentError } from '../errors/index.ts';
import type { LoadedModel } from '../model/index.ts';
import { ReferenceModel } from '../reference/index.ts';
import { loadTokenizer } from '../tokenizer/index.ts';
import {
  CALIBRATION_FORMAT, CALIBRATION_VERSION, entriesPerHead, modelIdentity, type CalibrationArtifact, type CalibrationMethod,
} from './artifact.ts';
import { ChunkAgreement, QkChannelStatistic, rankDescending } from './statistics.ts';

/**
 * Tokens of calibration text run by default: Double Sparsity calibrates offline on a small sample (its statistic
 * converges within a few thousand tokens: the channel outliers are a property of the weights); 4096 keeps the CPU
 * forward of a sub-billion model within minutes.
 */
export const CALIBRATION_TOKENS = 4096;
/** Prefill window (one fresh sequence each); capped by the model's context. 512 = stories260K's trained context. */
export const CALIBRATION_WINDOW = 512;
/** FASA's K: the size of the top-K sets compared. Sieve's choice: 32, an eighth of the 256-token default budget. */
export const FASA_CALIBRATION_TOP_K = 32;
/** FASA's query positions evaluated per window (each costs H * (d/2 + 1) top-K selections on the CPU). */
export const FASA_QUERIES_PER_WINDOW = 64;

export interface CalibrateOptions {
  /** Name of the text (its file), recorded in the artifact. */
  textName: string;
  /** Tokens to run (default CALIBRATION_TOKENS); fewer when the text is shorter. */
  tokens?: number;
  window?: number;
  topK?: number;
  queriesPerWindow?: number;
  /** Called after each window with the tokens run so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

/** The windows a text's ids are cut into: each a fresh sequence starting with BOS when the model has one. */
export function calibrationWindows(ids: number[], bosTokenId: number | null, window: number, maxTokens: number): number[][] {
  const body = bosTokenId !== null && ids[0] === bosTokenId ? ids.slice(1) : ids;
  const perWindow = bosTokenId === null ? window : window - 1;
  const windows: number[][] = [];
  let used = 0;
  for (let at = 0; at < body.length && used < maxTokens; at += perWindow) {
    const take = Math.min(perWindow, body.length - at, maxTokens - used - (bosTokenId === null ? 0 : 1));
    if (take < 1) break;
    const w = body.slice(at, at + take);
    windows.push(bosTokenId === null ? w : [bosTokenId, ...w]);
    used += windows[windows.length - 1].length;
  }
  return windows;
}

/**
 * Calibrates `model` for `method` on `text`: tokenized with the model's own tokenizer, cut into windows, then
 * calibrateWindows. Throws InvalidArgumentError when the model has no tokenizer or the text is too short.
 */
export function calibrate(model: LoadedModel, method: CalibrationMethod, text: string, options: CalibrateOptions): CalibrationArtifact {
  const c = model.config;
  const tokenizer = loadTokenizer(model);
  if (!tokenizer) throw new InvalidArgumentError('model', `${model.source} has no tokenizer: calibration needs one to read the text`);
  const window = Math.min(options.window ?? CALIBRATION_WINDOW, c.maxPositionEmbeddings);
  const maxTokens = options.tokens ?? CALIBRATION_TOKENS;
  if (!Number.isInteger(maxTokens) || maxTokens < 2) throw new InvalidArgumentError('tokens', `must be an integer of at least 2, got ${maxTokens}`);
  if (!Number.isInteger(window) || window < 2) throw new InvalidArgumentError('window', `must be an integer of at least 2, got ${window}`);
  return calibrateWindows(model, method, calibrationWindows(tokenizer.encode(text), c.bosTokenId, window, maxTokens), { ...options, window });
}

/**
 * Calibrates on token windows (each a fresh sequence), run through ReferenceModel with an observer on every layer's
 * rotated q and k. `options.window` is recorded (default: the longest window). InvalidArgumentError when no window is
 * long enough to say anything.
 */
export function calibrateWindows(
  model: Pick<LoadedModel, 'config' | 'weights' | 'source'>, method: CalibrationMethod, windows: number[][], options: CalibrateOptions,
): CalibrationArtifact {
  const c = model.config;
  const topK = options.topK ?? FASA_CALIBRATION_TOP_K;
  const window = options.window ?? Math.max(0, ...windows.map((w) => w.length));
  const tokens = windows.reduce((n, w) => n + w.length, 0);
  // FASA needs queries with more than K candidates; Double Sparsity any token at all.
  const needed = method === 'fasa' ? topK + 1 : 1;
  if (!windows.some((w) => w.length >= needed + 1)) {
    throw new InvalidArgumentError('text', `gives ${tokens} tokens; ${method} calibration needs a window of more than ${needed} tokens`);
  }

  const shape = { numLayers: c.numLayers, numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, ropeLayout: c.ropeLayout };
  const qk = method === 'double-sparsity' ? new QkChannelStatistic(shape) : null;
  const agreement = method === 'fasa' ? new ChunkAgreement(shape, topK, options.queriesPerWindow ?? FASA_QUERIES_PER_WINDOW) : null;
  const reference = new ReferenceModel(c, model.weights, {
    observer: (layer, q, k, _start, n) => {
      qk?.add(layer, q, k, n);
      agreement?.add(layer, q, k, n);
    },
  });
  let done = 0;
  for (const ids of windows) {
    reference.reset();
    reference.prefill(ids);
    done += ids.length;
    options.onProgress?.(done, tokens);
  }

  // Key order is the file's order (docs/calibration.md): what it is, for which model, how made, then the data.
  const base = <M extends CalibrationMethod>(m: M) => ({
    format: CALIBRATION_FORMAT, version: CALIBRATION_VERSION, method: m, model: modelIdentity(c, model.source),
    shape: { layers: c.numLayers, heads: c.numHeads, entries: entriesPerHead(method, c.headDim) },
    calibration: { text: options.textName, tokens, window },
  } as const);
  const ranked = (values: number[][][]) => values.map((layer) => layer.map((row) => rankDescending(row)));
  if (qk) {
    const scores = qk.means();
    return { ...base('double-sparsity'), data: { statistic: 'qk', scores, ranks: ranked(scores) } };
  }
  const means = (agreement as ChunkAgreement).means();
  return { ...base('fasa'), data: { topK, queries: (agreement as ChunkAgreement).queries[0], agreement: means, ranks: ranked(means) } };
}
