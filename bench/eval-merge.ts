// bench/eval-merge: the eval grid's shard reports (bench/eval-shard.ts) merged into one results file, with the
// GPU/CPU check: every (item, spec) the CPU reference ran is compared with the GPU backend's row for it (greedy ids,
// the answer's outcome, perplexity). Prints the summary the H200 segment shows.
//   node .carry/node-bench/eval-merge.mjs --in DIR --out FILE
//   npx tsx bench/eval-merge.ts --in run1.json,run2.json --out FILE [--no-rows]   (merged files of several runs; without
//   their rows, the file the repository keeps: cells, check, shards)
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { summarize, type EvalCell, type EvalRow } from '../engine/eval/index.ts';

const argOf = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
};

interface ShardReport { backend: string; adapter?: string; done: boolean; seconds: number; rows: EvalRow[]; referenceRows?: EvalRow[]; shards?: ShardLine[] }
interface ShardLine { file: string; backend: string; done: boolean; seconds: number; items: number; rows: number }

export interface GpuCpuCheck {
  /** (item, spec) pairs the reference ran and the GPU backend ran too. */
  pairs: number;
  sameIds: number;
  sameOutcome: number;
  /** Perplexity pairs: the largest |GPU - CPU| of the mean NLL per target token, in nats. */
  perplexityPairs: number;
  maxNllPerTokenDiff: number | null;
  /** The pairs whose ids differ (spec, item, both ids), at most 20. */
  differ: { item: string; spec: string; gpu: number[]; cpu: number[] }[];
}

/** The reference rows against the GPU rows of the same (item, spec). */
export function checkAgainstReference(gpu: readonly EvalRow[], cpu: readonly EvalRow[]): GpuCpuCheck {
  const byKey = new Map(gpu.map((r) => [`${r.item}|${r.spec}`, r]));
  const out: GpuCpuCheck = { pairs: 0, sameIds: 0, sameOutcome: 0, perplexityPairs: 0, maxNllPerTokenDiff: null, differ: [] };
  for (const c of cpu) {
    const g = byKey.get(`${c.item}|${c.spec}`);
    if (!g) continue;
    if (c.nll !== null && g.nll !== null && c.targets) {
      out.perplexityPairs += 1;
      const d = Math.abs(g.nll / c.targets - c.nll / c.targets);
      out.maxNllPerTokenDiff = Math.max(out.maxNllPerTokenDiff ?? 0, d);
      continue;
    }
    out.pairs += 1;
    const same = g.generated.length === c.generated.length && g.generated.every((id, i) => id === c.generated[i]);
    if (same) out.sameIds += 1;
    else if (out.differ.length < 20) out.differ.push({ item: c.item, spec: c.spec, gpu: g.generated, cpu: c.generated });
    if (g.correct === c.correct) out.sameOutcome += 1;
  }
  return out;
}

/** A row without what other fields or the item id give back (its text, the answer), to keep the file small. */
const compact = (r: EvalRow) => ({ ...r, text: undefined, answer: undefined });

function main() {
  const input = argOf('--in', 'bench/results/eval-shards');
  const outFile = argOf('--out', 'bench/results/eval-grid-h200.json');
  // A folder of shard reports, or merged files (each with its rows, reference rows and shard lines).
  const files = input.includes(',') || input.endsWith('.json') ? input.split(',') : readdirSync(input).filter((f) => f.endsWith('.json')).sort().map((f) => `${input}/${f}`);
  const rows = { gpu: new Map<string, EvalRow>(), cpu: new Map<string, EvalRow>() };
  const shards: ShardLine[] = [];
  let adapter: string | undefined;
  let gpuBackend = 'dawn';
  for (const f of files) {
    let r: ShardReport;
    try {
      r = JSON.parse(readFileSync(f, 'utf8')) as ShardReport;
    } catch (e) {
      console.log(`${f}: unreadable (${e instanceof Error ? e.message : String(e)})`);
      continue;
    }
    const side = r.backend === 'reference' ? rows.cpu : rows.gpu;
    if (r.backend !== 'reference') { gpuBackend = r.backend; adapter ??= r.adapter; }
    for (const row of r.rows) side.set(`${row.item}|${row.spec}`, row);
    for (const row of r.referenceRows ?? []) rows.cpu.set(`${row.item}|${row.spec}`, row);
    const name = f.split('/').pop() as string;
    if (r.shards) shards.push(...r.shards.map((x) => ({ ...x, file: `${name}: ${x.file}` })));
    else shards.push({ file: name, backend: r.backend, done: r.done, seconds: r.seconds, items: new Set(r.rows.map((x) => x.item)).size, rows: r.rows.length });
  }
  const gpu = [...rows.gpu.values()];
  const cells = summarize(gpu);
  const check = checkAgainstReference(gpu, [...rows.cpu.values()]);
  writeFileSync(outFile, JSON.stringify({
    date: new Date().toISOString(), backend: gpuBackend, adapter, model: 'models/sieve-tiny', done: shards.filter((s) => s.backend !== 'reference').every((s) => s.done),
    method: 'bench/eval-shard.ts workers, each on its share of the items (--shard i/k), every prompt prefilled in one chunk, greedy answers chosen on the GPU, perplexity teacher-forced; the same seeded items (seed 0) for every policy; the four retrieval tasks pooled per cell',
    shards, check, cells,
    ...(process.argv.includes('--no-rows') ? { rowsKept: `${gpu.length} rows and ${rows.cpu.size} reference rows: in the runs' merged files (bench/results/eval-grid-h200-run*.json.xz)` } : { rows: gpu.map(compact), referenceRows: [...rows.cpu.values()].map(compact) }),
  }));
  // The summary: items per phase, the anchor cells pooled over the retrieval tasks, and the check.
  const phases = new Map<string, { items: number; seconds: number; done: boolean }>();
  for (const s of shards) {
    const name = `${s.file.split(': ').pop()!.split('.')[0]} (${s.backend})`;
    const p = phases.get(name) ?? { items: 0, seconds: 0, done: true };
    p.items += s.items; p.seconds = Math.max(p.seconds, s.seconds); p.done &&= s.done;
    phases.set(name, p);
  }
  for (const [name, p] of phases) console.log(`${name}: ${p.items} items, ${p.seconds.toFixed(1)} s${p.done ? '' : ' (cut at the deadline)'}`);
  console.log(pooledLines(cells).join('\n'));
  console.log(`GPU/CPU check: ${check.sameIds}/${check.pairs} (item, spec) pairs with the same greedy ids, ${check.sameOutcome}/${check.pairs} the same outcome; perplexity: ${check.perplexityPairs} pairs, max |diff| ${check.maxNllPerTokenDiff?.toExponential(2) ?? '-'} nats/token`);
  for (const d of check.differ.slice(0, 5)) console.log(`  differs: ${d.item} ${d.spec}: gpu ${d.gpu.join(',')} cpu ${d.cpu.join(',')}`);
  console.log(`wrote ${outFile}: ${gpu.length} rows, ${rows.cpu.size} reference rows`);
}

/** Per (context, policy, budget): retrieval items pooled, accuracy and kept of dense's; perplexity beside. */
export function pooledLines(cells: readonly EvalCell[]): string[] {
  const keys = [...new Set(cells.map((c) => `${c.context}|${c.policy}|${c.budget}`))];
  const lines: string[] = [];
  for (const key of keys) {
    const mine = cells.filter((c) => `${c.context}|${c.policy}|${c.budget}` === key);
    const ret = mine.filter((c) => c.accuracy !== null);
    const n = ret.reduce((s, c) => s + c.n, 0);
    const hits = ret.reduce((s, c) => s + (c.accuracy as number) * c.n, 0);
    const paired = ret.reduce((s, c) => s + (c.denseCorrect ?? 0), 0);
    const kept = ret.reduce((s, c) => s + (c.relativeToDense ?? 0) * (c.denseCorrect ?? 0), 0);
    const ppl = mine.find((c) => c.perplexity !== null);
    const [context, policy, budget] = key.split('|');
    lines.push(`${context} ${policy}${budget === 'null' ? '' : ` @${budget}`}: ${n ? `${Math.round(hits)}/${n} right, ${Math.round(kept)}/${paired} of dense's` : 'no retrieval'}${ppl ? `, ppl ${ppl.perplexity!.toFixed(2)} (n ${ppl.n})` : ''}`);
  }
  return lines.sort((a, b) => Number(a.split(' ')[0]) - Number(b.split(' ')[0]));
}

if (process.argv[1]?.includes('eval-merge')) main();
