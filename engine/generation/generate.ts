// The generation loop: prefill the prompt, then sample -> stop checks -> decode, one token at a time, streaming text.
import { AbortedError, ContextFullError, InvalidArgumentError, NonFiniteLogitsError } from '../errors/index.ts';
import type { ForwardBackend, PrefillProgress } from './backend.ts';
import { validateIds } from './logits.ts';
import { GREEDY, TokenSampler, tokenLogprob, type SamplingParams, type TokenConstraint, type TokenLogprob } from './sampler.ts';
import { IncrementalDetokenizer, StopStringFilter } from './stopping.ts';

export type FinishReason = 'stop' | 'length' | 'abort';

export interface GenerationUsage {
  prompt_tokens: number;
  completion_tokens: number;
  /** Prompt tokens actually run through prefill (fewer than prompt_tokens when a cached prefix was reused) per second. */
  prefill_tokens_per_s: number;
  /**
   * Prompt ids this request ran through prefill: prompt_tokens - cached_tokens when it got that far; on an abort during
   * prefill, the ids of the chunks done before it stopped (then dropped again: the cache is as before the request).
   */
  prefilled_tokens: number;
  decode_tokens_per_s: number;
  /** Bytes of KV pages this sequence holds now (not the pool). */
  kv_bytes: number;
  tokens_in_cache: number;
  /** Positions the sequence could hold under this request's attention (what the KV pool fits); null when unbounded (an evicting policy). */
  context_length: number | null;
  /** OpenAI's field: cached_tokens = prompt tokens served from the cache (a reused prefix), not prefilled. */
  prompt_tokens_details: { cached_tokens: number };
}

export interface GenerationRequest {
  /** Prompt ids (BOS included when the model wants it). */
  ids: number[];
  /** Most tokens to generate; null = until the context is full. */
  maxTokens: number | null;
  sampling?: SamplingParams;
  /** Ids that end generation (the model's eos_token_id list); the EOS id counts as a completion token, adds no text. */
  eosTokenIds: readonly number[];
  ignoreEos?: boolean;
  /** Stop strings; need `decode`. */
  stop?: readonly string[];
  /** ids -> text (the tokenizer's decode); without it steps carry no text. */
  decode?: (ids: number[]) => string;
  /** The BOS id, which the text of a reply is decoded without (see IncrementalDetokenizer). */
  bosTokenId?: number | null;
  /** Top alternatives to report per token: null = no logprobs, 0 = the chosen token's only. */
  logprobs?: number | null;
  signal?: AbortSignal;
  /** Reports the prompt's prefill as its chunks finish (a long prompt's progress bar). */
  onPrefillProgress?: (progress: PrefillProgress) => void;
  /** Positions the sequence may use; default the model's max_position_embeddings. */
  contextLength?: number;
  /** A grammar the reply must follow: each step's mask applies before the CPU sampler (the step-by-step path). */
  constraint?: TokenConstraint;
}

/** One generated token (null for the final release of held-back text) and the text this step releases. */
export interface GenerationStep {
  token: { id: number; logprob: TokenLogprob | null } | null;
  text: string;
}

export interface GenerationResult {
  /** Generated ids; an EOS that ended generation, or the token that completed a stop string, is included. */
  ids: number[];
  text: string;
  finishReason: FinishReason;
  usage: GenerationUsage;
  logprobs: TokenLogprob[] | null;
  /** Prompt ids served from the backend's cache instead of prefilled. */
  reusedPrefix: number;
}

const now = () => globalThis.performance?.now() ?? Date.now();

/**
 * Starts the sequence for `ids`: continues a cached prefix when the backend can tell one (always leaving at least
 * the last prompt id to prefill, whose logits pick the first token), else starts from an empty cache.
 * Returns how many leading ids are reused.
 */
async function startSequence(backend: ForwardBackend, ids: number[]): Promise<number> {
  if (backend.cachedPrefixLength && backend.truncate) {
    const reuse = Math.min(backend.cachedPrefixLength(ids), ids.length - 1);
    if (reuse > 0) {
      await backend.truncate(reuse);
      return reuse;
    }
  }
  await backend.reset();
  return 0;
}

/**
 * Generates tokens for one request, yielding a step per token (plus a last text-only step when held-back text is
 * released at the end). The generator's return value is the whole result. On an error the backend is reset before
 * the error propagates, so the next request starts clean; an abort ends the run with finish_reason "abort".
 */
export async function* generate(backend: ForwardBackend, req: GenerationRequest): AsyncGenerator<GenerationStep, GenerationResult, undefined> {
  const config = backend.config;
  validateIds(req.ids, config.vocabSize);
  if (req.maxTokens !== null && (!Number.isInteger(req.maxTokens) || req.maxTokens < 0)) {
    throw new InvalidArgumentError('max_tokens', 'must be a non-negative integer');
  }
  const stops = req.stop ?? [];
  if (stops.length > 0 && !req.decode) throw new InvalidArgumentError('stop', 'stop strings need a tokenizer; this model has none');
  const context = req.contextLength ?? backend.contextLength?.() ?? config.maxPositionEmbeddings;
  // Every generated token but the last is fed back, so a prompt of n ids leaves room for context - n new ones.
  const bound = req.contextLength === undefined ? backend.contextBound?.() : undefined;
  if (req.ids.length >= context) throw new ContextFullError(req.ids.length + 1, context, bound);
  const room = context - req.ids.length;
  // A max_tokens that cannot fit fails before prefill, naming the numbers; without one the reply runs until the
  // cache is full and ends with 'length', its text kept.
  if (req.maxTokens !== null && req.maxTokens > room) {
    throw new ContextFullError(req.ids.length + req.maxTokens, context, `a prompt of ${req.ids.length} tokens and max_tokens ${req.maxTokens}${bound ? `; ${bound}` : ''}`);
  }
  const maxTokens = req.maxTokens === null ? room : req.maxTokens;

  const sampler = new TokenSampler(req.sampling ?? GREEDY, req.ids);
  const detokenizer = req.decode ? new IncrementalDetokenizer(req.decode, req.ids, req.bosTokenId ?? null) : null;
  const stopFilter = new StopStringFilter(stops);
  const eos = new Set(req.ignoreEos ? [] : req.eosTokenIds);
  const logprobTop = req.logprobs ?? null;
  const out: number[] = [];
  const logprobs: TokenLogprob[] = [];
  let text = '';
  let finishReason: FinishReason = 'length';
  let reusedPrefix = 0;
  let prefilled = 0;
  let aborted = false;
  let prefillMs = 0;
  let decodeStart = 0;

  // Without logprobs, after the first token the backend chooses the ids (on the GPU: argmax, or the sampler kernel
  // with this request's parameters, seed and history) and streams them; logprobs need each step's logits here, and a
  // constrained request too (its mask depends on the token before).
  const constraint = req.constraint ?? null;
  const deviceChoice = logprobTop === null && constraint === null && backend.decodeStream !== undefined;
  /** The mask for the next pick, when it was started beside the step that gives its logits. */
  let nextMask: Promise<Int32Array> | null = null;
  let stream: AsyncGenerator<number, void, undefined> | null = null;
  try {
    if (req.signal?.aborted) {
      finishReason = 'abort';
    } else if (maxTokens > 0) {
      const t0 = now();
      reusedPrefix = await startSequence(backend, req.ids);
      let logits: Float32Array = new Float32Array(0);
      try {
        logits = await backend.prefill(req.ids.slice(reusedPrefix), 'last', { onProgress: req.onPrefillProgress, signal: req.signal });
        prefilled = req.ids.length - reusedPrefix;
      } catch (e) {
        // Stopped between chunks: the backend put the sequence back where it was, so nothing is reset here.
        if (!(e instanceof AbortedError) || !req.signal?.aborted) throw e;
        prefilled = Number(e.details?.prefilledTokens ?? 0);
        aborted = true;
      }
      prefillMs = now() - t0;
      decodeStart = now();
      for (;;) {
        if (aborted || req.signal?.aborted) { finishReason = 'abort'; break; }
        let id: number;
        if (stream) {
          const r = await stream.next();
          if (r.done) throw new Error('internal: the greedy stream ended before max_tokens');
          id = r.value;
          sampler.record(id);
        } else {
          // NaN or Inf logits have no next token (argmax would answer 0, sampling garbage): a typed error instead.
          checkFinite(logits, req.ids.length - 1 + out.length);
          id = sampler.next(logits, constraint ? await (nextMask ?? constraint.nextMask()) : undefined);
          nextMask = null;
          constraint?.accept(id);
        }
        out.push(id);
        const logprob = logprobTop === null ? null : tokenLogprob(logits, id, logprobTop);
        if (logprob) logprobs.push(logprob);
        const isEos = eos.has(id);
        const check = stopFilter.push(detokenizer && !isEos ? detokenizer.push(id) : '');
        let finished: FinishReason | null = null;
        if (check.stopped || isEos) finished = 'stop';
        else if (out.length >= maxTokens) finished = 'length';
        // A finishing step also releases what was held back (an incomplete character, a partial stop string).
        const released = finished !== null && !check.stopped ? check.text + stopFilter.push(detokenizer?.flush() ?? '').text + stopFilter.flush() : check.text;
        text += released;
        yield { token: { id, logprob }, text: released };
        if (finished !== null) { finishReason = finished; break; }
        if (deviceChoice) stream ??= (backend.decodeStream as NonNullable<ForwardBackend['decodeStream']>)(id, maxTokens - out.length, sampler.deviceSampling());
        else {
          // The grammar's next mask and the model's next step both depend only on the ids so far: the step is
          // submitted first and the mask is computed on this thread while the GPU runs it (xgrammar's mask costs
          // about a step's time on a 128K vocabulary, so done one after the other it would halve constrained tok/s).
          const step = backend.decode(id);
          nextMask = constraint?.nextMask() ?? null;
          // A failed step must not leave the mask's promise rejected with no one listening.
          nextMask?.catch(() => undefined);
          logits = await step;
        }
      }
    }
  } catch (e) {
    await stream?.return(undefined).catch(() => undefined);
    stream = null;
    await backend.reset().catch(() => undefined);
    throw e;
  } finally {
    // Ends the stream wherever the loop left (a stop, the consumer leaving): the backend undoes steps encoded ahead.
    await stream?.return(undefined);
  }
  if (finishReason === 'abort') {
    // Stopped between tokens: release the held-back text (it is not a stop string, or it would have been cut).
    const tail = stopFilter.push(detokenizer?.flush() ?? '').text + stopFilter.flush();
    if (tail) {
      text += tail;
      yield { token: null, text: tail };
    }
  }
  const decodeMs = now() - decodeStart;
  const decoded = Math.max(0, out.length - 1); // the first token comes from the prefill's logits
  const cache = backend.cacheUsage();
  return {
    ids: out,
    text,
    finishReason,
    logprobs: logprobTop === null ? null : logprobs,
    reusedPrefix,
    usage: {
      prompt_tokens: req.ids.length,
      completion_tokens: out.length,
      prefill_tokens_per_s: prefillMs === 0 ? 0 : prefilled / (prefillMs / 1000),
      prefilled_tokens: prefilled,
      decode_tokens_per_s: decoded === 0 || decodeMs <= 0 ? 0 : decoded / (decodeMs / 1000),
      kv_bytes: cache.kvBytes,
      tokens_in_cache: cache.tokensInCache,
      context_length: Number.isFinite(context) ? context : null,
      prompt_tokens_details: { cached_tokens: reusedPrefix },
    },
  };
}

/** Runs `generate` to the end and returns its result. */
export async function generateAll(backend: ForwardBackend, req: GenerationRequest): Promise<GenerationResult> {
  const steps = generate(backend, req);
  for (;;) {
    const r = await steps.next();
    if (r.done) return r.value;
  }
}

/** Throws NonFiniteLogitsError when a logits row read back to the CPU holds a NaN or an infinity. */
function checkFinite(logits: Float32Array, position: number): void {
  for (let i = 0; i < logits.length; i++) if (!Number.isFinite(logits[i])) throw new NonFiniteLogitsError(position);
}
