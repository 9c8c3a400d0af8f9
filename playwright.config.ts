// Browser tests: Debian chromium (never a downloaded browser) with a software WebGPU adapter, against Vite.
import { defineConfig } from '@playwright/test';
import { CHROMIUM_PATH, chromiumArgs } from './e2e/browser.ts';

/** scripts/test.mjs picks a free port; 5173 when Playwright is run by hand. */
const PORT = Number(process.env.SIEVE_E2E_PORT ?? 5173);

export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.spec.ts',
  timeout: 300_000,
  // One worker: SwiftShader keeps both cores busy; two workers measured 20.3 min against 21.2 for one (the same
  // tests slowed about twofold), not worth timing-sensitive tests sharing the CPU. SIEVE_E2E_WORKERS overrides.
  workers: Number(process.env.SIEVE_E2E_WORKERS ?? 1),
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
