// The attention spec parser: the CLI grammar `name[:key=value[,key=value]...]` and the API object, both validated
// against the policies' parameter tables (each policy's params.ts, listed in policies.ts) into one normalized spec
// with every parameter resolved.
import { InvalidArgumentError } from '../errors/index.ts';
import {
  apiKey, cliKey, MAX_POLICY_TOKENS, type PolicyDefinition, type PolicyParameterDefinition, type PolicyParameterType,
} from './params.ts';
import { POLICY_DEFINITIONS } from './policies.ts';

export type DenseSpec = { policy: 'dense' };
/** The cache holds at most sinks + window tokens (= budget). */
export type StreamingSpec = { policy: 'streaming'; sinks: number; window: number; budget: number };
/** The cache holds at most sinks + heavy + recent tokens (= budget). */
export type H2OSpec = { policy: 'h2o'; sinks: number; heavy: number; recent: number; budget: number };
/** The cache holds at most sinks + select + recent tokens (= budget); forgetting is one factor or one per layer. */
export type A2SFSpec = { policy: 'a2sf'; sinks: number; select: number; recent: number; forgetting: number | number[]; budget: number };
export type NormalizedSpec = DenseSpec | StreamingSpec | H2OSpec | A2SFSpec;

/** A spec of any table (issue 5's policies bring their own): every parameter resolved, camelCase keys. */
export type ResolvedSpec = { policy: string; [param: string]: number | number[] | string };

/** The API form: `{policy: 'h2o', heavy: 64}`; values may be numbers, numeric strings or (lists) arrays. */
export type AttentionSpecInput = string | { policy: string; [param: string]: unknown };

const BUDGET_KEY = 'budget';
const GRAMMAR = 'name[:key=value[,key=value]...] (lists slash-separated, e.g. a2sf:forgetting=0.9/0.95)';

/** Builds a parser over a parameter table; `parseAttentionSpec` is this over POLICY_DEFINITIONS. */
export function createSpecParser(definitions: readonly PolicyDefinition[]): (input: AttentionSpecInput) => ResolvedSpec {
  return (input) => {
    const { policy, params, form } = typeof input === 'string' ? splitCliSpec(input) : splitApiSpec(input);
    const def = definitions.find((d) => d.name === policy);
    if (!def) {
      throw new InvalidArgumentError('attention.policy', `unknown policy "${policy}"; valid policies: ${definitions.map((d) => d.name).join(', ')}`);
    }
    return resolve(def, params, form);
  };
}

const parseWithPolicyTable = createSpecParser(POLICY_DEFINITIONS);

/**
 * Parses and validates a request's attention option (a CLI string or an API object) into a normalized spec:
 * every parameter present, `budget` the total the cache may hold (evicting policies). Throws InvalidArgumentError
 * naming the unknown policy / key or the bad value with its range.
 */
export function parseAttentionSpec(input: AttentionSpecInput): NormalizedSpec {
  return parseWithPolicyTable(input) as NormalizedSpec;
}

/** One row per parameter, for the chat page: API and CLI keys, type, default and its source, range. */
export interface PolicyParameterRow {
  policy: string;
  policyDescription: string;
  evicts: boolean;
  /** API key (camelCase). */
  name: string;
  /** CLI key (kebab-case). */
  cliName: string;
  type: PolicyParameterType;
  default: number | null;
  source: string;
  min: number;
  max: number;
  minExclusive: boolean;
  description: string;
}

/** The parameter table of every policy, `budget` included (its default: the sum of the parts' defaults). */
export function policyParameterTable(definitions: readonly PolicyDefinition[] = POLICY_DEFINITIONS): PolicyParameterRow[] {
  const rows: PolicyParameterRow[] = [];
  for (const def of definitions) {
    const common = { policy: def.name, policyDescription: def.description, evicts: def.evicts };
    for (const p of def.parameters) {
      rows.push({
        ...common, name: p.name, cliName: cliKey(p.name), type: p.type, default: p.default, source: p.source, min: p.min, max: p.max,
        minExclusive: p.minExclusive ?? false, description: p.description,
      });
    }
    const b = def.budget;
    if (def.parameters.some((q) => q.name === BUDGET_KEY)) continue;
    rows.push({
      ...common, name: BUDGET_KEY, cliName: BUDGET_KEY, type: 'int',
      default: b ? [b.fixed, ...b.parts].reduce((sum, name) => sum + paramOf(def, name).default, 0) : null,
      source: b ? `sum of the defaults of ${[b.fixed, ...b.parts].join(' + ')}` : 'accepted and ignored',
      min: 1, max: MAX_POLICY_TOKENS, minExclusive: false,
      description: b
        ? `shorthand for the tokens the cache holds: ${[b.fixed, ...b.parts].join(' + ')}; what is left after ${b.fixed} is split evenly between ${b.parts.join(' and ')}`
        : 'accepted and ignored (a page may send one budget to every policy)',
    });
  }
  return rows;
}

type Form = 'cli' | 'api';
/** Raw values by camelCase key, with the key as the user wrote it (for messages). */
type RawParams = Map<string, { written: string; value: unknown }>;

function splitCliSpec(text: string): { policy: string; params: RawParams; form: Form } {
  const colon = text.indexOf(':');
  const policy = (colon < 0 ? text : text.slice(0, colon)).trim().toLowerCase();
  if (!policy) throw new InvalidArgumentError('attention', `expected ${GRAMMAR}, got "${text}"`);
  const params: RawParams = new Map();
  const rest = colon < 0 ? '' : text.slice(colon + 1).trim();
  if (rest.length > 0) {
    for (const pair of rest.split(',')) {
      const eq = pair.indexOf('=');
      const written = (eq < 0 ? pair : pair.slice(0, eq)).trim();
      if (eq < 0 || written.length === 0) throw new InvalidArgumentError('attention', `"${pair.trim()}" is not key=value; expected ${GRAMMAR}`);
      addParam(params, written, pair.slice(eq + 1).trim());
    }
  }
  return { policy, params, form: 'cli' };
}

function splitApiSpec(spec: { policy: string; [param: string]: unknown }): { policy: string; params: RawParams; form: Form } {
  if (typeof spec !== 'object' || spec === null || typeof spec.policy !== 'string' || spec.policy.trim().length === 0) {
    throw new InvalidArgumentError('attention.policy', 'must be a policy name (string)');
  }
  const params: RawParams = new Map();
  for (const [written, value] of Object.entries(spec)) {
    // null or undefined means "the default", as everywhere in the OpenAI-style API.
    if (written === 'policy' || value === null || value === undefined) continue;
    addParam(params, written, value);
  }
  return { policy: spec.policy.trim().toLowerCase(), params, form: 'api' };
}

function addParam(params: RawParams, written: string, value: unknown): void {
  const key = apiKey(written);
  const earlier = params.get(key);
  if (earlier) throw new InvalidArgumentError(`attention.${written}`, `given twice (as "${earlier.written}" and "${written}")`);
  params.set(key, { written, value });
}

function paramOf(def: PolicyDefinition, name: string): PolicyParameterDefinition {
  const p = def.parameters.find((q) => q.name === name);
  if (!p) throw new Error(`policy table: ${def.name} has no parameter "${name}" named by its budget`);
  return p;
}

function resolve(def: PolicyDefinition, params: RawParams, form: Form): ResolvedSpec {
  const keyName = (name: string) => (form === 'cli' ? cliKey(name) : name);
  const out: ResolvedSpec = { policy: def.name };
  const given = new Set<string>();
  let budget: number | null = null;
  for (const [key, { written, value }] of params) {
    // A selecting policy may own `budget` as a plain parameter (tokens read per step).
    if (key === BUDGET_KEY && !def.parameters.some((q) => q.name === BUDGET_KEY)) {
      budget = parseValue({ name: BUDGET_KEY, type: 'int', min: 1, max: MAX_POLICY_TOKENS }, written, value) as number;
      continue;
    }
    const p = def.parameters.find((q) => q.name === key);
    if (!p) {
      const valid = [...def.parameters.map((q) => keyName(q.name)), BUDGET_KEY];
      const problem = def.parameters.length === 0
        ? `${def.name} takes no parameters (${BUDGET_KEY} is accepted and ignored)`
        : `unknown parameter of ${def.name}; valid keys: ${valid.join(', ')}`;
      throw new InvalidArgumentError(`attention.${written}`, problem);
    }
    out[p.name] = parseValue(p, written, value);
    given.add(p.name);
  }
  for (const p of def.parameters) if (!given.has(p.name)) out[p.name] = p.default;
  if (!def.budget) return out;

  const { fixed, parts } = def.budget;
  const fixedValue = out[fixed] as number;
  if (budget !== null) {
    const rest = budget - fixedValue;
    const open = parts.filter((name) => !given.has(name));
    const closed = parts.filter((name) => given.has(name)).reduce((sum, name) => sum + (out[name] as number), 0);
    const spread = rest - closed;
    const describe = `${keyName(fixed)} (${fixedValue}) + ${parts.map(keyName).join(' + ')}`;
    if (open.length === 0) {
      if (spread !== 0) throw new InvalidArgumentError('attention.budget', `${budget} does not equal ${describe} = ${fixedValue + closed}; give the budget or its parts, or make them agree`);
    } else {
      // Even split; the last open part (the recent window) takes the odd token.
      let left = spread;
      open.forEach((name, i) => {
        const share = i === open.length - 1 ? left : Math.floor(spread / open.length);
        left -= share;
        const p = paramOf(def, name);
        if (share < p.min) {
          throw new InvalidArgumentError('attention.budget', `${budget} is too small: ${describe} leaves ${share} for ${keyName(name)}, which must be at least ${p.min}`);
        }
        out[name] = share;
      });
    }
  }
  out[BUDGET_KEY] = [fixed, ...parts].reduce((sum, name) => sum + (out[name] as number), 0);
  if ((out[BUDGET_KEY] as number) > MAX_POLICY_TOKENS) {
    throw new InvalidArgumentError('attention.budget', `${keyName(fixed)} + ${parts.map(keyName).join(' + ')} = ${out[BUDGET_KEY]} exceeds ${MAX_POLICY_TOKENS} tokens`);
  }
  return out;
}

type Checked = Pick<PolicyParameterDefinition, 'name' | 'type' | 'min' | 'max' | 'minExclusive'>;

function parseValue(p: Checked, written: string, value: unknown): number | number[] {
  const range = `${p.minExclusive ? '(' : '['}${p.min}, ${p.max}]`;
  const what = p.type === 'int' ? `an integer in ${range}` : p.type === 'float' ? `a number in ${range}` : `a number in ${range}, or a slash-separated list of them (one per layer)`;
  const fail = (): never => {
    throw new InvalidArgumentError(`attention.${written}`, `must be ${what}, got ${JSON.stringify(value)}`);
  };
  const one = (v: unknown): number => {
    let n: number;
    if (typeof v === 'number') n = v;
    else if (typeof v === 'string' && v.trim() !== '' && (p.type !== 'int' || /^\s*[+-]?\d+\s*$/.test(v))) n = Number(v);
    else return fail();
    if (!Number.isFinite(n) || (p.type === 'int' && !Number.isSafeInteger(n))) return fail();
    if (n > p.max || n < p.min || (p.minExclusive && n === p.min)) return fail();
    return n;
  };
  if (p.type !== 'float-list') return one(value);
  const items = Array.isArray(value) ? value : typeof value === 'string' && value.includes('/') ? value.split('/') : null;
  if (items === null) return one(value);
  if (items.length === 0) return fail();
  const list = items.map(one);
  return list.length === 1 ? list[0] : list;
}
