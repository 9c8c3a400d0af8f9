// Browser benches: the e2e setup (Debian chromium, software WebGPU, Vite) over bench/browser/*.spec.ts, which are too
// slow for npm test's budget. Run: SIEVE_E2E_PORT=<port> npx playwright test -c bench/browser
import { defineConfig } from '@playwright/test';
import base from '../../playwright.config.ts';

export default defineConfig({
  ...base,
  testDir: '.',
  timeout: 900_000,
  reporter: [['list']],
  // Vite's first start compiles the engine for the page: slow on the shared machine.
  webServer: { ...(base.webServer as object), timeout: 300_000 } as typeof base.webServer,
});
