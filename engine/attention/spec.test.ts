// The attention spec grammar and its validation: defaults, budget shorthand, CLI/API key forms, typed errors.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors/index.ts';
import type { PolicyDefinition } from './params.ts';
import { createSpecParser, parseAttentionSpec, policyParameterTable, type H2OSpec } from './spec.ts';

/** The InvalidArgumentError `fn` throws (fails the test when it throws nothing or something else). */
function errorOf(fn: () => unknown): InvalidArgumentError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidArgumentError);
    return e as InvalidArgumentError;
  }
  throw new Error('expected an InvalidArgumentError');
}

describe('parseAttentionSpec', () => {
  it('gives every parameter its default for a bare name, and takes dense as a policy', () => {
    expect(parseAttentionSpec('dense')).toEqual({ policy: 'dense' });
    expect(parseAttentionSpec('streaming')).toEqual({ policy: 'streaming', sinks: 4, window: 1020, budget: 1024 });
    expect(parseAttentionSpec('h2o')).toEqual({ policy: 'h2o', sinks: 4, heavy: 128, recent: 128, budget: 260 });
    expect(parseAttentionSpec('a2sf')).toEqual({ policy: 'a2sf', sinks: 4, select: 128, recent: 128, forgetting: 0.99, budget: 260 });
    expect(parseAttentionSpec({ policy: 'H2O ' })).toEqual(parseAttentionSpec('h2o'));
  });

  it('reads the issue\'s examples in the CLI form and the API form alike', () => {
    expect(parseAttentionSpec('streaming:sinks=4,window=1020')).toEqual({ policy: 'streaming', sinks: 4, window: 1020, budget: 1024 });
    const h2o = parseAttentionSpec('h2o:heavy=64,recent=64,sinks=4');
    expect(h2o).toEqual({ policy: 'h2o', sinks: 4, heavy: 64, recent: 64, budget: 132 });
    expect(parseAttentionSpec({ policy: 'h2o', heavy: 64, recent: 64, sinks: 4 })).toEqual(h2o);
    expect(parseAttentionSpec({ policy: 'h2o', heavy: '64', recent: 64, sinks: null })).toEqual(h2o);
    const a2sf = parseAttentionSpec(' a2sf : select=64, recent=64 ,sinks=4,forgetting=0.99');
    expect(a2sf).toEqual({ policy: 'a2sf', sinks: 4, select: 64, recent: 64, forgetting: 0.99, budget: 132 });
    expect(parseAttentionSpec({ policy: 'a2sf', select: 64, recent: 64, sinks: 4, forgetting: 0.99 })).toEqual(a2sf);
  });

  it('reads a slash-separated list as per-layer values, and an array from the API the same way', () => {
    expect(parseAttentionSpec('a2sf:forgetting=0.9/0.95/0.99')).toMatchObject({ forgetting: [0.9, 0.95, 0.99] });
    expect(parseAttentionSpec({ policy: 'a2sf', forgetting: [0.9, 0.95, 0.99] })).toMatchObject({ forgetting: [0.9, 0.95, 0.99] });
    expect(parseAttentionSpec({ policy: 'a2sf', forgetting: '0.9/1' })).toMatchObject({ forgetting: [0.9, 1] });
    expect(parseAttentionSpec('a2sf:forgetting=1')).toMatchObject({ forgetting: 1 });
    // A list only where the table says so.
    expect(errorOf(() => parseAttentionSpec('h2o:heavy=1/2')).message).toContain('attention.heavy');
  });

  it('splits budget=N evenly after the sinks, the recent window taking the odd token', () => {
    expect(parseAttentionSpec('h2o:budget=256')).toEqual({ policy: 'h2o', sinks: 4, heavy: 126, recent: 126, budget: 256 });
    expect(parseAttentionSpec('h2o:budget=257')).toEqual({ policy: 'h2o', sinks: 4, heavy: 126, recent: 127, budget: 257 });
    expect(parseAttentionSpec('a2sf:budget=100,sinks=0')).toMatchObject({ sinks: 0, select: 50, recent: 50, budget: 100 });
    expect(parseAttentionSpec('streaming:budget=256')).toEqual({ policy: 'streaming', sinks: 4, window: 252, budget: 256 });
    expect(parseAttentionSpec({ policy: 'a2sf', budget: 256 })).toMatchObject({ select: 126, recent: 126, budget: 256 });
    // One part given: the other takes the rest; both given: they must agree with the budget.
    expect(parseAttentionSpec('h2o:budget=256,heavy=200')).toMatchObject({ heavy: 200, recent: 52, budget: 256 });
    expect(parseAttentionSpec('h2o:budget=132,heavy=64,recent=64')).toMatchObject({ budget: 132 });
    expect(errorOf(() => parseAttentionSpec('h2o:budget=100,heavy=64,recent=64')).message).toMatch(/100 does not equal/);
    // The recent part must keep at least the newest token.
    expect(parseAttentionSpec('h2o:budget=5')).toMatchObject({ heavy: 0, recent: 1 });
    const small = errorOf(() => parseAttentionSpec('h2o:budget=4'));
    expect(small.message).toMatch(/attention\.budget: 4 is too small.*recent.*at least 1/);
    expect(parseAttentionSpec('h2o:budget=5,sinks=0')).toMatchObject({ heavy: 2, recent: 3 });
    // Dense takes a budget (one budget sent to every policy) and ignores it.
    expect(parseAttentionSpec({ policy: 'dense', budget: 256 })).toEqual({ policy: 'dense' });
    expect(parseAttentionSpec('dense:budget=256')).toEqual({ policy: 'dense' });
  });

  it('names the valid policies when the policy is unknown', () => {
    const e = errorOf(() => parseAttentionSpec('snapkv:budget=256'));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/^attention\.policy: unknown policy "snapkv"; valid policies: dense, streaming, h2o, a2sf, /);
    expect(errorOf(() => parseAttentionSpec({ policy: 'infllm' })).message).toContain('valid policies: dense, streaming, h2o, a2sf');
    expect(errorOf(() => parseAttentionSpec('')).message).toContain('expected name[:key=value');
  });

  it('names the valid keys of the policy when a key is unknown', () => {
    expect(errorOf(() => parseAttentionSpec('h2o:heavy=64,window=3')).message)
      .toBe('attention.window: unknown parameter of h2o; valid keys: sinks, heavy, recent, budget');
    expect(errorOf(() => parseAttentionSpec({ policy: 'streaming', heavy: 3 })).message).toContain('valid keys: sinks, window, budget');
    expect(errorOf(() => parseAttentionSpec('dense:sinks=4')).message).toContain('dense takes no parameters');
    expect(errorOf(() => parseAttentionSpec('h2o:heavy')).message).toContain('"heavy" is not key=value');
    expect(errorOf(() => parseAttentionSpec('h2o:heavy=1,,recent=2')).message).toContain('is not key=value');
    expect(errorOf(() => parseAttentionSpec('h2o:heavy=1,heavy=2')).message).toContain('given twice');
  });

  it('names the bad value and the range', () => {
    expect(errorOf(() => parseAttentionSpec('h2o:heavy=-1')).message).toBe('attention.heavy: must be an integer in [0, 1048576], got "-1"');
    expect(errorOf(() => parseAttentionSpec('h2o:heavy=1.5')).message).toContain('must be an integer');
    expect(errorOf(() => parseAttentionSpec('h2o:heavy=lots')).message).toContain('got "lots"');
    expect(errorOf(() => parseAttentionSpec('h2o:recent=0')).message).toContain('attention.recent: must be an integer in [1, 1048576]');
    expect(errorOf(() => parseAttentionSpec({ policy: 'h2o', heavy: true })).message).toContain('got true');
    expect(errorOf(() => parseAttentionSpec('a2sf:forgetting=0')).message).toContain('attention.forgetting: must be a number in (0, 1]');
    expect(errorOf(() => parseAttentionSpec('a2sf:forgetting=0.9/1.2')).message).toContain('got "0.9/1.2"');
    expect(errorOf(() => parseAttentionSpec({ policy: 'a2sf', forgetting: [] })).message).toContain('attention.forgetting');
    expect(errorOf(() => parseAttentionSpec('a2sf:forgetting=')).message).toContain('attention.forgetting');
    expect(errorOf(() => parseAttentionSpec('streaming:budget=0')).message).toContain('attention.budget: must be an integer in [1, 1048576]');
  });
});

describe('createSpecParser', () => {
  // A table shaped like issue 5's (a multi-word key), to show the two key forms meet in one parser.
  const table: PolicyDefinition[] = [{
    name: 'probe', description: 'test policy', evicts: false, budget: null,
    parameters: [{ name: 'selectLayer', type: 'int', default: 2, min: 0, max: 64, source: 'test', description: 'test' }],
  }];
  const parse = createSpecParser(table);

  it('accepts kebab-case keys on the CLI and camelCase in the API into one camelCase spec', () => {
    expect(parse('probe:select-layer=5')).toEqual({ policy: 'probe', selectLayer: 5 });
    expect(parse({ policy: 'probe', selectLayer: 5 })).toEqual({ policy: 'probe', selectLayer: 5 });
    expect(parse('probe')).toEqual({ policy: 'probe', selectLayer: 2 });
    expect(errorOf(() => parse({ policy: 'probe', selectLayer: 1, 'select-layer': 2 })).message).toContain('given twice');
  });

  it('lists valid keys in the form the caller used', () => {
    expect(errorOf(() => parse('probe:layer=1')).message).toContain('valid keys: select-layer, budget');
    expect(errorOf(() => parse({ policy: 'probe', layer: 1 })).message).toContain('valid keys: selectLayer, budget');
    expect(errorOf(() => parse('probe:select-layer=65')).message).toBe('attention.select-layer: must be an integer in [0, 64], got "65"');
  });
});

describe('policyParameterTable', () => {
  it('lists every parameter of every policy with its default, source, range and CLI key, and each budget', () => {
    const rows = policyParameterTable();
    const keys = rows.map((r) => `${r.policy}.${r.cliName}`);
    expect(keys.slice(0, 13)).toEqual([
      'dense.budget', 'streaming.sinks', 'streaming.window', 'streaming.budget', 'h2o.sinks', 'h2o.heavy', 'h2o.recent', 'h2o.budget',
      'a2sf.sinks', 'a2sf.select', 'a2sf.recent', 'a2sf.forgetting', 'a2sf.budget',
    ]);
    // Selecting policies own `budget` as a plain parameter: one row each.
    expect(keys.filter((k) => k.startsWith('quest.'))).toEqual(['quest.budget', 'quest.dense-layers']);
    expect(keys.filter((k) => k.startsWith('tidal.'))).toEqual(['tidal.budget', 'tidal.select-layer', 'tidal.reselect-layer']);
    expect(keys.filter((k) => k.startsWith('recycled.'))).toEqual(['recycled.budget', 'recycled.stride', 'recycled.dynamic', 'recycled.check-every']);
    for (const r of rows) expect(r.source.length).toBeGreaterThan(5);
    expect(rows.find((r) => r.policy === 'h2o' && r.name === 'budget')?.default).toBe((parseAttentionSpec('h2o') as H2OSpec).budget);
    expect(rows.find((r) => r.policy === 'a2sf' && r.name === 'forgetting')).toMatchObject({ type: 'float-list', default: 0.99, min: 0, minExclusive: true, max: 1 });
  });
});
