// H2O's parameters: names, types, defaults with their sources, ranges (what the spec parser validates
// against and the chat page shows), and what `budget` stands for.
import { sinks, recent, MAX_POLICY_TOKENS, type PolicyDefinition } from '../params.ts';

export const H2O_DEFINITION: PolicyDefinition = {
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
};
