// Runs fuzz cases and sorts each outcome: accepted, a typed error (SieveError with code and remedy), or a failure.
import fc from 'fast-check';
import { SieveError } from '../errors/index.ts';
import type { FuzzTarget } from './targets.ts';

/** Issue 13: every case is answered within 2 s; slower is a hang. */
export const CASE_TIME_LIMIT_MS = 2000;

export type CaseOutcome =
  | { result: 'accepted'; ms: number }
  | { result: 'typed'; code: string; ms: number }
  | { result: 'untyped' | 'slow'; error: string; ms: number };

/** One case: the target's own outcome and time; a SieveError counts as typed only with a code and a remedy. */
export async function runCase<I>(target: FuzzTarget<I>, input: I): Promise<CaseOutcome> {
  const start = performance.now();
  let outcome: CaseOutcome;
  try {
    await target.run(input);
    outcome = { result: 'accepted', ms: 0 };
  } catch (e) {
    if (e instanceof SieveError && e.code && e.remedy && e.message) outcome = { result: 'typed', code: e.code, ms: 0 };
    else outcome = { result: 'untyped', error: e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e), ms: 0 };
  }
  outcome.ms = performance.now() - start;
  if (outcome.ms > CASE_TIME_LIMIT_MS && outcome.result !== 'untyped') outcome = { result: 'slow', error: `took ${outcome.ms.toFixed(0)} ms`, ms: outcome.ms };
  return outcome;
}

export interface FuzzCounts {
  kind: string;
  seed: number;
  cases: number;
  accepted: number;
  typed: number;
  /** Typed errors by code. */
  codes: Record<string, number>;
  untyped: number;
  slow: number;
  maxCaseMs: number;
  /** The first failure, shrunk by fast-check to a small input, when there was one. */
  counterexample: string | null;
}

/**
 * Runs `cases` seeded cases of a target as a fast-check property (fails on an untyped error or a slow case) and
 * counts the outcomes. The same seed gives the same cases; a failure reports the seed and path to replay it.
 */
export async function fuzzTarget<I>(target: FuzzTarget<I>, cases: number, seed: number): Promise<FuzzCounts> {
  const counts: FuzzCounts = { kind: target.kind, seed, cases: 0, accepted: 0, typed: 0, codes: {}, untyped: 0, slow: 0, maxCaseMs: 0, counterexample: null };
  let shrinking = false;
  const report = await fc.check(
    fc.asyncProperty(target.arbitrary, async (input) => {
      const outcome = await runCase(target, input);
      if (!shrinking) {
        counts.cases += 1;
        counts.maxCaseMs = Math.max(counts.maxCaseMs, outcome.ms);
        if (outcome.result === 'accepted') counts.accepted += 1;
        else if (outcome.result === 'typed') { counts.typed += 1; counts.codes[outcome.code] = (counts.codes[outcome.code] ?? 0) + 1; }
        else counts[outcome.result] += 1;
      }
      if (outcome.result === 'untyped' || outcome.result === 'slow') {
        shrinking = true;
        throw new Error(`${outcome.result}: ${outcome.error}`);
      }
    }),
    { numRuns: cases, seed },
  );
  if (report.failed) {
    const error = report.errorInstance instanceof Error ? report.errorInstance.message : String(report.errorInstance);
    counts.counterexample = `seed ${report.seed}, path "${report.counterexamplePath}": ${fc.stringify(report.counterexample)}\n${error}`;
  }
  return counts;
}
