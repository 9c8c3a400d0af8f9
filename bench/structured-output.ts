// bench/structured-output: grammar-constrained decoding (issue 15 item 1) against unconstrained, on sieve-tiny.
// Per schema, interleaved A B rounds in one process, greedy, the same chat prompt:
//   A constrained:   response_format json_schema through xgrammar; each step's bitmask applied before the CPU sampler
//   B unconstrained: the same number of tokens (EOS ignored), no grammar
// Reports decode tokens/s of each (medians over rounds), their ratio, xgrammar's mask time per token (bitmask +
// accept) and the schema's compile time. --backend reference (the CPU forward, default) or dawn (GpuModel on the
// `webgpu` package: unconstrained then decodes with the ids chosen on the GPU, constrained reads logits back).
// Run: npx tsx bench/structured-output.ts [--backend reference|dawn] [--rounds 3] [--out bench/results/structured-output.json]
import { writeFileSync } from 'node:fs';
import { generateAll, type ForwardBackend } from '../engine/generation/index.ts';
import { compileConstraint } from '../engine/grammar/index.ts';
import { loadModelFromPath } from '../engine/model/node.ts';
import { createChatTemplate, loadTokenizer } from '../engine/tokenizer/index.ts';
import { ReferenceBackend } from '../engine/cli/reference-runner.ts';
import { argOf as arg } from './node-harness.ts';

const ROUNDS = Number(arg('--rounds', '3'));
const BACKEND = arg('--backend', 'reference');
const OUT = arg('--out', 'bench/results/structured-output.json');
const MODEL = arg('--model', 'models/sieve-tiny');

const SCHEMAS: Record<string, unknown>[] = [
  { type: 'object', properties: { name: { type: 'string', maxLength: 8 }, age: { type: 'integer', minimum: 0, maximum: 120 } }, required: ['name', 'age'] },
  { type: 'object', properties: { color: { enum: ['red', 'green', 'blue'] }, tags: { type: 'array', items: { enum: ['sea', 'ship'] }, maxItems: 3 } }, required: ['color', 'tags'] },
  { type: 'object', properties: { a: { type: 'object', properties: { b: { type: 'object', properties: { c: { type: 'boolean' } }, required: ['c'] } }, required: ['b'] } }, required: ['a'] },
  { type: 'array', items: { type: 'object', properties: { id: { type: 'integer', minimum: 0, maximum: 99 } }, required: ['id'] }, minItems: 2, maxItems: 3 },
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function openBackend(loaded: Awaited<ReturnType<typeof loadModelFromPath>>): Promise<{ backend: ForwardBackend; adapter: string }> {
  if (BACKEND === 'reference') return { backend: new ReferenceBackend(loaded), adapter: 'CPU reference (Node)' };
  const { openNodeBenchDevice } = await import('./node-harness.ts');
  const { GpuModel } = await import('../engine/runtime/index.ts');
  const { engine, adapter } = await openNodeBenchDevice();
  return { backend: await GpuModel.create(engine, loaded), adapter };
}

async function main() {
  const loaded = await loadModelFromPath(MODEL);
  const tokenizer = loadTokenizer(loaded)!;
  const template = createChatTemplate(loaded.tokenizerFiles.tokenizerConfig);
  const { backend, adapter } = await openBackend(loaded);
  const ids = tokenizer.encode(template.render([{ role: 'user', content: 'Give me the data as JSON.' }], { addGenerationPrompt: true }));
  const eos = backend.config.eosTokenIds;
  const rows = [];
  for (const schema of SCHEMAS) {
    const t0 = performance.now();
    const compiled = await compileConstraint({ type: 'json_schema', schema }, tokenizer, backend.config.vocabSize, eos);
    const compileMs = performance.now() - t0;
    const constrained: number[] = [];
    const free: number[] = [];
    const maskMs: number[] = [];
    let tokens = 0;
    let text = '';
    for (let round = 0; round < ROUNDS; round++) {
      const constraint = await compiled.start();
      const a = await generateAll(backend, { ids, maxTokens: 64, eosTokenIds: eos, decode: (x) => tokenizer.decode(x), constraint });
      constraint.dispose();
      tokens = a.usage.completion_tokens;
      text = a.text;
      constrained.push(a.usage.decode_tokens_per_s);
      maskMs.push(constraint.maskMs / constraint.masks);
      const b = await generateAll(backend, { ids, maxTokens: tokens, eosTokenIds: eos, ignoreEos: true });
      free.push(b.usage.decode_tokens_per_s);
    }
    compiled.dispose();
    const row = {
      schema, reply: text, tokens, compile_ms: compileMs, mask_ms_per_token: median(maskMs),
      constrained_tokens_per_s: median(constrained), unconstrained_tokens_per_s: median(free),
      ratio: median(constrained) / median(free), rounds: ROUNDS,
    };
    console.log(JSON.stringify({ ...row, schema: undefined }));
    rows.push(row);
  }
  const result = {
    bench: 'structured-output', model: MODEL, backend: BACKEND, adapter, date: new Date().toISOString(),
    note: 'decode tokens/s from usage (prefill excluded); mask_ms_per_token: xgrammar getNextTokenBitmask + acceptToken per token, median over rounds',
    median_ratio: median(rows.map((r) => r.ratio)), median_mask_ms_per_token: median(rows.map((r) => r.mask_ms_per_token)), rows,
  };
  writeFileSync(OUT, JSON.stringify(result, null, 2) + '\n');
  console.log(`ratio constrained/unconstrained ${result.median_ratio.toFixed(3)}, mask ${result.median_mask_ms_per_token.toFixed(3)} ms/token -> ${OUT}`);
}

await main();
