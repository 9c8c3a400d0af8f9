// bench/decode: decode ms/token and its host-side breakdown (encode, readback, dispatches and passes per step) for
// stories260K and a random 30-layer model of SmolLM2-135M's shape, on whatever WebGPU adapter Chromium gives.
// Run: npx tsx bench/decode.ts [--tokens 32]. Writes bench/results/decode.json (the ORT-era run of 2026-11-28 is
// kept as decode-ort-path-2026-11-28.json). Not a test: numbers, no asserts.
import { writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openBrowserHost } from '../engine/cli/browser-host.ts';
import { SMOLLM2_135M_SHAPE, writeRandomCheckpoint } from './random-checkpoint.ts';

type HostWindow = { sieveHost: Record<string, (arg?: unknown) => Promise<Record<string, unknown>>> };

const tokensArg = process.argv.indexOf('--tokens');
const TOKENS = tokensArg > 0 ? Number(process.argv[tokensArg + 1]) : 32;
const STORIES = fileURLToPath(new URL('../../shared/models/stories260K/stories260K.gguf', import.meta.url));

async function measure(label: string, model: string, tokens: number) {
  const host = await openBrowserHost(model);
  try {
    const call = async (m: string, a?: unknown) => {
      const r = await host.page.evaluate(([mm, aa]) => (window as unknown as HostWindow).sieveHost[mm as string](aa), [m, a] as const);
      if (r.error) throw new Error(`${label}: ${JSON.stringify(r.error)}`);
      return r;
    };
    const t0 = Date.now();
    const info = (await call('load', { url: host.modelUrl })).info as Record<string, unknown>;
    const loadS = (Date.now() - t0) / 1000;
    // Warm-up (shader compilation, ORT's first runs), then the measured run.
    await call('generate', { ids: [1, 2, 3, 4], maxTokens: 4, ignoreEos: true });
    await call('profile');
    const g = (await call('generate', { ids: [1, 5, 9, 13, 17, 21, 25, 29], maxTokens: tokens + 1, ignoreEos: true })).result as { usage: Record<string, number> };
    const p = (await call('profile')).profile as Record<string, number | boolean>;
    const steps = p.steps as number;
    const row = {
      model: label, variant: p.variant, adapter: info.adapter, layers: info.numLayers, decodeSteps: steps, loadSeconds: loadS,
      msPerToken: (p.totalMs as number) / steps,
      encodeMs: (p.encodeMs as number) / steps,
      readbackMs: (p.readbackMs as number) / steps,
      dispatchesPerToken: p.dispatchesPerStep,
      passesPerToken: p.passesPerStep,
      decodeTokensPerS: g.usage.decode_tokens_per_s,
    };
    console.log(JSON.stringify(row));
    return row;
  } finally {
    await host.close();
  }
}

// One decode path (our WGSL decoder); bench/results/decode-software-adapter.json has the ORT decode path it replaced,
// measured in the same run before it was removed.
const results = [];
const smol = writeRandomCheckpoint(join(tmpdir(), 'sieve-bench-smollm2-135m-shape'), SMOLLM2_135M_SHAPE);
const models: [string, string, number][] = [
  ['stories260K', STORIES, TOKENS],
  ['random SmolLM2-135M shape (30 layers)', smol, Math.min(TOKENS, 8)],
];
for (const [label, path, tokens] of models) results.push(await measure(label, path, tokens));
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const out = fileURLToPath(new URL('./results/decode.json', import.meta.url));
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), note: 'host-side ms per decode step; the readback absorbs GPU time still in flight', results }, null, 2));
console.log(`wrote ${out}`);
