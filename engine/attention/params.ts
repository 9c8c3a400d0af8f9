// Parameter definitions of the attention policies (names, types, defaults with their source, ranges): what the spec
// parser validates against and what the chat page shows.

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
