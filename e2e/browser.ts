// How Sieve starts Debian's chromium for tests and the CLI: headless, software WebGPU (SwiftShader), no network noise.

export const CHROMIUM_PATH = process.env.SIEVE_CHROMIUM ?? '/usr/bin/chromium';

export function chromiumArgs(): string[] {
  return [
    '--enable-unsafe-webgpu',
    '--enable-unsafe-swiftshader',
    '--no-sandbox',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ];
}
