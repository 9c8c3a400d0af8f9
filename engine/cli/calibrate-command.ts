// `sieve calibrate`: loads the model in Node, runs the calibration text through the CPU reference forward and
// writes the artifact JSON beside a writable model folder, or to --out.
import { readFile, writeFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { calibrate, calibrationOutputPath, type CalibrationArtifact } from '../calibration/node.ts';
import { ModelFetchError } from '../errors/index.ts';
import { loadModelFromPath } from '../model/node.ts';
import type { CalibrateCliOptions } from './args.ts';

/** JSON with one line per innermost number array (a head's channels or chunks): readable, and a diff shows heads. */
export function formatCalibration(artifact: CalibrationArtifact): string {
  return JSON.stringify(artifact, null, 2).replace(/\[\s*(-?[\d.eE+-]+(?:,\s*-?[\d.eE+-]+)*)\s*\]/g, (_, list: string) => `[${list.replace(/\s+/g, '')}]`) + '\n';
}

/** Runs the command; returns the path written. Progress goes to `log` (stderr in the CLI). */
export async function runCalibrate(opts: CalibrateCliOptions, log: (line: string) => void = () => {}): Promise<string> {
  // Decided first: a missing --out fails before minutes of CPU work.
  const out = calibrationOutputPath(opts.model, opts.method, opts.out);
  const textPath = resolve(opts.text);
  let text: string;
  try {
    text = await readFile(textPath, 'utf8');
  } catch (e) {
    throw new ModelFetchError(textPath, (e as NodeJS.ErrnoException).code ?? (e as Error).message);
  }
  const model = await loadModelFromPath(opts.model);
  const started = Date.now();
  const artifact = calibrate(model, opts.method, text, {
    textName: basename(textPath), tokens: opts.tokens, window: opts.window,
    onProgress: (done, total) => log(`calibrate ${opts.method}: ${done} / ${total} tokens`),
  });
  await writeFile(out, formatCalibration(artifact));
  log(`wrote ${opts.method} calibration of ${model.source} (${artifact.calibration.tokens} tokens, ${((Date.now() - started) / 1000).toFixed(1)} s) to ${out}`);
  return out;
}
