// Parameter definitions of the attention policies (names, types, defaults with their source, ranges): what the spec
// parser validates against and what the chat page shows.
import { MAX_HEAD_DIM } from './constants.ts';

export type PolicyParameterType = 'int' | 'float' | 'float-list';

export interface PolicyParameterDefinition {
  /** The API key (camelCase); the CLI key is its kebab-case form (`selectLayer` -> `select-layer`). */
  readonly name: string;
  readonly type: PolicyParameterType;
  /** Used when the spec leaves the parameter out (and `budget` does not set it). */
  readonly default: number;
  /** Where the default comes from (paper, measurement, Sieve's choice and why). */
  readonly source: string;
  /** Inclusive range; for a list, the range of every element. */
  readonly min: number;
  readonly max: number;
  /** True when `min` itself is excluded (a forgetting factor of 0 would forget everything at once). */
  readonly minExclusive?: boolean;
  readonly description: string;
}

export interface PolicyDefinition {
  readonly name: string;
  readonly description: string;
  /** Evicting policies bound the KV memory; the others keep every token. */
  readonly evicts: boolean;
  readonly parameters: readonly PolicyParameterDefinition[];
  /**
   * What `budget=N` stands for: the tokens the cache holds, N = fixed + parts[0] + parts[1]; N minus the fixed part
   * is split evenly between the two parts (the second, the recent window, takes the odd token). Null: the policy
   * takes `budget` and ignores it (dense: a page may send one budget to every policy).
   */
  readonly budget: { readonly fixed: string; readonly parts: readonly [string, string] | readonly [string] } | null;
}

/** The largest token count any parameter may name: 2^20 tokens, far beyond the contexts a browser tab can hold. */
export const MAX_POLICY_TOKENS = 1 << 20;

/** Attention sinks: StreamingLLM (Xiao et al. 2023, "Efficient Streaming Language Models with Attention Sinks") keeps 4. */
const SINKS_DEFAULT = 4;
const SINKS_SOURCE = 'StreamingLLM (Xiao et al., 2023): 4 initial tokens suffice as attention sinks';

const sinks = (extra: string): PolicyParameterDefinition => ({
  name: 'sinks', type: 'int', default: SINKS_DEFAULT, min: 0, max: MAX_POLICY_TOKENS, source: SINKS_SOURCE + extra,
  description: 'the first tokens of the sequence, never evicted',
});

const recent = (fallback: number, source: string): PolicyParameterDefinition => ({
  name: 'recent', type: 'int', default: fallback, min: 1, max: MAX_POLICY_TOKENS, source,
  description: 'the newest tokens, always kept (at least 1: the token just generated)',
});

export const POLICY_DEFINITIONS: readonly PolicyDefinition[] = [
  {
    name: 'dense',
    description: 'Full causal attention over every cached token; the reference every other policy must equal.',
    evicts: false,
    parameters: [],
    budget: null,
  },
  {
    name: 'streaming',
    description: 'StreamingLLM: keeps the first `sinks` tokens and the newest `window`, evicts the middle.',
    evicts: true,
    parameters: [
      sinks(''),
      {
        name: 'window', type: 'int', default: 1020, min: 1, max: MAX_POLICY_TOKENS,
        source: 'StreamingLLM (Xiao et al., 2023): a 1024-token cache of 4 sinks + 1020 recent tokens',
        description: 'the newest tokens kept',
      },
    ],
    budget: { fixed: 'sinks', parts: ['window'] },
  },
  {
    name: 'h2o',
    description: 'H2O heavy hitters: keeps sinks, the `recent` newest tokens and the `heavy` older tokens with the largest accumulated attention.',
    evicts: true,
    parameters: [
      sinks('; H2O itself has none, but generation collapses at tight budgets without them'),
      {
        name: 'heavy', type: 'int', default: 128, min: 0, max: MAX_POLICY_TOKENS,
        source: 'Sieve: H2O (Zhang et al., 2023) uses 10% of the prompt, unknown before the prompt; 128 matches A2SF\'s select so both compare at one budget',
        description: 'older tokens kept by accumulated attention mass',
      },
      recent(128, 'Sieve: H2O (Zhang et al., 2023) uses 10% of the prompt; 128 matches A2SF\'s recent'),
    ],
    budget: { fixed: 'sinks', parts: ['heavy', 'recent'] },
  },
  {
    name: 'a2sf',
    description: 'A2SF: H2O with a forgetting factor; scores decay by `forgetting` each step, so old attention counts less.',
    evicts: true,
    parameters: [
      sinks('; optional in A2SF'),
      {
        name: 'select', type: 'int', default: 128, min: 0, max: MAX_POLICY_TOKENS,
        source: 'A2SF (Jo & Shin, 2024): select 128 + recent 128',
        description: 'older tokens kept by forgetting-weighted accumulated attention',
      },
      recent(128, 'A2SF (Jo & Shin, 2024): select 128 + recent 128'),
      {
        name: 'forgetting', type: 'float-list', default: 0.99, min: 0, minExclusive: true, max: 1,
        source: 'A2SF (Jo & Shin, 2024): a = 0.99; the best value varies by model and task; 1 gives H2O exactly',
        description: 'forgetting factor a (score = a * score + p): one number, or one per layer slash-separated',
      },
    ],
    budget: { fixed: 'sinks', parts: ['select', 'recent'] },
  },
  {
    name: 'quest',
    description: 'Quest: per page, the min and max of its keys bound q.k; reads the top pages up to the budget (whole pages), keeps every token.',
    evicts: false,
    parameters: [
      {
        name: 'budget', type: 'int', default: 512, min: 1, max: MAX_POLICY_TOKENS,
        source: 'Quest (Tang et al., 2024): budgets of 512 to 4096 tokens; 512 is the smallest it reports near-dense accuracy with',
        description: 'tokens read per decode step, rounded up to whole pages (the page holding the new token is always read besides)',
      },
      {
        name: 'denseLayers', type: 'int', default: 2, min: 0, max: 1024,
        source: 'Quest (Tang et al., 2024): layers 0 and 1 attend densely (their attention is not sparse enough to bound)',
        description: 'the first layers, attended densely',
      },
    ],
    budget: null,
  },
  {
    name: 'tidal',
    description: 'TidalDecode: dense first layers; a selection layer and a middle re-selection layer attend densely and pick the top tokens by q.k for the layers after them.',
    evicts: false,
    parameters: [
      {
        name: 'budget', type: 'int', default: 256, min: 1, max: MAX_POLICY_TOKENS,
        source: 'Sieve: TidalDecode (Yang et al., 2024) uses top-k 128 (needle) to 4096 (LongBench); 256 is issue 5\'s comparison budget',
        description: 'tokens read per decode step at the layers after a selection layer',
      },
      {
        name: 'selectLayer', type: 'int', default: 2, min: 0, max: 1024,
        source: 'TidalDecode (Yang et al., 2024): layers 0 and 1 dense, selection at layer 2',
        description: 'the layer that attends densely and selects; the layers before it attend densely',
      },
      {
        name: 'reselectLayer', type: 'int', default: 0, min: 0, max: 1024,
        source: 'TidalDecode (Yang et al., 2024): layer 13 of 32 on Llama-3-8B; 0 = the model\'s default, round(13/32 of its layers), at least select-layer + 1',
        description: 'the middle layer that attends densely and re-selects for the layers after it (0: the model\'s default; past the last layer is an error)',
      },
    ],
    budget: null,
  },
  {
    name: 'recycled',
    description: 'Recycled Attention: full steps attend densely and record the top tokens by attention mass; the steps between read those plus the tokens generated since.',
    evicts: false,
    parameters: [
      {
        name: 'budget', type: 'int', default: 256, min: 1, max: MAX_POLICY_TOKENS,
        source: 'Sieve: Recycled Attention (Xu et al., 2024) uses K = 2048..4096; 256 is issue 5\'s comparison budget',
        description: 'K: tokens recorded per KV head at a full step (the tokens generated since are read besides)',
      },
      {
        name: 'stride', type: 'int', default: 16, min: 1, max: MAX_POLICY_TOKENS,
        source: 'Sieve: Recycled Attention (Xu et al., 2024) uses S = 10 (language modelling) and 50 (RULER); 16 is issue 5\'s example',
        description: 'a full step every `stride` decode steps (ignored when `dynamic` is set)',
      },
      {
        name: 'dynamic', type: 'float', default: 0, min: 0, max: 1,
        source: 'Recycled Attention (Xu et al., 2024): dynamic schedule with threshold s = 0.8; 0 = off (fixed stride)',
        description: 'cosine threshold: a full step when the query\'s cosine with the last full step\'s query falls below it (0: fixed stride)',
      },
      {
        name: 'checkEvery', type: 'int', default: 5, min: 1, max: MAX_POLICY_TOKENS,
        source: 'Recycled Attention (Xu et al., 2024): the query similarity is checked every few steps; 5 is issue 5\'s example',
        description: 'with `dynamic`, decode steps between similarity checks',
      },
    ],
    budget: null,
  },
  {
    name: 'double-sparsity',
    description: 'Double Sparsity: a label cache of each key\'s calibrated outlier channels scores every token cheaply; reads the top tokens up to the budget. Needs a calibration (sieve calibrate).',
    evicts: false,
    parameters: [
      {
        name: 'budget', type: 'int', default: 256, min: 1, max: MAX_POLICY_TOKENS,
        source: 'Sieve: Double Sparsity (Yang et al., 2024) reads 1/16 of the tokens at budgets of 128 to 4096; 256 is issue 5\'s comparison budget',
        description: 'tokens read per decode step (the new token included) at the layers after the dense ones',
      },
      {
        name: 'channels', type: 'int', default: 0, min: 0, max: MAX_HEAD_DIM,
        source: 'Sieve: 0 = the model\'s head dim / 8 (16 of 128, issue 5\'s example; Double Sparsity keeps r = d/8 .. d/2 channels); more than the head dim is an error',
        description: 'key channels per token in the label cache, the calibrated top ones (0: head dim / 8)',
      },
      {
        name: 'denseLayers', type: 'int', default: 2, min: 0, max: 1024,
        source: 'Double Sparsity (Yang et al., 2024): layers 0 and 1 attend densely',
        description: 'the first layers, attended densely',
      },
    ],
    budget: null,
  },
  {
    name: 'fasa',
    description: 'FASA: scores every token with q.k over the few RoPE frequency chunks that agree most with the full head (calibrated); reads the top tokens up to the budget. Needs a calibration (sieve calibrate).',
    evicts: false,
    parameters: [
      {
        name: 'budget', type: 'int', default: 256, min: 1, max: MAX_POLICY_TOKENS,
        source: 'FASA (arXiv 2602.03152): 256 tokens keep about 100% of full-cache LongBench-V1',
        description: 'tokens read per decode step (the new token included) at the layers after the dense ones',
      },
      {
        name: 'chunks', type: 'int', default: 0, min: 0, max: MAX_HEAD_DIM / 2,
        source: 'Sieve: 0 = the model\'s head dim / 16 RoPE pairs (8 of 64 at head dim 128, issue 5\'s example: the same 16 key dims per token as Double Sparsity\'s default); FASA reports 16 chunks; more than head dim / 2 is an error',
        description: 'dominant frequency chunks (RoPE pairs) the estimate uses (0: head dim / 16)',
      },
      {
        name: 'denseLayers', type: 'int', default: 1, min: 0, max: 1024,
        source: 'FASA (arXiv 2602.03152): layer 0 attends densely',
        description: 'the first layers, attended densely',
      },
    ],
    budget: null,
  },
];

/** The definition of a policy by name, or undefined. */
export function policyDefinition(name: string, definitions: readonly PolicyDefinition[] = POLICY_DEFINITIONS): PolicyDefinition | undefined {
  return definitions.find((d) => d.name === name);
}

/** camelCase API key -> kebab-case CLI key. */
export function cliKey(name: string): string {
  return name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

/** kebab-case CLI key -> camelCase API key (camelCase passes through). */
export function apiKey(key: string): string {
  return key.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
