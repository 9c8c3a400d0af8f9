// The reply settings as the page's fields hold them, checked before a message is sent: a wrong value is named by its
// field's label, not by the API parameter the engine would name, and the message is not sent with it.

export interface ReplySettings {
  /** The fields' text, as typed (empty: the engine's default). */
  maxTokens: string;
  temperature: string;
  budget: string;
  /** The attention policy chosen; 'dense' takes no budget. */
  policy: string;
}

export type SettingsField = 'maxTokens' | 'temperature' | 'budget';

export interface SettingsProblem {
  field: SettingsField;
  message: string;
  remedy: string;
}

/** The smallest budget an evicting policy can keep: one page of the KV cache (engine/kv's page size). */
export const MIN_BUDGET_TOKENS = 16;
/** The temperatures the field offers (OpenAI's range). */
export const MAX_TEMPERATURE = 2;

const LABELS: Record<SettingsField, string> = { maxTokens: 'Max tokens', temperature: 'Temperature', budget: 'Budget (tokens)' };

function problem(field: SettingsField, need: string, text: string): SettingsProblem {
  return {
    field,
    message: `${LABELS[field]} must be ${need}; it is "${text}".`,
    remedy: `Change ${LABELS[field]} in Model and settings${field === 'maxTokens' ? ', or empty it for the model\'s default' : ''}, then send again.`,
  };
}

/** The first field whose value the engine would refuse, or null. */
export function checkSettings(s: ReplySettings): SettingsProblem | null {
  const maxTokens = s.maxTokens.trim();
  if (maxTokens !== '' && !(Number.isInteger(Number(maxTokens)) && Number(maxTokens) >= 1)) return problem('maxTokens', 'a whole number of at least 1', maxTokens);
  const temperature = s.temperature.trim();
  const t = Number(temperature);
  if (temperature !== '' && !(Number.isFinite(t) && t >= 0 && t <= MAX_TEMPERATURE)) return problem('temperature', `a number from 0 to ${MAX_TEMPERATURE}`, temperature);
  const budget = s.budget.trim();
  if (s.policy !== 'dense' && !(Number.isInteger(Number(budget)) && Number(budget) >= MIN_BUDGET_TOKENS && budget !== '')) {
    return problem('budget', `a whole number of at least ${MIN_BUDGET_TOKENS} for ${s.policy}`, budget);
  }
  return null;
}
