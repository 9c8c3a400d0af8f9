// Fuzz bench (issue 13): >= 10,000 seeded cases per input kind through the engine's parsers in Node, counts written to
// bench/results/fuzz.json. `npx tsx bench/fuzz.ts [cases] [seed] [kind]`; engine/fuzz/fuzz.test.ts runs 200 per kind.
import { writeFileSync } from 'node:fs';
import { CASE_TIME_LIMIT_MS, fuzzTarget, fuzzTargets, loadFuzzCorpus, type FuzzCounts } from '../engine/fuzz/index.ts';

const CASES = Number(process.argv[2] ?? 10_000);
const SEED = Number(process.argv[3] ?? 13);
const ONLY = process.argv[4];

async function main(): Promise<void> {
  const results: (FuzzCounts & { seconds: number })[] = [];
  for (const target of fuzzTargets(loadFuzzCorpus())) {
    if (ONLY && target.kind !== ONLY) continue;
    const start = performance.now();
    const counts = await fuzzTarget(target, CASES, SEED);
    const seconds = (performance.now() - start) / 1000;
    results.push({ ...counts, seconds: Math.round(seconds * 10) / 10 });
    const codes = Object.entries(counts.codes).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ');
    console.log(`${target.kind}: ${counts.cases} cases, ${counts.accepted} accepted, ${counts.typed} typed (${codes}), ${counts.untyped} untyped, ${counts.slow} slow, max ${counts.maxCaseMs.toFixed(1)} ms, ${seconds.toFixed(1)} s`);
    if (counts.counterexample) console.log(`  counterexample: ${counts.counterexample.slice(0, 2000)}`);
  }
  const failed = results.some((r) => r.counterexample !== null);
  if (!ONLY) {
    writeFileSync(new URL('./results/fuzz.json', import.meta.url), `${JSON.stringify({
      what: 'fuzzed inputs per kind (engine/fuzz): outcomes of seeded fast-check cases; untyped and slow must be 0',
      caseTimeLimitMs: CASE_TIME_LIMIT_MS, casesPerKind: CASES, seed: SEED, node: process.version, date: new Date().toISOString(), results,
    }, null, 2)}\n`);
  }
  process.exit(failed ? 1 : 0);
}

void main();
