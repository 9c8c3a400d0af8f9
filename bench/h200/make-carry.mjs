// Builds the device carry .carry/h200/ (ignored by git; the device tool's `carry: [".carry/h200"]`): everything the
// H200 run needs that is not a tracked file, packed small because what travels (tracked + untracked + carry) is at
// most 64 MiB:
//   node.xz                this machine's node 20, stripped, xz --x86 -9e (~21 MB)
//   dawn.node.xz           the `webgpu` package's Dawn, stripped, xz
//   debs/*.deb             libvulkan1 + the GL libraries NVIDIA's Vulkan ICD loads through glvnd (all 7 are needed:
//                          without libegl1/libgl1/... the loader finds no driver, the 2026-12-02 run)
//   ort.wasm.xz            ONE copy of onnxruntime-web's asyncify wasm, which both bundles use (run.sh links it)
//   node-bench.tar.xz      bench/build-node-bench.mjs's bundles (its list of entry points), without wasm and dawn.node
//   yardstick.tar.xz       bench/compare/build.mjs --no-dawn, without the wasm
//   models.tar.xz          the tracked files the segments read that xz shrinks most (sieve-tiny's weights, 18 -> 13.5
//                          MiB, and its transformers logits): `node bench/h200/slim-tree.mjs hide` leaves them out of
//                          the tree and run.sh unpacks them where they are missing (~5 MiB less travels)
//   webllm/*.wasm.xz       WebLLM's prebuilt model libraries (mlc-ai/binary-mlc-llm-libs, v0_2_48: Qwen2-0.5B and
//                          Llama-3.2-1B q0f16, ~1 MB each xz'd; yardstick.pre.sh names which shape each serves)
// `node bench/h200/make-carry.mjs [--check]` prints the sizes; --check fails when the carry is over its 52 MiB share
// (what travels in all, tree + carry, is `node bench/h200/slim-tree.mjs check`'s: at most 64 MiB after its hide).
// The xz of node and dawn.node is cached under /tmp/sieve-h200-cache/ (keyed by size and mtime): minutes of xz -9e once.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const out = join(root, '.carry/h200');
// Shared by every worktree on this machine (xz -9e of node takes minutes on two busy cores).
const cache = '/tmp/sieve-h200-cache';
const LIMIT = 52 * 1024 * 1024;
/** Tracked files that travel xz'd in the carry instead (slim-tree.mjs hides them; run.sh unpacks the missing ones). */
const PACKED_MODELS = ['models/sieve-tiny/model.safetensors', 'models/sieve-tiny/golden/logits.f32'];
const DEBS = ['libvulkan1', 'libegl1', 'libglvnd0', 'libopengl0', 'libgl1', 'libglx0', 'libgles2'];
const WASM = 'ort-wasm-simd-threaded.asyncify.wasm';

const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 28, ...opts });
const mib = (n) => `${(n / 1048576).toFixed(1)} MiB`;

/** Stripped and xz'd copy of a binary, cached by its size and mtime. */
function packBinary(src, name) {
  mkdirSync(cache, { recursive: true });
  const s = statSync(src);
  const key = join(cache, `${name}.${s.size}.${Math.round(s.mtimeMs)}.xz`);
  if (!existsSync(key)) {
    const tmp = join(cache, `${name}.${process.pid}.stripped`);
    copyFileSync(src, tmp);
    sh('strip', ['--strip-unneeded', tmp]);
    // -T1: the machine is shared; --x86 filter first, then LZMA2 at its strongest preset.
    sh('xz', ['-T1', '-f', '--x86', '--lzma2=preset=9e', tmp]);
    renameSync(`${tmp}.xz`, key); // atomic: another worktree may be building the same key
  }
  copyFileSync(key, join(out, `${name}.xz`));
}

/**
 * A folder as tar.xz, leaving out the named top-level entries (they travel once, beside). Anchored (`./name`): a bare
 * `dist` would also drop every `dist/` folder of the packages bundled beside the benches (web-xgrammar's glue).
 */
function packFolder(dir, name, exclude) {
  sh('tar', ['-C', dir, '--anchored', ...exclude.flatMap((e) => ['--exclude', `./${e}`]), '-cJf', join(out, `${name}.tar.xz`), '.'], { env: { ...process.env, XZ_OPT: '-9e -T1' } });
}

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'debs'), { recursive: true });

// Debs: from .gl/ (the device README's apt-get download, amd64), fetched when missing.
const gl = join(root, '.gl');
const have = () => (existsSync(gl) ? readdirSync(gl) : []);
if (DEBS.some((d) => !have().some((f) => f.startsWith(`${d}_`)))) {
  mkdirSync(gl, { recursive: true });
  mkdirSync('/tmp/amd64/partial', { recursive: true });
  const o = ['-oAPT::Architecture=amd64', '-oAPT::Architectures=amd64', '-oDir::State::Lists=/tmp/amd64'];
  sh('apt-get', [...o, 'update']);
  sh('apt-get', [...o, 'download', ...DEBS], { cwd: gl });
}
for (const d of DEBS) {
  const f = have().filter((x) => x.startsWith(`${d}_`) && x.endsWith('.deb')).sort().pop();
  if (!f) throw new Error(`no ${d} deb in .gl/`);
  copyFileSync(join(gl, f), join(out, 'debs', f));
}

packBinary(process.execPath, 'node');
{
  // Cached by the files' sizes and mtimes (xz -9e of 22 MB takes a minute on this machine's busy cores). From the
  // hidden copy when slim-tree.mjs has hidden them.
  const src = (f) => {
    if (existsSync(join(root, f))) return join(root, f);
    try {
      const gitDir = sh('git', ['rev-parse', '--git-dir'], { cwd: root }).toString().trim();
      const { dir } = JSON.parse(readFileSync(join(gitDir.startsWith('/') ? gitDir : join(root, gitDir), 'sieve-slim.json'), 'utf8'));
      if (existsSync(join(dir, 'files', f))) return join(dir, 'files', f);
    } catch { /* not hidden */ }
    throw new Error(`${f}: neither in the checkout nor hidden by slim-tree.mjs`);
  };
  const key = join(cache, `models.${PACKED_MODELS.map((f) => { const s = statSync(src(f)); return `${s.size}-${Math.round(s.mtimeMs)}`; }).join('.')}.tar.xz`);
  if (!existsSync(key)) {
    mkdirSync(cache, { recursive: true });
    const stage = join(cache, `models.${process.pid}`);
    rmSync(stage, { recursive: true, force: true });
    for (const f of PACKED_MODELS) { mkdirSync(join(stage, f, '..'), { recursive: true }); copyFileSync(src(f), join(stage, f)); }
    sh('tar', ['-C', stage, '-cJf', `${key}.tmp`, ...PACKED_MODELS], { env: { ...process.env, XZ_OPT: '-9e -T1' } });
    renameSync(`${key}.tmp`, key);
    rmSync(stage, { recursive: true, force: true });
  }
  copyFileSync(key, join(out, 'models.tar.xz'));
}
packBinary(join(root, 'node_modules/webgpu/dist/linux-x64/dawn.node'), 'dawn.node');
// The wasm both bundles load (both build scripts copy the root's onnxruntime-web's).
writeFileSync(join(out, 'ort.wasm.xz'), sh('xz', ['-T1', '-9e', '-c', join(root, 'node_modules/onnxruntime-web/dist', WASM)]));

// bench/compare's own install (Transformers.js, WebLLM): made when missing or broken (a dangling or looping symlink).
const compare = join(root, 'bench/compare');
if (!existsSync(join(compare, 'node_modules/@huggingface/transformers/package.json')) || !existsSync(join(compare, 'node_modules/@mlc-ai/web-llm/package.json'))) {
  rmSync(join(compare, 'node_modules'), { recursive: true, force: true });
  sh('npm', ['ci', '--no-audit', '--no-fund'], { cwd: compare, stdio: ['ignore', 'inherit', 'inherit'] });
}
sh(process.execPath, [join(root, 'bench/build-node-bench.mjs')], { stdio: ['ignore', 'inherit', 'inherit'] });
packFolder(join(root, '.carry/node-bench'), 'node-bench', [WASM, 'dist']);
const yb = join(root, '.carry/yardstick-bundle');
rmSync(yb, { recursive: true, force: true });
sh(process.execPath, [join(root, 'bench/compare/build.mjs'), yb, '--no-dawn'], { stdio: ['ignore', 'inherit', 'inherit'] });
packFolder(yb, 'yardstick', [WASM]);

// WebLLM's prebuilt model library from mlc-ai/binary-mlc-llm-libs (never committed): from .carry/webllm-libs/ if there,
// else this machine's mirror of the repository, else GitHub. v0_2_48 is what WebLLM 0.2.79 (bench/compare's) loads;
// Qwen2-0.5B's architecture and shapes are Qwen2.5-0.5B's; Llama-3.2-1B's are the catalog's llama-3.2-1b-instruct
// (export/to_mlc.py --check builds every parameter the library binds from a checkpoint of that config: the dry run).
// Only q0 (unquantized) libraries: MLC's 4-bit groups cannot hold export.py's q4-exact codes.
const WEBLLM_LIBS = ['Qwen2-0.5B-Instruct-q0f16-ctx4k_cs1k-webgpu.wasm', 'Llama-3.2-1B-Instruct-q0f16-ctx4k_cs1k-webgpu.wasm'];
const libDir = join(root, '.carry/webllm-libs');
mkdirSync(libDir, { recursive: true });
mkdirSync(join(out, 'webllm'), { recursive: true });
for (const lib of WEBLLM_LIBS) {
  const local = join(libDir, lib);
  const path = `web-llm-models/v0_2_48/${lib}`;
  try {
    if (!existsSync(local)) {
      try {
        writeFileSync(local, sh('git', ['--git-dir=/work/.mirror/mlc-ai+binary-mlc-llm-libs/repo', 'show', `HEAD:${path}`]));
      } catch {
        sh('curl', ['-fsSL', '-o', local, `https://raw.githubusercontent.com/mlc-ai/binary-mlc-llm-libs/main/${path}`]);
      }
    }
    writeFileSync(join(out, 'webllm', `${lib}.xz`), sh('xz', ['-T1', '-9e', '-c', local]));
  } catch (e) {
    rmSync(local, { force: true });
    console.warn(`WebLLM's library ${lib} not found (${e.message.split('\n')[0]}): the run goes without WebLLM`);
  }
}

const sizes = [];
const walk = (d) => { for (const f of readdirSync(d)) { const p = join(d, f); if (statSync(p).isDirectory()) walk(p); else sizes.push([p.slice(out.length + 1), statSync(p).size]); } };
walk(out);
const total = sizes.reduce((a, [, n]) => a + n, 0);
for (const [f, n] of sizes) console.log(`  ${f.padEnd(44)} ${mib(n)}`);
console.log(`.carry/h200: ${mib(total)} (share ${mib(LIMIT)}); travel with tracked files: ${mib(total + trackedBytes())} of 64 MiB`);
if (process.argv.includes('--check') && total > LIMIT) { console.error('carry over its share'); process.exit(1); }

/** Bytes of tracked files plus untracked-not-ignored ones (what travels besides the carry). */
function trackedBytes() {
  const files = sh('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root }).toString().split('\0').filter(Boolean);
  let n = 0;
  for (const f of files) { try { n += statSync(join(root, f)).size; } catch { /* deleted in the work tree */ } }
  return n;
}
