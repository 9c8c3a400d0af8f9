#!/usr/bin/env node
// `sieve` command line: runs the TypeScript CLI through tsx (no build step needed on a fresh clone).
import { register as registerHooks } from 'node:module';
import { register } from 'tsx/esm/api';

register();
// `.wgsl?raw` imports (Vite's raw text) for the GPU engine's modules, which `sieve eval --backend dawn` runs in Node.
registerHooks('../engine/cli/raw-import-hooks.mjs', import.meta.url);
const { main } = await import('../engine/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
