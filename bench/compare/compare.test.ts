// The yardstick's smoke test (issue 17): the bundled driver runs Sieve and Transformers.js, each in its own process
// on Dawn (SwiftShader here), on the committed random model bench/compare/testdata/tiny (export/export.py, made on
// the GPU machine with transformers' greedy ids as its golden), 2 tokens each. It checks that both engines produced
// their tokens, that both equal transformers' ids (the fairness check), and that the report has every field. No
// timing is asserted.
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { missingFields, type Report } from './report.ts';

const here = fileURLToPath(new URL('.', import.meta.url));

/**
 * bench/compare's own packages (Transformers.js, WebLLM): `npm ci` there when missing or older than its lockfile.
 * Never through a link (a worktree that links another checkout's install): npm ci empties the folder the link points
 * to before it replaces the link, which on 2026-12-04 wiped /work/main's install from a worktree. A link whose
 * packages are there is used as it is; one without them is an error that says where to install.
 */
function ensureCompareModules(): void {
  const dir = join(here, 'node_modules');
  const installed = ['@huggingface/transformers', '@mlc-ai/web-llm'].every((p) => existsSync(join(dir, p, 'package.json')));
  if (existsSync(dir) && lstatSync(dir).isSymbolicLink()) {
    if (installed) return;
    throw new Error(`${dir} is a link to ${realpathSync(dir)} without Transformers.js and WebLLM: run \`npm ci\` in the checkout it points to`);
  }
  const marker = join(dir, '.package-lock.json');
  if (installed && existsSync(marker) && statSync(marker).mtimeMs >= statSync(join(here, 'package-lock.json')).mtimeMs) return;
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: here, stdio: 'inherit' });
}

describe('bench/compare (the yardstick)', () => {
  it('runs Sieve and Transformers.js on the same random model, greedy ids equal transformers\', and reports every field', () => {
    ensureCompareModules();
    const out = mkdtempSync(join(tmpdir(), 'sieve-compare-'));
    execFileSync(process.execPath, [join(here, 'build.mjs'), join(out, 'bundle')], { stdio: 'inherit' });
    const reportPath = join(out, 'report.json');
    execFileSync(process.execPath, [
      join(out, 'bundle/driver.mjs'), '--models', join(here, 'testdata/tiny'), '--formats', 'fp32', '--engines', 'sieve,transformers',
      '--contexts', '16', '--prompts', '8', '--reps', '1', '--decode-tokens', '1', '--golden-tokens', '2',
      '--chat-turns', '2', '--chat-user', '4', '--chat-reply', '2', '--bandwidth-bytes', String(1 << 20), '--out', reportPath, '--svg', join(out, 'chart.svg'),
      // One load per engine: on SwiftShader a load is mostly shader compilation (minutes on a busy machine), and the
      // second one says nothing the first does not.
      '--no-cached-load',
    ], { stdio: 'inherit', timeout: 600_000 });
    const report = JSON.parse(readFileSync(reportPath, 'utf8')) as Report;
    expect(missingFields(report)).toEqual([]);
    expect(report.cells).toHaveLength(1);
    const golden = JSON.parse(readFileSync(join(here, 'testdata/tiny/export.json'), 'utf8')).golden;
    expect(golden.by.transformers).toBeTruthy(); // the reference is transformers', recorded on the GPU machine
    // ... and Sieve's CPU reference forward agrees with it on these weights.
    const cpu = JSON.parse(execFileSync(process.execPath, [join(here, '../../bin/sieve.js'), 'generate', '--model', join(here, 'testdata/tiny'),
      '--ids', golden.prompt.join(','), '--max-tokens', '16', '--temperature', '0', '--backend', 'reference', '--json'], { encoding: 'utf8' }));
    expect(cpu.ids).toEqual(golden.ids);
    const engines = report.cells[0].engines;
    expect(engines.map((e) => e.engine)).toEqual(['sieve', 'transformers']);
    for (const e of engines) {
      expect(e.errors).toEqual([]);
      expect(e.fairness?.ids).toEqual(golden.ids.slice(0, 2));
      expect(e.fairness?.pass).toBe(true);
      expect(e.decodeTokensPerS['16'].samples).toHaveLength(1);
      expect(e.ttftMs['8'].samples).toHaveLength(1);
      expect(e.chat?.turnMs).toHaveLength(2);
      expect(e.peakGpuBytes).toBeGreaterThan(0);
    }
    expect(engines[0].chat?.reprefills).toBe(false); // Sieve served turn 2's prompt prefix from its cache
    expect(Object.keys(report.cells[0].ratiosToSieve.transformers.decodeTokensPerS)).toEqual(['16']);
    expect(readFileSync(join(out, 'chart.svg'), 'utf8')).toContain('<svg');
  }, 900_000);
});
