#!/usr/bin/env node
// Builds llama.cpp's llama-tokenize, llama-quantize and llama-server (CPU, cmake), and sieve-vocab-oracle, into a cache outside the clone,
// from the source that node-llama-cpp ships as llama/gitRelease.bundle (a git bundle of ggml-org/llama.cpp). They are
// the oracles of the GGUF goldens (models/golden/gguf): nothing in `npm test` needs them, the goldens record their output.
//
// node-llama-cpp is installed into the cache, never into the root package.json: its optional dependencies carry
// prebuilt CUDA/Vulkan binaries (--omit=optional keeps them out; only the bundle is used).
//
//   node scripts/build-llama-cpp.mjs            # prints the bin folder; a second run reuses the cache
//   SIEVE_LLAMA_CPP_CACHE=/some/dir node scripts/build-llama-cpp.mjs
//
// Exit code 0 with the bin path on stdout, or non-zero naming the step that failed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const NODE_LLAMA_CPP_VERSION = '3.21.1';
export const LLAMA_CPP_TOOLS = ['llama-tokenize', 'llama-quantize', 'llama-server'];
/** Our own small program over llama.cpp's API (scripts/llama-cpp/vocab-oracle.cpp): tokenize and detokenize in bulk. */
export const VOCAB_ORACLE = 'sieve-vocab-oracle';

export function llamaCppCacheDir() {
  return process.env.SIEVE_LLAMA_CPP_CACHE ?? join(homedir(), '.cache', 'sieve', `llama.cpp-node-llama-cpp-${NODE_LLAMA_CPP_VERSION}`);
}

export function llamaCppBinDir(cache = llamaCppCacheDir()) {
  return join(cache, 'build', 'bin');
}

/** The llama.cpp source checkout (convert_hf_to_gguf.py, gguf-py) once the script has run. */
export function llamaCppSourceDir(cache = llamaCppCacheDir()) {
  return join(cache, 'src');
}

export function llamaCppToolsBuilt(cache = llamaCppCacheDir()) {
  return [...LLAMA_CPP_TOOLS, VOCAB_ORACLE].every((tool) => existsSync(join(llamaCppBinDir(cache), tool)));
}

function run(step, cmd, args, cwd) {
  process.stderr.write(`[build-llama-cpp] ${step}: ${cmd} ${args.join(' ')}\n`);
  try {
    execFileSync(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (error) {
    process.stderr.write(`[build-llama-cpp] ${step} failed (${error.message})\n`);
    process.exit(1);
  }
}

function build() {
  const cache = llamaCppCacheDir();
  if (llamaCppToolsBuilt(cache)) return llamaCppBinDir(cache);
  mkdirSync(cache, { recursive: true });

  const npmDir = join(cache, 'npm');
  const bundle = join(npmDir, 'node_modules', 'node-llama-cpp', 'llama', 'gitRelease.bundle');
  if (!existsSync(bundle)) {
    mkdirSync(npmDir, { recursive: true });
    writeFileSync(join(npmDir, 'package.json'), JSON.stringify({ name: 'sieve-llama-cpp-source', private: true }));
    run('install node-llama-cpp', 'npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--omit=optional',
      `node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`], npmDir);
  }

  const src = llamaCppSourceDir(cache);
  if (!existsSync(join(src, 'CMakeLists.txt'))) run('clone the bundle', 'git', ['clone', '--quiet', bundle, src], cache);

  const buildDir = join(cache, 'build');
  run('configure', 'cmake', ['-S', src, '-B', buildDir, '-DCMAKE_BUILD_TYPE=Release', '-DBUILD_SHARED_LIBS=OFF',
    '-DGGML_NATIVE=OFF', '-DLLAMA_OPENSSL=OFF', '-DLLAMA_BUILD_TESTS=OFF', '-DLLAMA_BUILD_EXAMPLES=OFF',
    '-DLLAMA_BUILD_UI=OFF', '-DLLAMA_USE_PREBUILT_UI=OFF', '-DLLAMA_BUILD_APP=OFF'], cache);
  const jobs = String(Math.max(1, cpus().length));
  // Skipped by make when up to date; the oracle is relinked each time (seconds).
  run('build', 'cmake', ['--build', buildDir, '--config', 'Release', '-j', jobs, '--target', ...LLAMA_CPP_TOOLS], cache);
  const oracle = fileURLToPath(new URL('llama-cpp/vocab-oracle.cpp', import.meta.url));
  run('build the vocabulary oracle', 'g++', ['-O1', '-std=c++17', `-I${join(src, 'include')}`, `-I${join(src, 'ggml', 'include')}`,
    `-I${join(src, 'vendor')}`, oracle, join(buildDir, 'src', 'libllama.a'), join(buildDir, 'ggml', 'src', 'libggml.a'),
    join(buildDir, 'ggml', 'src', 'libggml-cpu.a'), join(buildDir, 'ggml', 'src', 'libggml-base.a'), '-lpthread', '-fopenmp',
    '-o', join(llamaCppBinDir(cache), VOCAB_ORACLE)], cache);
  if (!llamaCppToolsBuilt(cache)) {
    process.stderr.write(`[build-llama-cpp] the build finished without ${LLAMA_CPP_TOOLS.join(', ')} in ${llamaCppBinDir(cache)}\n`);
    process.exit(1);
  }
  return llamaCppBinDir(cache);
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(`${build()}\n`);
