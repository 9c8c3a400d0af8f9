// Quest's parameters: names, types, defaults with their sources, ranges (what the spec parser validates
// against and the chat page shows), and what `budget` stands for.
import { MAX_POLICY_TOKENS, type PolicyDefinition } from '../params.ts';

export const QUEST_DEFINITION: PolicyDefinition = {
  name: 'quest',
  description: 'Quest: per page, the min and max of its keys bound q.k; reads the top pages up to the budget (whole pages), keeps every token.',
  evicts: false,
  parameters: [
    {
      name: 'budget', type: 'int', default: 512, min: 1, max: MAX_POLICY_TOKENS,
      source: 'Quest (Tang et al., 2024): budgets of 512 to 4096 tokens; 512 is the smallest it reports near-dense accuracy with',
      description: 'tokens read per decode step, rounded up to whole pages (the page holding the new token is always read besides)',
    },
    {
      name: 'denseLayers', type: 'int', default: 2, min: 0, max: 1024,
      source: 'Quest (Tang et al., 2024): layers 0 and 1 attend densely (their attention is not sparse enough to bound)',
      description: 'the first layers, attended densely',
    },
  ],
  budget: null,
};
