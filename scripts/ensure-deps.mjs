// Installs what a fresh machine lacks before `npm start` / `npm test`: npm packages, and for tests and the
// CLI's GPU backend Debian's chromium (+ the Vulkan loader Dawn needs in Node). Idempotent and quiet when done.
import { execSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function run(cmd, opts = {}) {
  console.log(`[sieve] ${cmd}`);
  execSync(cmd, { stdio: 'inherit', cwd: root, ...opts });
}

/** npm packages: `npm ci` when node_modules is missing or older than the lockfile. */
export function ensureNodeModules() {
  const marker = `${root}/node_modules/.package-lock.json`;
  const lock = `${root}/package-lock.json`;
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  run('npm ci --no-audit --no-fund');
}

function hasLibVulkan() {
  const r = spawnSync('sh', ['-c', 'ldconfig -p | grep -q libvulkan.so.1']);
  return r.status === 0;
}

/** Debian's chromium and libvulkan1 through apt-get (never a downloaded browser). */
export function ensureChromium() {
  const need = [];
  if (!existsSync('/usr/bin/chromium')) need.push('chromium');
  if (!hasLibVulkan()) need.push('libvulkan1');
  if (need.length === 0) return;
  const sudo = process.getuid && process.getuid() !== 0 ? 'sudo ' : '';
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run(`${sudo}apt-get update -qq`, { env });
  run(`${sudo}apt-get install -y -qq --no-install-recommends ${need.join(' ')}`, { env });
}

export function chromiumVersion() {
  try {
    return readFileSync('/usr/lib/chromium/chromium', { encoding: null }).length > 0 ? execSync('/usr/bin/chromium --version').toString().trim() : '';
  } catch {
    return '';
  }
}
