// `npm test`: installs what is missing, runs the unit tests (Vitest, Node) and the browser tests
// (Playwright, Debian chromium with WebGPU), and ends with one plain line CI reads: "N passed, N failed".
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ensureChromium, ensureNodeModules } from './ensure-deps.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
ensureNodeModules();
ensureChromium();

const vitestJson = `${root}/.vitest-results.json`;
const playwrightJson = `${root}/.playwright-results.json`;
rmSync(vitestJson, { force: true });
rmSync(playwrightJson, { force: true });

const bin = (name) => `${root}/node_modules/.bin/${name}`;
const extra = process.argv.slice(2);

const vitest = spawnSync(bin('vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile=${vitestJson}`, ...extra], {
  stdio: 'inherit', cwd: root,
});
/** A free port for the browser tests' Vite server, so a dev server on 5173 never collides with a test run. */
const port = await new Promise((resolve) => {
  const srv = createServer();
  srv.listen(0, '127.0.0.1', () => { const p = srv.address().port; srv.close(() => resolve(p)); });
});
const playwright = spawnSync(bin('playwright'), ['test', ...extra], {
  stdio: 'inherit', cwd: root, env: { ...process.env, SIEVE_E2E_PORT: String(port) },
});

let passed = 0;
let failed = 0;
if (existsSync(vitestJson)) {
  const r = JSON.parse(readFileSync(vitestJson, 'utf8'));
  passed += r.numPassedTests ?? 0;
  failed += (r.numFailedTests ?? 0);
  // A file that failed to load has no tests counted: count it as a failure so it is not missed.
  for (const f of r.testResults ?? []) if (f.status === 'failed' && (f.assertionResults ?? []).length === 0) failed += 1;
  // A crashed worker or an unhandled error fails the run without failing a test: count it too.
  if (vitest.status !== 0 && (r.numFailedTests ?? 0) === 0) failed += 1;
} else if (vitest.status !== 0) {
  failed += 1;
}
if (existsSync(playwrightJson)) {
  const r = JSON.parse(readFileSync(playwrightJson, 'utf8'));
  passed += r.stats?.expected ?? 0;
  failed += (r.stats?.unexpected ?? 0) + (r.stats?.flaky ?? 0);
  // Errors outside tests (the web server did not start, a spec failed to load) count as failures.
  failed += (r.errors ?? []).length;
} else if (playwright.status !== 0) {
  failed += 1;
}
if (passed + failed === 0) failed = 1; // a run that executed nothing is a failure
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && vitest.status === 0 && playwright.status === 0 ? 0 : 1);
