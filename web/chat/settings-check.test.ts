// checkSettings: the values the engine would refuse are caught on the page, named by the field's label.
import { describe, expect, it } from 'vitest';
import { checkSettings } from './settings-check.ts';

const OK = { maxTokens: '256', temperature: '0.7', budget: '256', policy: 'h2o' };

describe('checkSettings', () => {
  it('passes good values and empty fields (the engine\'s defaults)', () => {
    expect(checkSettings(OK)).toBeNull();
    expect(checkSettings({ ...OK, maxTokens: '', temperature: '' })).toBeNull();
    expect(checkSettings({ ...OK, policy: 'dense', budget: '' })).toBeNull();
  });

  it('names the field a person sees, with what it must be', () => {
    expect(checkSettings({ ...OK, maxTokens: '0' })).toMatchObject({ field: 'maxTokens', message: 'Max tokens must be a whole number of at least 1; it is "0".' });
    expect(checkSettings({ ...OK, maxTokens: '2.5' })?.field).toBe('maxTokens');
    expect(checkSettings({ ...OK, temperature: '-1' })).toMatchObject({ field: 'temperature', message: expect.stringContaining('from 0 to 2') });
    expect(checkSettings({ ...OK, budget: '8' })).toMatchObject({ field: 'budget', message: expect.stringContaining('at least 16 for h2o') });
    expect(checkSettings({ ...OK, budget: '' })?.field).toBe('budget');
    expect(checkSettings({ ...OK, maxTokens: '0' })?.remedy).toMatch(/Change Max tokens in Model and settings/);
  });
});
