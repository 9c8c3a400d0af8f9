// The `sieve generate` grammar of issue 3: every sampling flag in kebab case, --stop repeated, --logit-bias pairs.
import { describe, expect, it } from 'vitest';
import { specsOf } from '../eval/index.ts';
import { parseCli, parseEvalCli } from './args.ts';

describe('sieve generate arguments', () => {
  it('takes every sampling parameter as the issue writes it', () => {
    const o = parseCli(['generate', '--model', 'm', '--prompt', 'Hi', '--max-tokens', '12', '--temperature', '0.8', '--top-p', '0.9',
      '--top-k', '40', '--min-p', '0.05', '--seed', '42', '--stop', '.', '--stop', '!', '--logit-bias', '13=-100,42=2.5',
      '--ignore-eos', '--chat', '--repetition-penalty', '1.1', '--presence-penalty', '0.5', '--frequency-penalty', '0.25']);
    expect(o.command).toBe('generate');
    if (o.command !== 'generate') return;
    expect(o.request).toMatchObject({
      prompt: 'Hi', maxTokens: 12, temperature: 0.8, topP: 0.9, topK: 40, minP: 0.05, seed: 42, stop: ['.', '!'],
      logitBias: { 13: -100, 42: 2.5 }, ignoreEos: true, chat: true, repetitionPenalty: 1.1, presencePenalty: 0.5, frequencyPenalty: 0.25,
    });
  });

  it('rejects malformed values naming the flag', () => {
    expect(() => parseCli(['generate', '--model', 'm', '--ids', '1', '--logit-bias', '13:5'])).toThrow(/--logit-bias/);
    expect(() => parseCli(['generate', '--model', 'm', '--ids', '1', '--top-p', 'x'])).toThrow(/--top-p/);
    expect(() => parseCli(['generate', '--model', 'm', '--ids', '1,a'])).toThrow(/--ids/);
  });
});

describe('--quantization', () => {
  it('defaults to f32 and takes int8 / int4 for both commands', () => {
    expect(parseCli(['generate', '--model', 'm', '--ids', '1']).quantization).toBeUndefined();
    expect(parseCli(['generate', '--model', 'm', '--ids', '1', '--quantization', 'f16']).quantization).toBe('f16');
    expect(parseCli(['generate', '--model', 'm', '--ids', '1', '--quantization', 'int4']).quantization).toBe('int4');
    expect(parseCli(['logits', '--model', 'm', '--ids', '1', '--out', 'o', '--quantization', 'int8']).quantization).toBe('int8');
  });

  it('rejects other values, and quantization on the f32-only reference backend, naming the flag', () => {
    expect(() => parseCli(['generate', '--model', 'm', '--ids', '1', '--quantization', 'q4_0'])).toThrow(/--quantization: must be one of f32, f16, int8, int4/);
    expect(() => parseCli(['generate', '--model', 'm', '--ids', '1', '--quantization', 'int4', '--backend', 'reference'])).toThrow(/--quantization: the reference backend/);
  });
});

describe('sieve eval arguments', () => {
  it('takes lists of policies, budgets, contexts and tasks', () => {
    const o = parseEvalCli(['--model', 'm', '--backend', 'reference', '--policy', 'dense,quest', '--budget', '64,128', '--context', '1024,2048', '--task', 'passkey,kv', '--n', '5', '--seed', '3', '--out', 'x.json']);
    expect(o).toEqual({ command: 'eval', model: 'm', backend: 'reference', policies: ['dense', 'quest'], budgets: [64, 128], contexts: [1024, 2048], tasks: ['passkey', 'kv'], n: 5, seed: 3, out: 'x.json' });
    expect(parseEvalCli(['--model', 'm'])).toMatchObject({ backend: 'dawn', policies: undefined, budgets: [128], contexts: [1024], tasks: ['passkey'], n: 10, seed: 0 });
  });

  it('takes a policy with parameters, the budget joining them', () => {
    expect(parseEvalCli(['--model', 'm', '--policy', 'dense,tidal:select-layer=5,reselect-layer=6,quest']).policies).toEqual(['dense', 'tidal:select-layer=5,reselect-layer=6', 'quest']);
    expect(specsOf({ policies: ['dense', 'tidal:select-layer=5', 'quest'], budgets: [64] }).map((s) => s.spec)).toEqual(['dense', 'tidal:select-layer=5,budget=64', 'quest:budget=64']);
  });

  it('rejects a bad backend, task or number naming the flag', () => {
    expect(() => parseEvalCli(['--model', 'm', '--backend', 'cuda'])).toThrow(/--backend: must be one of reference, dawn, webgpu/);
    expect(() => parseEvalCli(['--model', 'm', '--task', 'ruler'])).toThrow(/--task: unknown task "ruler"/);
    expect(() => parseEvalCli(['--model', 'm', '--budget', '64,x'])).toThrow(/--budget/);
    expect(() => parseEvalCli(['--model', 'm', '--context', '100'])).toThrow(/--context/);
    expect(() => parseEvalCli([])).toThrow(/--model/);
  });

  it('takes a shard of the items and a time limit', () => {
    expect(parseEvalCli(['--model', 'm', '--shard', '3/12', '--stop-after', '200'])).toMatchObject({ shard: { index: 3, count: 12 }, stopAfterS: 200 });
    expect(parseEvalCli(['--model', 'm'])).not.toHaveProperty('shard');
    expect(() => parseEvalCli(['--model', 'm', '--shard', '12/12'])).toThrow(/--shard: must be i\/k with 0 <= i < k/);
    expect(() => parseEvalCli(['--model', 'm', '--shard', '2'])).toThrow(/--shard/);
    expect(() => parseEvalCli(['--model', 'm', '--stop-after', '0'])).toThrow(/--stop-after: must be a positive number/);
  });
});
