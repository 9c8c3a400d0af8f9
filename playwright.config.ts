// Browser tests: Debian chromium (never a downloaded browser) with a software WebGPU adapter, against Vite.
import { defineConfig } from '@playwright/test';
import { CHROMIUM_PATH, chromiumArgs } from './e2e/browser.ts';

export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.spec.ts',
  timeout: 300_000,
  workers: 1,
  reporter: [['list'], ['json', { outputFile: '.playwright-results.json' }]],
  use: {
    baseURL: 'http://127.0.0.1:5173',
    launchOptions: { executablePath: CHROMIUM_PATH, args: chromiumArgs() },
  },
  webServer: {
    command: 'SIEVE_NO_HMR=1 npx vite --port 5173 --strictPort',
    url: 'http://127.0.0.1:5173/web/automation/index.html',
    reuseExistingServer: !process.env.CI,
    timeout: 120_000,
  },
});
