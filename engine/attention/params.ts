// The shape of an attention policy's parameter definitions (each policy's folder has its own params.ts) and the
// pieces several share: attention sinks, the recent window, the largest token count, CLI/API key spelling.

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

export const sinks = (extra: string): PolicyParameterDefinition => ({
  name: 'sinks', type: 'int', default: SINKS_DEFAULT, min: 0, max: MAX_POLICY_TOKENS, source: SINKS_SOURCE + extra,
  description: 'the first tokens of the sequence, never evicted',
});

export const recent = (fallback: number, source: string): PolicyParameterDefinition => ({
  name: 'recent', type: 'int', default: fallback, min: 1, max: MAX_POLICY_TOKENS, source,
  description: 'the newest tokens, always kept (at least 1: the token just generated)',
});




/** camelCase API key -> kebab-case CLI key. */
export function cliKey(name: string): string {
  return name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

/** kebab-case CLI key -> camelCase API key (camelCase passes through). */
export function apiKey(key: string): string {
  return key.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
