// Package versions for the results: read from node_modules when run from source, baked in by build.mjs when bundled.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

declare const __COMPARE_VERSIONS__: Record<string, string> | undefined;

const PACKAGES: Record<string, string> = {
  'onnxruntime-web': '../../node_modules/onnxruntime-web/package.json',
  webgpu: '../../node_modules/webgpu/package.json',
  sieve: '../../package.json',
  '@huggingface/transformers': 'node_modules/@huggingface/transformers/package.json',
  '@mlc-ai/web-llm': 'node_modules/@mlc-ai/web-llm/package.json',
};

export function packageVersions(): Record<string, string> {
  if (typeof __COMPARE_VERSIONS__ !== 'undefined') return __COMPARE_VERSIONS__;
  const out: Record<string, string> = {};
  for (const [name, rel] of Object.entries(PACKAGES)) {
    try {
      out[name] = JSON.parse(readFileSync(fileURLToPath(new URL(rel, import.meta.url)), 'utf8')).version;
    } catch {
      out[name] = 'not installed';
    }
  }
  return out;
}
