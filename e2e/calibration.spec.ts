// Calibration as a user meets it, through the `sieve` CLI and the engine in Chromium: Double Sparsity on a model
// without its artifact fails with the typed error that says how to make one; `sieve calibrate` writes it beside the
// model, where the engine then finds it; FASA takes an artifact written elsewhere with --calibration. With budgets
// covering the sequence both generate dense's greedy ids (dense by the CPU reference: each webgpu run starts a browser
// and compiles the model's kernels, about 10 s here, and GPU dense is cli.spec's; the ids are the same, 20 of 20);
// small budgets still generate.
import { expect, test } from '@playwright/test';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliError, REPO_ROOT, runSieve, SHARED_MODELS } from './host.ts';

const TEXT = join(REPO_ROOT, 'node_modules', '@stdlib', 'datasets-moby-dick', 'data', 'chapter_1.txt');
/** 30 prompt ids (BOS + text-like ids), then 20 greedy tokens: 50 positions, under the covering budget of 64. */
const PROMPT = [1, ...Array.from({ length: 29 }, (_, i) => 3 + ((i * 131) % 500))];
const GENERATE = 20;

function generate(model: string, extra: string[]): { status: number | null; ids: number[]; stderr: string } {
  const r = runSieve(['generate', '--model', model, '--ids', PROMPT.join(','), '--max-tokens', String(GENERATE), '--temperature', '0',
    '--ignore-eos', '--json', ...extra]);
  return { status: r.status, ids: r.status === 0 ? (JSON.parse(r.stdout.trim()) as { ids: number[] }).ids : [], stderr: r.stderr };
}

test('double-sparsity and fasa: missing calibration, sieve calibrate, the artifact beside the model or --calibration', () => {
  test.setTimeout(600_000);
  const folder = mkdtempSync(join(tmpdir(), 'sieve-e2e-calibration-'));
  try {
    const model = join(folder, 'stories260K.gguf');
    copyFileSync(join(SHARED_MODELS, 'stories260K', 'stories260K.gguf'), model);

    const missing = generate(model, ['--attention', 'double-sparsity:budget=64,channels=2,dense-layers=1']);
    expect(missing.status).toBe(1);
    const error = cliError(missing.stderr);
    expect(error).toMatchObject({ code: 'CALIBRATION_MISSING', name: 'CalibrationMissingError' });
    expect(String(error.message)).toMatch(/needs a double-sparsity calibration of this model; none was given at load, and there is no double-sparsity\.calibration\.json beside the model/);
    expect(String(error.remedy)).toMatch(/sieve calibrate --model <model> --method double-sparsity --text FILE/);

    const calibrated = runSieve(['calibrate', '--model', model, '--method', 'double-sparsity', '--text', TEXT, '--tokens', '2048']);
    expect(calibrated.status, calibrated.stderr).toBe(0);
    expect(existsSync(join(folder, 'double-sparsity.calibration.json'))).toBe(true);
    const fasaRun = runSieve(['calibrate', '--model', model, '--method', 'fasa', '--text', TEXT, '--tokens', '2048', '--out', join(folder, 'fasa-elsewhere.json')]);
    expect(fasaRun.status, fasaRun.stderr).toBe(0);

    const dense = generate(model, ['--backend', 'reference']);
    expect(dense.status, dense.stderr).toBe(0);
    const ds = generate(model, ['--attention', 'double-sparsity:budget=64,channels=2,dense-layers=1']);
    expect(ds.status, ds.stderr).toBe(0);
    expect(ds.ids).toEqual(dense.ids);
    const fasaMissing = generate(model, ['--attention', 'fasa:budget=64,chunks=2']);
    expect(cliError(fasaMissing.stderr).code).toBe('CALIBRATION_MISSING');
    const fasa = generate(model, ['--attention', 'fasa:budget=64,chunks=2', '--calibration', join(folder, 'fasa-elsewhere.json')]);
    expect(fasa.status, fasa.stderr).toBe(0);
    expect(fasa.ids).toEqual(dense.ids);
    // Small budgets read 8 of up to 50 tokens per step at layers 1.. and still generate.
    const small = generate(model, ['--attention', 'double-sparsity:budget=8,dense-layers=1']);
    expect(small.status, small.stderr).toBe(0);
    expect(small.ids.length).toBe(GENERATE);
    console.log(`dense ${JSON.stringify(dense.ids)}\ndouble-sparsity budget 8 ${JSON.stringify(small.ids)}`);
    // A malformed artifact is refused naming its field, before the browser starts.
    const bad = JSON.parse(readFileSync(join(folder, 'double-sparsity.calibration.json'), 'utf8'));
    bad.data.ranks[1][0].reverse();
    writeFileSync(join(folder, 'bad.json'), JSON.stringify(bad));
    const wrong = generate(model, ['--attention', 'double-sparsity', '--calibration', join(folder, 'bad.json')]);
    expect(cliError(wrong.stderr)).toMatchObject({ code: 'BAD_CALIBRATION', message: expect.stringMatching(/bad\.json: data\.ranks\[1\]\[0\]\[1\]: index \d is out of order/) });
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});
