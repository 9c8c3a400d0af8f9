// Browser tests: Debian chromium (never a downloaded browser) with a software WebGPU adapter, against Vite.
import { defineConfig } from '@playwright/test';
import { CHROMIUM_PATH, chromiumArgs } from './e2e/browser.ts';

/** scripts/test.mjs picks a free port; 5173 when Playwright is run by hand. */
const PORT = Number(process.env.SIEVE_E2E_PORT ?? 5173);

export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.spec.ts',
  timeout: 300_000,
  // Two workers, one per core. Most of a browser test's time is a model load, and a load is its kernels' compiles
  // (22 pipelines, about 10 s on SwiftShader whatever the model's size), which run on one thread: the GPU process's
  // main thread (3194 of its 3293 CPU ticks over three loads, SwiftShader's two worker threads ~50 each). One worker
  // left the second core idle for most of the run. (The one-worker choice of 2026-11-28, 20.3 against 21.2 min,
  // predates the engine's own WGSL prefill; on a machine shared with other runs, no run gains from a core that is not
  // free.) No test asserts a time; every file's tests stay in one worker, in order. SIEVE_E2E_WORKERS overrides.
  workers: Number(process.env.SIEVE_E2E_WORKERS ?? 2),
  reporter: [['list'], ['json', { outputFile: '.playwright-results.json' }]],
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    launchOptions: { executablePath: CHROMIUM_PATH, args: chromiumArgs() },
  },
  webServer: {
    command: `SIEVE_NO_HMR=1 npx vite --port ${PORT} --strictPort`,
    url: `http://127.0.0.1:${PORT}/web/automation/index.html`,
    reuseExistingServer: !process.env.CI,
    timeout: 120_000,
  },
});
