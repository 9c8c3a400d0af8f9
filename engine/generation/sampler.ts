// Token selection: the sampling parameters, the processor chain they build, greedy / seeded multinomial picking, logprobs.
import type { DeviceSampling } from './backend.ts';
import { GUMBEL_MAX, gumbelNoise, randomSeed, samplingSeed, seedKey, stepKey } from './random.ts';
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
  /** Picks an id from the processed row; `step` is the request's generation step (0 for its first token). */
  pick(logits: Float32Array, step: number): number;
}

export class GreedySampler implements Sampler {
  pick(logits: Float32Array): number {
    return argmax(logits);
  }
}

/**
 * Seeded sampling from softmax(logits) by the Gumbel-max rule: the id with the largest logit + g, where g = -ln(-ln(u))
 * and u is the counter-based uniform of (seed, step, id) (random.ts). It draws from the same distribution as inverse-CDF
 * sampling but needs no running sum, so the GPU kernel (engine/decode/sampler.wgsl) computes the same id from the same
 * f32 logits: only a near-tie of two noisy scores (within the f32 rounding of ln) can pick another one. -Infinity
 * entries (removed by processors) never win; ties go to the lower id.
 */
export class GumbelSampler implements Sampler {
  private readonly key: number;
  constructor(seed: number) {
    this.key = seedKey(samplingSeed(seed));
  }

  pick(logits: Float32Array, step: number): number {
    const key = this.key;
    const sk = stepKey(key, step);
    const top = argmax(logits);
    // A token whose logit is more than GUMBEL_MAX below this bound cannot beat the argmax's own score: skip its hash.
    const bound = Math.fround(logits[top] + gumbelNoise(key, sk, top)) - GUMBEL_MAX;
    let best = -Infinity;
    let id = top;
    for (let i = 0; i < logits.length; i++) {
      const x = logits[i];
      if (x < bound || x === -Infinity) continue;
      const s = Math.fround(x + gumbelNoise(key, sk, i));
      if (s > best) { best = s; id = i; }
    }
    return id;
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
  /** The seed this request draws with (the request's, or a fresh random one): a backend choosing ids itself uses it. */
  readonly seed: number;
  private readonly processors: LogitsProcessor[];
  private readonly sampler: Sampler;
  private work = new Float32Array(0);

  /** Plain argmax of the raw logits (temperature 0, no bias or penalties): a backend may choose the ids itself. */
  readonly isPlainGreedy: boolean;

  constructor(readonly params: SamplingParams, prompt: readonly number[]) {
    this.history = new TokenHistory(prompt);
    this.seed = params.seed ?? randomSeed();
    this.processors = buildProcessors(params);
    this.isPlainGreedy = params.temperature === 0 && this.processors.length === 0;
    this.sampler = params.temperature === 0 ? new GreedySampler() : new GumbelSampler(this.seed);
  }

  /** What a backend needs to choose the ids itself; undefined for a plain argmax (its argmax kernel needs nothing). */
  deviceSampling(): DeviceSampling | undefined {
    return this.isPlainGreedy ? undefined : { params: this.params, seed: this.seed, history: this.history };
  }

  /** Records an id the backend chose (the history the penalties and the noise counter follow). */
  record(id: number): void {
    this.history.push(id);
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
    const id = this.sampler.pick(this.work, this.history.generated.length);
    this.history.push(id);
    return id;
  }
}
