// bench/eval-profile: where one eval row's time goes on the dawn backend (issue 16's throughput): the item made and
// tokenized, the policy made and set (setup), the prefill (a policy's first use builds its kernels there), the decode
// steps, the answer decoded. Each spec runs the same item three times: under a new policy, under the same policy again
// (a batch's later item), and under a new one again (the difference is what a policy's first use costs); `streaming`
// at a budget holding the whole prompt beside budget = context / 8 isolates what the evicting policies' prefill
// eviction (evict.wgsl) costs.
// Build: node bench/build-node-bench.mjs; run: node .carry/node-bench/eval-profile.mjs [--contexts 1024,2048]
//   [--task passkey] [--out FILE] [--model models/sieve-tiny] [--held-out DIR]
// From the source tree: npx tsx bench/eval-profile.ts (SwiftShader here: its times say where, not how fast).
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { EvalBackend, EvalTask } from '../engine/eval/index.ts';

const argOf = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
};

/** The grid's policies at budget = context / 8, and streaming holding the whole prompt (no eviction). */
export function profileSpecs(context: number): string[] {
  const b = context / 8;
  return ['dense', `streaming:budget=${context}`, `streaming:budget=${b}`, `h2o:budget=${b}`, `a2sf:budget=${b}`, `quest:budget=${b}`,
    `tidal:budget=${b}`, `recycled:budget=${b}`, `double-sparsity:budget=${b}`, `fasa:budget=${b}`];
}

export interface ProfileLine { context: number; spec: string; round: number; setupMs: number; prefillMs: number; decodeMs: number; decodeSteps: number; textMs: number; totalMs: number }

async function main() {
  // From the source tree the engine's `.wgsl?raw` imports need Vite's raw import (a bundle has them inlined).
  if (!import.meta.url.endsWith('.mjs')) (await import('node:module')).register('../engine/cli/raw-import-hooks.mjs', import.meta.url);
  const { openEvalBackend } = await import('../engine/cli/eval-command.ts');
  const { TaskGenerator } = await import('../engine/eval/index.ts');
  const { MOBY_DICK_FOLDER } = await import('../engine/eval/source.ts');
  const contexts = argOf('--contexts', '1024,2048').split(',').map(Number);
  const task = argOf('--task', 'passkey') as EvalTask;
  const out = argOf('--out', 'bench/results/eval-profile.json');
  const model = argOf('--model', 'models/sieve-tiny');
  const bundled = fileURLToPath(new URL('./held-out/', import.meta.url));
  const t0 = performance.now();
  const opened = await openEvalBackend({ model, backend: 'dawn' }, { mobyDickFolder: argOf('--held-out', existsSync(bundled) ? bundled : MOBY_DICK_FOLDER) });
  const backend: EvalBackend & { adapter?: string } = opened.backend;
  const openMs = performance.now() - t0;
  console.log(`dawn backend open (model loaded, weights up, task source read) in ${openMs.toFixed(0)} ms; ${backend.adapter ?? ''}`);
  const generator = new TaskGenerator(opened.source);
  const lines: ProfileLine[] = [];
  const items: { context: number; itemMs: number; tokens: number }[] = [];
  const write = () => writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), adapter: backend.adapter, model, task, openMs, items, lines }, null, 1));
  for (const context of contexts) {
    const g0 = performance.now();
    const item = generator.item(task, context, 0, 0, 50);
    const itemMs = performance.now() - g0;
    items.push({ context, itemMs, tokens: item.ids.length });
    console.log(`${context}: ${task} item 0 made and tokenized in ${itemMs.toFixed(1)} ms (${item.ids.length} tokens)`);
    for (const spec of profileSpecs(context)) {
      // Round 1: a new policy (its first use); round 2: the same policy again in the same batch (what the dawn
      // backend does for a batch's later items); round 3: a new policy again (what a batch of one item costs).
      const r0 = performance.now();
      const batch = await backend.run([{ item, specs: [spec] }, { item, specs: [spec] }]);
      const r1 = performance.now();
      const [single] = await backend.run([{ item, specs: [spec] }]);
      const r2 = performance.now();
      const runs = [[batch[0][0], (r1 - r0) / 2], [batch[1][0], (r1 - r0) / 2], [single[0], r2 - r1]] as const;
      for (const [k, [run, wall]] of runs.entries()) {
        const d0 = performance.now();
        opened.source.tokenizer.decode(run.generated);
        const textMs = performance.now() - d0;
        const line = { context, spec, round: k + 1, setupMs: run.setupMs, prefillMs: run.prefillMs, decodeMs: run.decodeMs, decodeSteps: run.decodeSteps, textMs, totalMs: k < 2 ? run.setupMs + run.prefillMs + run.decodeMs : wall };
        lines.push(line);
        console.log(`${context} ${spec.padEnd(24)} ${['new policy', 'same policy', 'new again'][k].padEnd(11)}: setup ${line.setupMs.toFixed(1)} ms, prefill ${line.prefillMs.toFixed(1)} ms, decode ${line.decodeMs.toFixed(1)} ms / ${line.decodeSteps} steps, text ${textMs.toFixed(2)} ms; row ${line.totalMs.toFixed(0)} ms`);
      }
      write();
    }
  }
  await backend.close();
  console.log(`wrote ${out}`);
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
