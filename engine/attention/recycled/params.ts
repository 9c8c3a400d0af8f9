// Recycled Attention's parameters: names, types, defaults with their sources, ranges (what the spec parser validates
// against and the chat page shows), and what `budget` stands for.
import { MAX_POLICY_TOKENS, type PolicyDefinition } from '../params.ts';

export const RECYCLED_DEFINITION: PolicyDefinition = {
  name: 'recycled',
  description: 'Recycled Attention: full steps attend densely and record the top tokens by attention mass; the steps between read those plus the tokens generated since.',
  evicts: false,
  parameters: [
    {
      name: 'budget', type: 'int', default: 256, min: 1, max: MAX_POLICY_TOKENS,
      source: 'Sieve: Recycled Attention (Xu et al., 2024) uses K = 2048..4096; 256 is issue 5\'s comparison budget',
      description: 'K: tokens recorded per KV head at a full step (the tokens generated since are read besides)',
    },
    {
      name: 'stride', type: 'int', default: 16, min: 1, max: MAX_POLICY_TOKENS,
      source: 'Sieve: Recycled Attention (Xu et al., 2024) uses S = 10 (language modelling) and 50 (RULER); 16 is issue 5\'s example',
      description: 'a full step every `stride` decode steps (ignored when `dynamic` is set)',
    },
    {
      name: 'dynamic', type: 'float', default: 0, min: 0, max: 1,
      source: 'Recycled Attention (Xu et al., 2024): dynamic schedule with threshold s = 0.8; 0 = off (fixed stride)',
      description: 'cosine threshold: a full step when the query\'s cosine with the last full step\'s query falls below it (0: fixed stride)',
    },
    {
      name: 'checkEvery', type: 'int', default: 5, min: 1, max: MAX_POLICY_TOKENS,
      source: 'Recycled Attention (Xu et al., 2024): the query similarity is checked every few steps; 5 is issue 5\'s example',
      description: 'with `dynamic`, decode steps between similarity checks',
    },
  ],
  budget: null,
};
