// Double Sparsity's parameters: names, types, defaults with their sources, ranges (what the spec parser validates
// against and the chat page shows), and what `budget` stands for.
import { MAX_HEAD_DIM } from '../constants.ts';
import { MAX_POLICY_TOKENS, type PolicyDefinition } from '../params.ts';

export const DOUBLE_SPARSITY_DEFINITION: PolicyDefinition = {
  name: 'double-sparsity',
  description: 'Double Sparsity: a label cache of each key\'s calibrated outlier channels scores every token cheaply; reads the top tokens up to the budget. Needs a calibration (sieve calibrate).',
  evicts: false,
  parameters: [
    {
      name: 'budget', type: 'int', default: 256, min: 1, max: MAX_POLICY_TOKENS,
      source: 'Sieve: Double Sparsity (Yang et al., 2024) reads 1/16 of the tokens at budgets of 128 to 4096; 256 is issue 5\'s comparison budget',
      description: 'tokens read per decode step (the new token included) at the layers after the dense ones',
    },
    {
      name: 'channels', type: 'int', default: 0, min: 0, max: MAX_HEAD_DIM,
      source: 'Sieve: 0 = the model\'s head dim / 8 (16 of 128, issue 5\'s example; Double Sparsity keeps r = d/8 .. d/2 channels); more than the head dim is an error',
      description: 'key channels per token in the label cache, the calibrated top ones (0: head dim / 8)',
    },
    {
      name: 'denseLayers', type: 'int', default: 2, min: 0, max: 1024,
      source: 'Double Sparsity (Yang et al., 2024): layers 0 and 1 attend densely',
      description: 'the first layers, attended densely',
    },
  ],
  budget: null,
};
