// Token selection: the sampling parameters, the processor chain they build, greedy / seeded multinomial picking, logprobs.
import { SeededRandom } from './random.ts';
import {
  FrequencyPenaltyProcessor, LogitBiasProcessor, MinPProcessor, PresencePenaltyProcessor, RepetitionPenaltyProcessor,
  TemperatureProcessor, TokenHistory, TopKProcessor, TopPProcessor, type LogitsProcessor,
} from './processors.ts';

/** Sampling parameters, already validated (engine/api checks types and ranges). Neutral values switch a step off. */
export interface SamplingParams {
  /** 0 = greedy (argmax after bias and penalties). */
  temperature: number;
  /** 0 = off. */
  topK: number;
  /** 1 = off. */
  topP: number;
  /** 0 = off. */
  minP: number;
  /** 1 = off. */
  repetitionPenalty: number;
  /** 0 = off. */
  presencePenalty: number;
  /** 0 = off. */
  frequencyPenalty: number;
  /** Token id -> bias added to its logit. */
  logitBias: ReadonlyMap<number, number>;
  /** null = a fresh random seed per request. */
  seed: number | null;
}

export const GREEDY: SamplingParams = {
  temperature: 0, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0,
  logitBias: new Map(), seed: null,
};

export interface TopLogprob {
  id: number;
  logprob: number;
}

/** The chosen token's log-probability and the most likely alternatives, under the model's own distribution. */
export interface TokenLogprob extends TopLogprob {
  top: TopLogprob[];
}

/**
 * A constraint on the next token (a grammar): the bitmask of allowed ids before each pick, and the id picked after.
 * Constrained requests decode step by step (each mask needs the token before it), their logits read back.
 */
export interface TokenConstraint {
  /** Bit (id & 31) of word (id >> 5) is set for each allowed id. */
  nextMask(): Promise<Int32Array>;
  accept(id: number): void;
}

/** Sets every id the mask does not allow to -Infinity (a word of all ones, the common case, is skipped). */
export function applyTokenMask(row: Float32Array, mask: Int32Array): void {
  for (let w = 0; w < mask.length; w++) {
    const bits = mask[w];
    if (bits === -1) continue;
    const base = w << 5;
    const end = Math.min(base + 32, row.length);
    for (let i = base; i < end; i++) if (((bits >>> (i - base)) & 1) === 0) row[i] = -Infinity;
  }
  // Ids past the mask (a vocabulary padded beyond the tokenizer's) are not allowed either.
  for (let i = mask.length << 5; i < row.length; i++) row[i] = -Infinity;
}

export interface Sampler {
  pick(logits: Float32Array): number;
}

export class GreedySampler implements Sampler {
  pick(logits: Float32Array): number {
    return argmax(logits);
  }
}

/**
 * Logits more than this below the maximum get weight 0 instead of exp(): e^-50 is 2e-22, so even a million such
 * tokens hold under 2e-16 of the mass, below the f64 rounding of the total; skipping exp() there saves most of
 * the time on a 150K vocabulary.
 */
export const NEGLIGIBLE_LOGIT_GAP = 50;

/** Draws from softmax(logits) with a seeded generator; -Infinity entries (removed by processors) never win. */
export class MultinomialSampler implements Sampler {
  private weights = new Float64Array(0);
  constructor(private readonly random: SeededRandom) {}
  pick(logits: Float32Array): number {
    if (this.weights.length !== logits.length) this.weights = new Float64Array(logits.length);
    const w = this.weights;
    const max = logits[argmax(logits)];
    const floor = max - NEGLIGIBLE_LOGIT_GAP;
    let total = 0;
    for (let i = 0; i < logits.length; i++) {
      const x = logits[i];
      const e = x < floor ? 0 : Math.exp(x - max);
      w[i] = e;
      total += e;
    }
    let u = this.random.next() * total;
    let last = 0;
    for (let i = 0; i < w.length; i++) {
      const e = w[i];
      if (e === 0) continue;
      last = i;
      u -= e;
      if (u < 0) return i;
    }
    return last; // rounding left a sliver of mass: the last kept token takes it
  }
}

export function argmax(row: Float32Array): number {
  let best = 0;
  let max = row[0];
  for (let i = 1; i < row.length; i++) {
    const x = row[i];
    if (x > max) { max = x; best = i; }
  }
  return best;
}

/** log_softmax(logits)[id] and the `top` most likely ids (ties to the lower id), in f64. */
export function tokenLogprob(logits: Float32Array, id: number, top: number): TokenLogprob {
  const max = logits[argmax(logits)];
  let total = 0;
  for (let i = 0; i < logits.length; i++) total += Math.exp(logits[i] - max);
  const logTotal = max + Math.log(total);
  const best: number[] = []; // ids, kept sorted by logit descending; top <= 20 so insertion is cheap
  if (top > 0) {
    for (let i = 0; i < logits.length; i++) {
      if (best.length === top && logits[i] <= logits[best[top - 1]]) continue;
      let at = best.length;
      while (at > 0 && logits[best[at - 1]] < logits[i]) at--;
      best.splice(at, 0, i);
      if (best.length > top) best.pop();
    }
  }
  return {
    id,
    logprob: logits[id] - logTotal,
    top: best.map((t) => ({ id: t, logprob: logits[t] - logTotal })),
  };
}

/** The processor chain for `params`, in the order vLLM and transformers apply them. */
export function buildProcessors(params: SamplingParams): LogitsProcessor[] {
  const chain: LogitsProcessor[] = [];
  if (params.logitBias.size > 0) chain.push(new LogitBiasProcessor(params.logitBias));
  if (params.repetitionPenalty !== 1) chain.push(new RepetitionPenaltyProcessor(params.repetitionPenalty));
  if (params.presencePenalty !== 0) chain.push(new PresencePenaltyProcessor(params.presencePenalty));
  if (params.frequencyPenalty !== 0) chain.push(new FrequencyPenaltyProcessor(params.frequencyPenalty));
  if (params.temperature === 0) return chain; // greedy: truncation and temperature cannot change the argmax
  if (params.temperature !== 1) chain.push(new TemperatureProcessor(params.temperature));
  if (params.topK > 0) chain.push(new TopKProcessor(params.topK));
  if (params.topP < 1) chain.push(new TopPProcessor(params.topP));
  if (params.minP > 0) chain.push(new MinPProcessor(params.minP));
  return chain;
}

/**
 * Picks one token per step: copies the raw row, runs the processor chain on the copy, then picks. Logprobs are
 * those of the raw model distribution (before bias, penalties and temperature), as vLLM reports by default.
 */
export class TokenSampler {
  readonly history: TokenHistory;
  private readonly processors: LogitsProcessor[];
  private readonly sampler: Sampler;
  private work = new Float32Array(0);

  /** Plain argmax of the raw logits (temperature 0, no bias or penalties): a backend may choose the ids itself. */
  readonly isPlainGreedy: boolean;

  constructor(params: SamplingParams, prompt: readonly number[]) {
    this.history = new TokenHistory(prompt);
    this.processors = buildProcessors(params);
    this.isPlainGreedy = params.temperature === 0 && this.processors.length === 0;
    this.sampler = params.temperature === 0
      ? new GreedySampler()
      : new MultinomialSampler(new SeededRandom(params.seed ?? SeededRandom.randomSeed()));
  }

  /**
   * Picks the next id from `logits` ([vocab], left untouched) and records it in the history. A grammar's `mask`
   * removes the ids it does not allow first, so bias, penalties and truncation act among the allowed ones.
   */
  next(logits: Float32Array, mask?: Int32Array): number {
    if (this.work.length !== logits.length) this.work = new Float32Array(logits.length);
    this.work.set(logits);
    if (mask) applyTokenMask(this.work, mask);
    for (const p of this.processors) p.apply(this.work, this.history);
    const id = this.sampler.pick(this.work);
    this.history.push(id);
    return id;
  }
}
