// The script tag's data- attributes as the widget reads them.
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_TOKENS, readWidgetOptions } from './widget-options.ts';

describe('readWidgetOptions', () => {
  it('mounts no widget without data-model', () => {
    expect(readWidgetOptions({})).toBeNull();
    expect(readWidgetOptions({ model: '  ', attention: 'dense' })).toBeNull();
  });

  it('reads every attribute, with defaults for the optional ones', () => {
    expect(readWidgetOptions({ model: 'HuggingFaceTB/SmolLM2-135M-Instruct' })).toEqual({
      model: 'HuggingFaceTB/SmolLM2-135M-Instruct', attention: undefined, maxTokens: DEFAULT_MAX_TOKENS,
      temperature: undefined, system: undefined, title: 'Sieve', target: undefined,
    });
    expect(readWidgetOptions({
      model: '/m/', attention: 'h2o:heavy=64,recent=64', maxTokens: '40', temperature: '0', system: 'Be brief.', title: 'Help', target: '#chat',
    })).toEqual({ model: '/m/', attention: 'h2o:heavy=64,recent=64', maxTokens: 40, temperature: 0, system: 'Be brief.', title: 'Help', target: '#chat' });
  });

  it('takes data-remote (an http(s) /v1 URL) and refuses data-api-key outright', () => {
    expect(readWidgetOptions({ model: 'llama3', remote: 'https://proxy.example/v1' })?.remote).toBe('https://proxy.example/v1');
    expect(() => readWidgetOptions({ model: 'llama3', remote: 'proxy.example' })).toThrow(/data-remote/);
    expect(() => readWidgetOptions({ model: 'llama3', remote: 'https://api.example/v1', apiKey: 'sk-1' })).toThrow(/data-api-key is refused/);
    expect(() => readWidgetOptions({ apiKey: 'sk-1' })).toThrow(/proxy/);
  });

  it('names the attribute that is wrong', () => {
    expect(() => readWidgetOptions({ model: '/m/', maxTokens: '2.5' })).toThrow(/data-max-tokens/);
    expect(() => readWidgetOptions({ model: '/m/', temperature: 'hot' })).toThrow(/data-temperature/);
  });
});
