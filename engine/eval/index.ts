// The eval module's face (issue 16): seeded tasks, scoring, the backends that run them under attention policies, and
// the summary per (task, context, policy, budget). Node-only parts (source.ts, the GPU backends) are imported directly.
export {
  ANSWER_TOKENS, EVAL_TASKS, FILLER, PERPLEXITY_TOKENS, RETRIEVAL_TASKS, TaskGenerator, hashSeed, isCorrect, wordListsOf,
  type EvalItem, type EvalTask, type PerplexityItem, type RetrievalItem, type RetrievalTask, type TaskSource,
} from './tasks.ts';
export {
  EVAL_BACKENDS, argmaxOf, continueItem, createReferenceBackend, negativeLogLikelihood, runItemByItem,
  type EvalBackend, type EvalBackendName, type EvalJob, type EvalSequence, type ItemRun,
} from './backend.ts';
export { runEval, specsOf, summarize, type EvalCell, type EvalGrid, type EvalRow } from './run.ts';
