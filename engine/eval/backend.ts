// What an eval backend does with one item: run it under each attention spec (greedy answer tokens, or teacher-forced
// scoring of a perplexity item's targets) and report what each held. The reference backend is here; the GPU ones
// (dawn-backend.ts here, the CLI's eval-webgpu-backend.ts) load their engines only when chosen.
import { createReferencePolicy, PolicyReferenceModel } from '../attention/cpu.ts';
import type { LoadedModel, ModelConfig } from '../model/index.ts';
import { ANSWER_TOKENS, type EvalItem } from './tasks.ts';

export const EVAL_BACKENDS = ['reference', 'dawn', 'webgpu'] as const;
export type EvalBackendName = (typeof EVAL_BACKENDS)[number];

export interface ItemRun {
  spec: string;
  /** Greedy ids after the prompt (retrieval items), up to ANSWER_TOKENS, ending at EOS if one came. */
  generated: number[];
  /** Perplexity items: the summed negative log-likelihood of the targets, in nats; null for retrieval items. */
  nll: number | null;
  /** K and V bytes the sequence held at its end, and the tokens (per layer and KV head). */
  kvBytes: number;
  tokensInCache: number;
  /** Host time before the prefill: the policy made and set, the sequence reset (0 where a backend does none). */
  setupMs: number;
  prefillMs: number;
  decodeMs: number;
  decodeSteps: number;
}

/** One item and the attention specs to run it under, as the CLI writes them (`quest:budget=128`). */
export interface EvalJob {
  item: EvalItem;
  specs: readonly string[];
}

export interface EvalBackend {
  readonly name: EvalBackendName;
  readonly config: ModelConfig;
  /**
   * Runs a batch of jobs; the result holds, per job, the runs of its specs in order. A backend may take the batch in
   * any order (the dawn one spec by spec, so a policy is made once for all the batch's items); `shouldStop` is asked
   * between runs, and a stopped batch returns the runs done (a job's list then ends early).
   */
  run(jobs: readonly EvalJob[], shouldStop?: () => boolean): Promise<ItemRun[][]>;
  close(): Promise<void>;
}

/** A backend's batch as item after item, each under its specs in order (the reference and webgpu backends). */
export async function runItemByItem(jobs: readonly EvalJob[], shouldStop: (() => boolean) | undefined, runItem: (job: EvalJob) => Promise<ItemRun[]>): Promise<ItemRun[][]> {
  const out: ItemRun[][] = jobs.map(() => []);
  for (const [i, job] of jobs.entries()) {
    if (shouldStop?.()) break;
    out[i] = await runItem(job);
  }
  return out;
}

/** The id a model gives greedily; ties to the lower id (argmax). */
export function argmaxOf(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** -log softmax(logits)[target], in f64. */
export function negativeLogLikelihood(logits: Float32Array, target: number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  return Math.log(sum) + max - logits[target];
}

/** A sequence the eval drives step by step: its prefill's last logits, then one decode step per fed id. */
export interface EvalSequence {
  decode(id: number): Float32Array | Promise<Float32Array>;
}

/** Greedy answer or teacher-forced targets after a prefill whose last logits are `first`. */
export async function continueItem(item: EvalItem, first: Float32Array, sequence: EvalSequence, eos: readonly number[]): Promise<{ generated: number[]; nll: number | null; steps: number }> {
  if (item.task === 'perplexity') {
    let nll = negativeLogLikelihood(first, item.targets[0]);
    for (let i = 1; i < item.targets.length; i++) nll += negativeLogLikelihood(await sequence.decode(item.targets[i - 1]), item.targets[i]);
    return { generated: [], nll, steps: item.targets.length - 1 };
  }
  const generated = [argmaxOf(first)];
  while (generated.length < ANSWER_TOKENS && !eos.includes(generated[generated.length - 1])) {
    generated.push(argmaxOf(await sequence.decode(generated[generated.length - 1])));
  }
  return { generated, nll: null, steps: generated.length - 1 };
}

/** The CPU reference: one dense prefill per item, forked for every spec (policy-reference.ts). */
export function createReferenceBackend(loaded: LoadedModel, calibrations: ReadonlyMap<string, unknown>): EvalBackend {
  const config = loaded.config;
  return {
    name: 'reference',
    config,
    run: (jobs, shouldStop) => runItemByItem(jobs, shouldStop, async ({ item, specs }) => {
      const policies = specs.map((spec) => createReferencePolicy(spec, config, calibrations.get(spec.split(':')[0])));
      const decays = policies.flatMap((p) => p.prefillDecays?.() ?? []);
      const t0 = performance.now();
      const base = new PolicyReferenceModel(config, loaded.weights);
      const first = base.prefill([...item.ids], decays);
      const prefillMs = performance.now() - t0;
      const runs: ItemRun[] = [];
      for (const [i, policy] of policies.entries()) {
        const model = base.fork(policy);
        const t1 = performance.now();
        const { generated, nll, steps } = await continueItem(item, first, model, config.eosTokenIds);
        runs.push({ spec: specs[i], generated, nll, kvBytes: model.kvBytes, tokensInCache: model.tokensInCache, setupMs: 0, prefillMs, decodeMs: performance.now() - t1, decodeSteps: steps });
      }
      return runs;
    }),
    async close() {},
  };
}
