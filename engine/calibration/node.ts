// The calibration module's Node-only face: everything of ./index.ts plus reading artifacts from disk and deciding
// where `sieve calibrate` writes one (beside a writable model folder, or --out).
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { InvalidArgumentError, ModelFetchError } from '../errors/index.ts';
import { calibrationFileName, parseCalibrationBytes, type CalibrationArtifact, type CalibrationMethod } from './artifact.ts';

export * from './index.ts';

/**
 * The folder that holds a local model: the checkpoint folder itself, or the folder of a .gguf file. Null for URLs
 * (nothing can be written beside them).
 */
export function localModelFolder(model: string): string | null {
  if (/^https?:\/\//i.test(model)) return null;
  const path = resolve(model);
  if (!existsSync(path)) throw new ModelFetchError(path, 'no such file or folder');
  return statSync(path).isDirectory() ? path : dirname(path);
}

/**
 * Where `sieve calibrate` writes: `out` when given, else `<method>.calibration.json` in the model's folder when that
 * folder is writable. A URL or a read-only folder without `out` is an InvalidArgumentError asking for --out.
 */
export function calibrationOutputPath(model: string, method: CalibrationMethod, out?: string): string {
  if (out !== undefined) return resolve(out);
  const folder = localModelFolder(model);
  if (folder === null) throw new InvalidArgumentError('--out', `is required: the model ${model} is not a local folder to write ${calibrationFileName(method)} beside`);
  try {
    accessSync(folder, constants.W_OK);
  } catch {
    throw new InvalidArgumentError('--out', `is required: the model folder ${folder} is not writable`);
  }
  return join(folder, calibrationFileName(method));
}

/** Reads and validates an artifact file (BadCalibrationError when malformed; ModelFetchError when unreadable). */
export async function readCalibrationFile(path: string, expected?: CalibrationMethod): Promise<CalibrationArtifact> {
  const full = resolve(path);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(full);
  } catch (e) {
    throw new ModelFetchError(full, (e as NodeJS.ErrnoException).code ?? (e as Error).message);
  }
  return parseCalibrationBytes(bytes, full, expected);
}
