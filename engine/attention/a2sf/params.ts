// A2SF's parameters: names, types, defaults with their sources, ranges (what the spec parser validates
// against and the chat page shows), and what `budget` stands for.
import { sinks, recent, MAX_POLICY_TOKENS, type PolicyDefinition } from '../params.ts';

export const A2SF_DEFINITION: PolicyDefinition = {
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
};
