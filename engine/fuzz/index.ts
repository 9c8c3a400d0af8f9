// Fuzzing of every input the engine parses (issue 13): mutated files and requests, typed errors only, each case bounded.
export { loadFuzzCorpus, type FuzzCorpus } from './corpus.ts';
export { fuzzTargets, type FuzzTarget } from './targets.ts';
export { CASE_TIME_LIMIT_MS, fuzzTarget, runCase, type CaseOutcome, type FuzzCounts } from './run.ts';
export { applyByteEdits, applyJsonEdits, byteEdits, jsonEdits, type ByteEdit, type Json, type JsonEdit } from './mutate.ts';
